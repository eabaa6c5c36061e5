import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Streams an XML file through Foundation's SAX parser (memory does not grow with the
/// file), turning parse failures into `EvidenceError`s with line and column.
final class XMLReport: NSObject, XMLParserDelegate {
    let path: String
    /// Called for every start tag: element name and attributes. Return false to stop early.
    let onStart: (String, [String: String]) throws -> Bool
    var failure: EvidenceError?
    var stoppedEarly = false
    var sawRoot = false
    /// Open elements, innermost last (a truncated file ends with some still open).
    var open: [String] = []

    init(path: String, onStart: @escaping (String, [String: String]) throws -> Bool) {
        self.path = path
        self.onStart = onStart
    }

    func run() throws(EvidenceError) {
        guard FileManager.default.isReadableFile(atPath: path), let stream = InputStream(fileAtPath: path) else {
            throw EvidenceError(file: path, "no such readable file")
        }
        let parser = XMLParser(stream: stream)
        parser.shouldResolveExternalEntities = false
        parser.delegate = self
        let ok = parser.parse()
        if let failure { throw failure }
        if !ok, !stoppedEarly {
            let reason = parser.parserError.map { ($0 as NSError).localizedDescription } ?? "not well-formed XML"
            throw EvidenceError(file: path, line: parser.lineNumber, column: parser.columnNumber, "not well-formed XML (\(reason))")
        }
        if !sawRoot { throw EvidenceError(file: path, "the file holds no XML element") }
        if !stoppedEarly, let innermost = open.last {
            throw EvidenceError(file: path, line: parser.lineNumber, column: parser.columnNumber,
                                "the file ends inside <\(innermost)> (\(open.count) element\(open.count == 1 ? "" : "s") not closed: truncated?)")
        }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        _ = open.popLast()
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        sawRoot = true
        open.append(name)
        do {
            if try !onStart(name, attributes) {
                stoppedEarly = true
                parser.abortParsing()
            }
        } catch let e as EvidenceError {
            failure = EvidenceError(file: e.file, line: e.line ?? parser.lineNumber, column: e.column ?? parser.columnNumber, e.message)
            parser.abortParsing()
        } catch {
            failure = EvidenceError(file: path, line: parser.lineNumber, column: parser.columnNumber, "\(error)")
            parser.abortParsing()
        }
    }
}
