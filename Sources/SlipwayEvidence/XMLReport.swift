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
        // Foundation's XMLParser crashes on a name that is not UTF-8 and on a processing
        // instruction without data (both found by fuzzing): such files are refused first.
        try Self.precheck(path: path)
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

    /// Refuses a file that is not UTF-8 or that holds a processing instruction without
    /// data (`<?name?>`), naming the offset; read in 1 MiB chunks.
    static func precheck(path: String) throws(EvidenceError) {
        var instructions = InstructionScan()
        if let offset = try firstInvalidUTF8(path: path, inspecting: { instructions.feed($0) }) {
            throw EvidenceError(file: path, "not UTF-8 text (the bytes at offset \(offset) are not UTF-8); Slipway reads reports written in UTF-8")
        }
        if let offset = instructions.emptyInstruction {
            throw EvidenceError(file: path, "a processing instruction without data at offset \(offset) (<?name?>): Slipway's XML reader cannot take one; remove it")
        }
    }

    /// Finds `<?name?>`: a processing instruction whose target is followed directly by `?>`.
    /// (Inside a comment or CDATA it is not one, but such text is refused as well: rare
    /// enough in reports not to be worth a full XML lexer.)
    struct InstructionScan {
        enum State { case text, lessThan, target, question }
        var state = State.text
        var offset = 0
        var start = 0
        var emptyInstruction: Int?

        mutating func feed(_ bytes: ArraySlice<UInt8>) {
            guard emptyInstruction == nil else { return }
            for byte in bytes {
                switch (state, byte) {
                case (.text, UInt8(ascii: "<")), (.lessThan, UInt8(ascii: "<")):
                    state = .lessThan
                    start = offset
                case (.lessThan, UInt8(ascii: "?")):
                    state = .target
                case (.target, UInt8(ascii: "?")):
                    state = .question
                case (.target, 0x20), (.target, 0x09), (.target, 0x0A), (.target, 0x0D), (.question, 0x20), (.question, 0x09), (.question, 0x0A), (.question, 0x0D):
                    state = .text
                case (.question, UInt8(ascii: ">")):
                    emptyInstruction = start
                    return
                case (.question, UInt8(ascii: "?")):
                    state = .question
                case (.target, _), (.question, _):
                    state = .target
                default:
                    state = .text
                }
                offset += 1
            }
        }
    }

    /// The offset of the first byte that is not part of valid UTF-8 in the file, or nil;
    /// read in 1 MiB chunks (a sequence cut by a chunk's end is completed by the next).
    /// `inspecting` sees every byte once, in order.
    static func firstInvalidUTF8(path: String, inspecting: (ArraySlice<UInt8>) -> Void = { _ in }) throws(EvidenceError) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EvidenceError(file: path, "no such readable file") }
        defer { try? handle.close() }
        var pending: [UInt8] = []
        var offset = 0
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw EvidenceError(file: path, "cannot read: \(error)")
            }
            let atEnd = chunk.isEmpty
            pending.append(contentsOf: chunk)
            // Keep back a sequence the chunk's end may have cut, unless the file ended.
            var complete = pending.count
            if !atEnd {
                var back = 0
                while back < 3, back < pending.count, pending[pending.count - 1 - back] & 0xC0 == 0x80 { back += 1 }
                if back < pending.count, pending[pending.count - 1 - back] >= 0xC0 { complete = pending.count - 1 - back }
            }
            var parser = Unicode.UTF8.ForwardParser()
            var bytes = pending[..<complete].makeIterator()
            var position = 0
            scan: while true {
                switch parser.parseScalar(from: &bytes) {
                case .valid(let scalar): position += scalar.count
                case .emptyInput: break scan
                case .error: return offset + position
                }
            }
            inspecting(pending[..<complete])
            if atEnd { return nil }
            offset += complete
            pending.removeFirst(complete)
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
