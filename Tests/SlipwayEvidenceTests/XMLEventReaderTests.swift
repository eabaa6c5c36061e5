import Foundation
@testable import SlipwayEvidence
import SlipwayTesting
import Testing

/// Slipway's XML reader against expat (Python's `xml.parsers.expat`, the parser behind
/// most of the XML tooling in the Python world) as the oracle: the same elements,
/// attributes and values for well-formed documents, and a refusal for malformed ones.
@Suite struct XMLEventReaderTests {
    /// Start and end tags as one comparable string each: `+name a=v b=w` / `-name`.
    static func events(_ path: String) throws(EvidenceError) -> [String] {
        let reader = try XMLEventReader(path: path)
        var out: [String] = []
        while let event = try reader.next() {
            switch event {
            case .start(let name, let attributes):
                out.append((["+" + name] + attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " "))
            case .end(let name):
                out.append("-" + name)
            }
        }
        return out
    }

    /// What expat makes of each file: its events as above, or nil when it refuses the file.
    static func expat(_ paths: [String]) async throws -> [[String]?] {
        let script = """
            import json, sys, xml.parsers.expat
            results = []
            for path in sys.argv[1:]:
                events = []
                p = xml.parsers.expat.ParserCreate()
                p.StartElementHandler = lambda n, a: events.append(" ".join(["+" + n] + [k + "=" + v for k, v in sorted(a.items())]))
                p.EndElementHandler = lambda n: events.append("-" + n)
                try:
                    with open(path, "rb") as f:
                        p.Parse(f.read(), True)
                    results.append(events)
                except xml.parsers.expat.ExpatError:
                    results.append(None)
            print(json.dumps(results))
            """
        let run = try await runCommand("/usr/bin/env", ["python3", "-c", script] + paths, timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stderr)")
        return try JSONDecoder().decode([[String]?].self, from: Data(run.stdout.utf8))
    }

    static let wellFormed: [String] = [
        "<testsuite/>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"a\"><testcase name=\"t\"/></testsuite></testsuites>\n",
        "\u{FEFF}<?xml version='1.0' encoding='utf-8' standalone='yes'?><a b='1' c=\"2\"/>",
        "<!DOCTYPE testsuites SYSTEM \"http://example.invalid/junit.dtd\">\n<testsuites/>",
        "<!DOCTYPE x PUBLIC \"-//A//B\" 'x[not a subset]>.dtd'><x/>",
        "<!-- a comment with <tags> & ampersands --><?style type=\"x\"?>\n<a><!----><?pi?><?pi with data?></a>\n<!-- after -->\n<?end?>  \n",
        "<a><![CDATA[ <not> &a; ]] ]> tag ]]><b/></a>",
        "<a x=\"&lt;&gt;&amp;&quot;&apos;\" y=\"&#65;&#x42;&#x1F600;&#233;\">text &amp; &#10; more</a>",
        "<a x=\"one\ttwo\nthree\r\nfour\rfive\" y='&#9;&#10;'/>",
        "<ns:suite xmlns:ns=\"urn:x\" ns:id=\"7\"><ns:case/></ns:suite>",
        "<a\n  b = \"1\"\n  c\t=\t'2'\n></a  >",
        "<é attr-é=\"ü\"><_x.y-z/></é>",
        "<a>\(String(repeating: "<b>", count: 200))\(String(repeating: "</b>", count: 200))</a>",
        "<a x=\"'\" y='\"'>></a>",
    ]

    static let malformed: [String] = [
        "",
        "   \n",
        "<a>",
        "<a></b>",
        "<a><b></a></b>",
        "</a>",
        "<a/><b/>",
        "text<a/>",
        "<a/>text",
        "<a x=1/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a x=\"1\"y=\"2\"/>",
        "<a x=\"<\"/>",
        "<a x/>",
        "<a>&nope;</a>",
        "<a>&amp</a>",
        "<a>&#0;</a>",
        "<a>&#xD800;</a>",
        "<a>&#x110000;</a>",
        "<a>&#;</a>",
        "<a>&#12a;</a>",
        "<a><!-- never closed</a>",
        "<a><![CDATA[ never closed </a>",
        "<![CDATA[x]]><a/>",
        "<a/><?xml version=\"1.0\"?>",
        " <?xml version=\"1.0\"?><a/>",
        "<a><!DOCTYPE a></a>",
        "<!DOCTYPE a><!DOCTYPE a><a/>",
        "<a><!ELEMENT a></a>",
        "<1a/>",
        "< a/>",
        "<a></ a>",
        "<a/ >",
        "<?xml version=\"1.0\"",
        "<a x=\"1",
        "<a b='1'",
        "<?pi",
        "<!DOCTYPE a",
        "<",
    ]

    @Test func agreesWithExpatOnWellFormedAndMalformedDocuments() async throws {
        let dir = try TemporaryDirectory(prefix: "slipway-xml")
        defer { dir.remove() }
        let documents = Self.wellFormed + Self.malformed
        let paths = try documents.enumerated().map { try dir.write("\($0.offset).xml", $0.element) }
        let oracle = try await Self.expat(paths)
        try #require(oracle.count == documents.count)
        for (i, path) in paths.enumerated() {
            let ours: [String]?
            do { ours = try Self.events(path) } catch { ours = nil }
            #expect(ours == oracle[i], "document \(i): \(documents[i].debugDescription)")
            // The lists say which side each document is on; expat confirms it.
            #expect((oracle[i] != nil) == (i < Self.wellFormed.count), "expat's verdict on document \(i): \(documents[i].debugDescription)")
        }
    }

    static func error(in text: String, _ dir: TemporaryDirectory) throws -> EvidenceError? {
        let path = try dir.write("doc.xml", text)
        do {
            _ = try events(path)
            return nil
        } catch {
            return error
        }
    }

    @Test func faultsAreNamedWithLineAndColumn() throws {
        let dir = try TemporaryDirectory(prefix: "slipway-xml")
        defer { dir.remove() }
        let file = dir.file("doc.xml")
        func expectError(_ text: String, line: Int?, column: Int?, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let error = try Self.error(in: text, dir)
            #expect(error == EvidenceError(file: file, line: line, column: column, message), sourceLocation: sourceLocation)
        }
        try expectError("<a>\n  <b>\n  </c>\n</a>", line: 3, column: 7, "not well-formed XML: the end tag </c> where <b> must be closed first")
        try expectError("<a>\n x &ent; y</a>", line: 2, column: 9, "not well-formed XML: &ent; is not defined (a report may use &amp; &lt; &gt; &quot; &apos; and character references; Slipway does not read entity declarations)")
        try expectError("<a x=\"1\"\n   x='2'/>", line: 2, column: 9, "not well-formed XML: the attribute x appears twice in the start tag <a>")
        try expectError("<a><!-- cut", line: 1, column: 12, "the file ends inside a comment (truncated?)")
        try expectError("<a>\n<b>\n<c/>", line: 3, column: 5, "the file ends inside <b> (2 elements not closed: truncated?)")
        try expectError("<a/>\n<b/>", line: 2, column: 2, "not well-formed XML: a second root element (a report has one root element, which has ended)")
        try expectError("<a>&#0;</a>", line: 1, column: 8, "not well-formed XML: a character reference to U+0, which XML does not allow")
        try expectError("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<a/>", line: 1, column: 1,
                        "the file declares encoding=\"ISO-8859-1\"; Slipway reads reports written in UTF-8 (convert it, e.g. iconv -t UTF-8, and change the declaration)")
        try expectError("<a>", line: 1, column: 4, "the file ends inside <a> (1 element not closed: truncated?)")
        try expectError(" ", line: nil, column: nil, "the file holds no XML element")
        // Entities declared in the file are refused, so "billion laughs" cannot expand.
        try expectError("""
            <?xml version="1.0"?>
            <!DOCTYPE lolz [
             <!ENTITY lol "lol">
             <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
            ]>
            <testsuite name="&lol2;"/>
            """, line: 2, column: 16,
            "the DOCTYPE declares an internal subset ([…]): Slipway does not read DTD declarations in reports (entities could make a small file expand without bound); remove it")
        let deep = String(repeating: "<a>", count: XMLEventReader.maxDepth + 1)
        try expectError(deep, line: 1, column: 3 * XMLEventReader.maxDepth + 2, "not well-formed XML: elements nested deeper than \(XMLEventReader.maxDepth)")
        try expectError("<a>\u{1}<b\u{2}/></a>", line: 1, column: 8, "not well-formed XML: expected a space, \">\" or \"/>\" in the start tag <b>, found the byte 0x02")
        try expectError("<a><b\u{7F}/></a>", line: 1, column: 7, "not well-formed XML: expected a space, \">\" or \"/>\" in the start tag <b>, found the byte 0x7f")
    }

    /// Where the reader is more lenient than expat, on purpose: a test's terminal output with
    /// its colour codes (raw ESC bytes, which XML does not allow) is still read.
    @Test func terminalColourCodesInTestOutputAreRead() async throws {
        let dir = try TemporaryDirectory(prefix: "slipway-xml")
        defer { dir.remove() }
        let report = try dir.write("colour.xml", "<testsuite><testcase name=\"a\"><failure/><system-out>\u{1B}[31mred\u{1B}[0m</system-out></testcase><testcase name=\"b\"/></testsuite>")
        #expect(try JUnitReport.parse(file: report) == TestEvidence(tests: 2, failures: 1, errors: 0, skipped: 0))
        #expect(try await Self.expat([report]) == [nil], "expat refuses the control character")
    }

    /// Attribute values and names are bounded; text, comments and CDATA are streamed past,
    /// whatever their size.
    @Test func largeTextIsStreamedAndLongTagsAreBounded() throws {
        let dir = try TemporaryDirectory(prefix: "slipway-xml")
        defer { dir.remove() }
        let output = String(repeating: "line of test output &amp; more\n", count: 40_000)  // 1.2 MB, 19 chunks
        let big = try dir.write("big.xml", "<testsuite><testcase><system-out>\(output)<![CDATA[\(output)]]></system-out><!--\(output)--></testcase></testsuite>")
        #expect(try Self.events(big) == ["+testsuite", "+testcase", "+system-out", "-system-out", "-testcase", "-testsuite"])
        let long = try dir.write("long.xml", "<testsuite name=\"\(String(repeating: "x", count: XMLEventReader.maxTagBytes))\"/>")
        #expect(throws: EvidenceError(file: long, line: 1, column: XMLEventReader.maxTagBytes + 2, "not well-formed XML: the start tag <testsuite> is longer than 16 MiB")) {
            try Self.events(long)
        }
        let longName = try dir.write("name.xml", "<" + String(repeating: "n", count: XMLEventReader.maxNameBytes + 1) + "/>")
        #expect(throws: EvidenceError(file: longName, line: 1, column: XMLEventReader.maxNameBytes + 2, "not well-formed XML: an element name after \"<\" longer than \(XMLEventReader.maxNameBytes) bytes")) {
            try Self.events(longName)
        }
    }
}
