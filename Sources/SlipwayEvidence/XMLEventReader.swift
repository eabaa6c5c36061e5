import Foundation
import SlipwayCore

/// A pull reader for the XML reports Slipway reads (JUnit, Cobertura): hands out start and
/// end tags one at a time while reading the file 64 KiB at a time, so memory does not grow
/// with the file. It checks what a report needs to be trusted — UTF-8 throughout, tags
/// that nest and close, attribute syntax, references, one root element — and reports the
/// first fault with line and column. It never fetches or expands anything: a DOCTYPE's
/// external identifier is skipped and an internal subset (where entities are declared) is
/// refused, so a report cannot make the reader load a URL or grow without bound.
///
/// Not checked, where expat would refuse the file: the characters allowed in names beyond
/// ASCII, `--` inside comments, `]]>` in text, and control characters in text (some test
/// tools write a test's terminal output with its colour codes).
///
/// (Foundation's `XMLParser` was used before: it traps on some malformed names and leaks
/// memory for each error libxml2 reports; the fuzz targets found both.)
final class XMLEventReader {
    enum Event: Equatable {
        /// A start tag (an empty-element tag `<a/>` gives `.start` then `.end`). The name is
        /// as written, with its namespace prefix; attribute values have their references
        /// replaced and white space normalised as XML says.
        case start(String, [String: String])
        case end(String)
    }

    /// libxml2's limit for a name.
    static let maxNameBytes = 50_000
    /// A start tag with its attributes; a report's longest are test names and messages.
    static let maxTagBytes = 16 << 20
    /// libxml2's default depth limit.
    static let maxDepth = 256

    private enum Part { case prolog, content, epilog }

    let path: String
    private let handle: FileHandle
    /// Validated UTF-8; `carry` holds a sequence the last read cut in two.
    private var buffer: [UInt8] = []
    private var carry: [UInt8] = []
    private var index = 0
    private var eof = false
    /// The file offset of `buffer[0]`.
    private var bufferOffset = 0
    private(set) var line = 1
    /// The file offset where the current line starts.
    private var lineStart = 0
    /// Where the last tag returned starts (its `<`): the position callers' errors name.
    private(set) var tagLine = 1
    private(set) var tagColumn = 1
    private var part = Part.prolog
    private var open: [String] = []
    private var pendingEnd: String?
    private var sawDoctype = false
    private var contentStart = 0

    init(path: String) throws(EvidenceError) {
        guard FileManager.default.isReadableFile(atPath: path), let handle = FileHandle(forReadingAtPath: path) else {
            throw EvidenceError(file: path, "no such readable file")
        }
        self.path = path
        self.handle = handle
        // A byte order mark may open a UTF-8 file.
        if try peek() == 0xEF, index + 2 < buffer.count, buffer[index + 1] == 0xBB, buffer[index + 2] == 0xBF {
            index += 3
            lineStart = 3
            contentStart = 3
        }
    }

    deinit { try? handle.close() }

    private var offset: Int { bufferOffset + index }
    var column: Int { offset - lineStart + 1 }

    /// An error at the last tag returned (for the formats' own checks).
    func fail(_ message: String) -> EvidenceError {
        EvidenceError(file: path, line: tagLine, column: tagColumn, message)
    }

    private func malformed(_ message: String) -> EvidenceError {
        EvidenceError(file: path, line: line, column: column, "not well-formed XML: \(message)")
    }

    private func truncated(inside what: String) -> EvidenceError {
        EvidenceError(file: path, line: line, column: column, "the file ends inside \(what) (truncated?)")
    }

    // MARK: Bytes

    /// Reads the next chunk; false at the end of the file.
    private func fill() throws(EvidenceError) -> Bool {
        while index >= buffer.count {
            if eof { return false }
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 16) ?? Data() } catch {
                throw EvidenceError(file: path, "cannot read: \(error)")
            }
            bufferOffset += buffer.count
            var bytes = carry
            bytes.append(contentsOf: chunk)
            carry = []
            if chunk.isEmpty {
                eof = true
            } else {
                // Keep back a sequence the chunk's end may have cut.
                var back = 0
                while back < 3, back < bytes.count, bytes[bytes.count - 1 - back] & 0xC0 == 0x80 { back += 1 }
                if back < bytes.count, bytes[bytes.count - 1 - back] >= 0xC0 {
                    let cut = bytes.count - 1 - back
                    carry = Array(bytes[cut...])
                    bytes.removeSubrange(cut...)
                }
            }
            if let bad = Self.firstInvalidUTF8(bytes) {
                throw EvidenceError(file: path, "not UTF-8 text (the bytes at offset \(bufferOffset + bad) are not UTF-8); Slipway reads reports written in UTF-8")
            }
            buffer = bytes
            index = 0
        }
        return true
    }

    /// The index of the first byte that is not part of valid UTF-8, or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        if bytes.allSatisfy({ $0 < 0x80 }) || String(validating: bytes, as: UTF8.self) != nil { return nil }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var position = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): position += scalar.count
            case .emptyInput: return nil
            case .error: return position
            }
        }
    }

    @inline(__always) private func peek() throws(EvidenceError) -> UInt8? {
        if index < buffer.count { return buffer[index] }
        return try fill() ? buffer[index] : nil
    }

    @inline(__always) private func take() throws(EvidenceError) -> UInt8? {
        guard let byte = try peek() else { return nil }
        index += 1
        if byte == 0x0A {
            line += 1
            lineStart = offset
        }
        return byte
    }

    /// The next byte, which must exist (the end of the file inside `what` is an error).
    private func take(inside what: @autoclosure () -> String) throws(EvidenceError) -> UInt8 {
        guard let byte = try take() else { throw truncated(inside: what()) }
        return byte
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }

    /// Skips white space; true when there was some.
    @discardableResult
    private func skipSpace() throws(EvidenceError) -> Bool {
        var skipped = false
        while let byte = try peek(), Self.isSpace(byte) {
            _ = try take()
            skipped = true
        }
        return skipped
    }

    /// How a byte is shown in an error.
    private static func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the file" }
        if byte >= 0x21, byte < 0x7F { return "\"\(Character(Unicode.Scalar(byte)))\"" }
        if byte == 0x20 { return "a space" }
        if byte == 0x0A || byte == 0x0D { return "a line break" }
        return "the byte 0x" + Hex.string([byte])
    }

    private func expect(_ literal: StaticString, inside what: @autoclosure () -> String) throws(EvidenceError) {
        let bytes = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for expected in bytes {
            let byte = try peek()
            guard byte == expected else {
                if byte == nil { throw truncated(inside: what()) }
                throw malformed("expected \"\(literal)\" in \(what()), found \(Self.describe(byte))")
            }
            _ = try take()
        }
    }

    /// Consumes bytes up to and including `terminator` (at most 4 bytes).
    private func skip(through terminator: StaticString, inside what: @autoclosure () -> String) throws(EvidenceError) {
        let count = terminator.utf8CodeUnitCount
        var wanted: UInt32 = 0
        for i in 0..<count { wanted = wanted << 8 | UInt32(terminator.utf8Start[i]) }
        let mask: UInt32 = count == 4 ? .max : (1 << (8 * UInt32(count))) - 1
        var window: UInt32 = 0
        while true {
            let byte = try take(inside: what())
            window = (window << 8 | UInt32(byte)) & mask
            if window == wanted { return }
        }
    }

    // MARK: Names and references

    private static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F || byte == 0x3A || byte >= 0x80
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E
    }

    private func name(_ what: String) throws(EvidenceError) -> String {
        let first = try peek()
        guard let first, Self.isNameStart(first) else {
            if first == nil { throw truncated(inside: what) }
            throw malformed("expected \(what), found \(Self.describe(first))")
        }
        var bytes: [UInt8] = []
        while let byte = try peek(), Self.isNameByte(byte) {
            guard bytes.count < Self.maxNameBytes else { throw malformed("\(what) longer than \(Self.maxNameBytes) bytes") }
            bytes.append(byte)
            _ = try take()
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads a reference after its `&` and appends what it stands for to `bytes` (when given).
    private func reference(into bytes: inout [UInt8], keep: Bool) throws(EvidenceError) {
        let what = "a reference (&…;)"
        if try peek() == UInt8(ascii: "#") {
            _ = try take()
            var radix: UInt32 = 10
            if try peek() == UInt8(ascii: "x") {
                _ = try take()
                radix = 16
            }
            var value: UInt32 = 0
            var digits = 0
            while true {
                let byte = try take(inside: what)
                if byte == UInt8(ascii: ";") { break }
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw malformed("expected a \(radix == 16 ? "hexadecimal " : "")digit or \";\" in a character reference, found \(Self.describe(byte))")
                }
                value = min(value * radix + digit, 0x110000)
                digits += 1
            }
            guard digits > 0, Self.isXMLCharacter(value), let scalar = Unicode.Scalar(value) else {
                throw malformed("a character reference to \(digits == 0 ? "nothing" : value >= 0x110000 ? "a number beyond Unicode" : "U+\(String(value, radix: 16, uppercase: true))"), which XML does not allow")
            }
            if keep { bytes.append(contentsOf: UTF8.encode(scalar)!) }
            return
        }
        let entity = try name("an entity name after \"&\"")
        guard try take(inside: what) == UInt8(ascii: ";") else {
            throw malformed("the reference &\(entity) does not end with \";\"")
        }
        let replacement: UInt8
        switch entity {
        case "amp": replacement = UInt8(ascii: "&")
        case "lt": replacement = UInt8(ascii: "<")
        case "gt": replacement = UInt8(ascii: ">")
        case "quot": replacement = UInt8(ascii: "\"")
        case "apos": replacement = UInt8(ascii: "'")
        default:
            throw malformed("&\(entity); is not defined (a report may use &amp; &lt; &gt; &quot; &apos; and character references; Slipway does not read entity declarations)")
        }
        if keep { bytes.append(replacement) }
    }

    private static func isXMLCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    // MARK: Events

    /// The next start or end tag; nil after the root element has closed and the rest of the
    /// file has been checked.
    func next() throws(EvidenceError) -> Event? {
        if let name = pendingEnd {
            pendingEnd = nil
            close()
            return .end(name)
        }
        while true {
            guard let byte = try peek() else { return try finish() }
            guard byte == UInt8(ascii: "<") else {
                try text()
                continue
            }
            tagLine = line
            tagColumn = column
            let start = offset
            _ = try take()
            switch try peek() {
            case UInt8(ascii: "/"):
                _ = try take()
                return try endTag()
            case UInt8(ascii: "?"):
                _ = try take()
                try instruction(atStart: start == contentStart)
            case UInt8(ascii: "!"):
                _ = try take()
                try declaration()
            case nil:
                throw truncated(inside: "a tag")
            default:
                return try startTag(at: start)
            }
        }
    }

    private func close() {
        open.removeLast()
        if open.isEmpty { part = .epilog }
    }

    private func finish() throws(EvidenceError) -> Event? {
        switch part {
        case .prolog:
            throw EvidenceError(file: path, "the file holds no XML element")
        case .content:
            let innermost = open.last ?? ""
            throw EvidenceError(file: path, line: line, column: column,
                                "the file ends inside <\(innermost)> (\(open.count) element\(open.count == 1 ? "" : "s") not closed: truncated?)")
        case .epilog:
            return nil
        }
    }

    /// Character data: checked for references; outside the root only white space.
    private func text() throws(EvidenceError) {
        var none: [UInt8] = []
        while let byte = try peek(), byte != UInt8(ascii: "<") {
            if part != .content, !Self.isSpace(byte) {
                throw malformed(part == .prolog ? "text before the root element (found \(Self.describe(byte)))" : "text after the root element ended (found \(Self.describe(byte)))")
            }
            _ = try take()
            if byte == UInt8(ascii: "&") { try reference(into: &none, keep: false) }
        }
    }

    private func startTag(at start: Int) throws(EvidenceError) -> Event {
        if part == .epilog { throw malformed("a second root element (a report has one root element, which has ended)") }
        guard open.count < Self.maxDepth else { throw malformed("elements nested deeper than \(Self.maxDepth)") }
        let name = try name("an element name after \"<\"")
        let what = "the start tag <\(name)>"
        var attributes: [String: String] = [:]
        var selfClosing = false
        while true {
            let spaced = try skipSpace()
            let byte = try take(inside: what)
            if byte == UInt8(ascii: ">") { break }
            if byte == UInt8(ascii: "/") {
                guard try take(inside: what) == UInt8(ascii: ">") else { throw malformed("expected \">\" after \"/\" in \(what)") }
                selfClosing = true
                break
            }
            guard spaced else { throw malformed("expected a space, \">\" or \"/>\" in \(what), found \(Self.describe(byte))") }
            index -= 1  // the byte starts the attribute's name (not a line break: that was space)
            let attribute = try self.name("an attribute name in \(what)")
            try skipSpace()
            let equals = try take(inside: what)
            guard equals == UInt8(ascii: "=") else { throw malformed("expected \"=\" after the attribute \(attribute) in \(what), found \(Self.describe(equals))") }
            try skipSpace()
            let quote = try take(inside: what)
            guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                throw malformed("expected a quoted value for the attribute \(attribute) in \(what), found \(Self.describe(quote))")
            }
            var value: [UInt8] = []
            while true {
                let byte = try take(inside: what)
                if byte == quote { break }
                switch byte {
                case UInt8(ascii: "<"):
                    throw malformed("\"<\" in the value of the attribute \(attribute) in \(what) (write &lt;)")
                case UInt8(ascii: "&"):
                    try reference(into: &value, keep: true)
                case 0x0D:
                    if try peek() == 0x0A { _ = try take() }
                    value.append(0x20)
                case 0x09, 0x0A:
                    value.append(0x20)
                default:
                    value.append(byte)
                }
                if offset - start > Self.maxTagBytes { throw malformed("\(what) is longer than \(Self.maxTagBytes >> 20) MiB") }
            }
            guard attributes.updateValue(String(decoding: value, as: UTF8.self), forKey: attribute) == nil else {
                throw malformed("the attribute \(attribute) appears twice in \(what)")
            }
        }
        part = .content
        open.append(name)
        if selfClosing { pendingEnd = name }
        return .start(name, attributes)
    }

    private func endTag() throws(EvidenceError) -> Event {
        let name = try name("an element name after \"</\"")
        try skipSpace()
        let byte = try take(inside: "the end tag </\(name)>")
        guard byte == UInt8(ascii: ">") else { throw malformed("expected \">\" in the end tag </\(name)>, found \(Self.describe(byte))") }
        guard let innermost = open.last else { throw malformed("the end tag </\(name)> closes no element") }
        guard innermost == name else { throw malformed("the end tag </\(name)> where <\(innermost)> must be closed first") }
        close()
        return .end(name)
    }

    /// A processing instruction after `<?`; the XML declaration's encoding must be UTF-8.
    private func instruction(atStart: Bool) throws(EvidenceError) {
        let target = try name("a processing instruction's name after \"<?\"")
        let what = "the processing instruction <?\(target)"
        let isDeclaration = target.lowercased() == "xml"
        if isDeclaration, !atStart { throw malformed("an XML declaration (<?xml …?>) anywhere but at the very start of the file") }
        if try peek() == UInt8(ascii: "?") {
            try expect("?>", inside: what)
            return
        }
        guard try skipSpace() else {
            let found = try peek()
            throw malformed("expected a space or \"?>\" after \(what), found \(Self.describe(found))")
        }
        guard isDeclaration else { return try skip(through: "?>", inside: what) }
        var data: [UInt8] = []
        while true {
            let byte = try take(inside: what)
            if byte == UInt8(ascii: ">"), data.last == UInt8(ascii: "?") { break }
            guard data.count < 1024 else { throw malformed("an XML declaration longer than 1024 bytes") }
            data.append(byte)
        }
        let declaration = String(decoding: data.dropLast(), as: UTF8.self)
        if let encoding = Self.pseudoAttribute("encoding", in: declaration),
           !["utf-8", "utf8", "us-ascii", "ascii"].contains(encoding.lowercased()) {
            throw EvidenceError(file: path, line: tagLine, column: tagColumn,
                                "the file declares encoding=\"\(encoding)\"; Slipway reads reports written in UTF-8 (convert it, e.g. iconv -t UTF-8, and change the declaration)")
        }
    }

    /// `name="value"` (or with single quotes) in an XML declaration.
    static func pseudoAttribute(_ name: String, in declaration: String) -> String? {
        guard let range = declaration.range(of: name) else { return nil }
        var rest = declaration[range.upperBound...].drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard rest.first == "=" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return nil }
        rest = rest.dropFirst()
        guard let end = rest.firstIndex(of: quote) else { return nil }
        return String(rest[..<end])
    }

    /// After `<!`: a comment, a CDATA section (inside the root) or the DOCTYPE (before it).
    private func declaration() throws(EvidenceError) {
        switch try peek() {
        case UInt8(ascii: "-"):
            try expect("--", inside: "a comment")
            try skip(through: "-->", inside: "a comment")
        case UInt8(ascii: "["):
            guard part == .content else { throw malformed("a CDATA section outside the root element") }
            try expect("[CDATA[", inside: "a CDATA section")
            try skip(through: "]]>", inside: "a CDATA section")
        case UInt8(ascii: "D"):
            try expect("DOCTYPE", inside: "the DOCTYPE")
            guard part == .prolog, !sawDoctype else { throw malformed("a DOCTYPE anywhere but once before the root element") }
            sawDoctype = true
            // Skipped to its ">": an external identifier is never fetched; an internal
            // subset (which declares entities) is refused.
            var quote: UInt8?
            while true {
                let byte = try take(inside: "the DOCTYPE")
                if let open = quote {
                    if byte == open { quote = nil }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if byte == UInt8(ascii: "[") {
                    throw EvidenceError(file: path, line: line, column: column - 1,
                                        "the DOCTYPE declares an internal subset ([…]): Slipway does not read DTD declarations in reports (entities could make a small file expand without bound); remove it")
                } else if byte == UInt8(ascii: ">") {
                    return
                }
            }
        case let found:
            throw malformed("expected a comment (<!--), a CDATA section (<![CDATA[) or a DOCTYPE after \"<!\", found \(Self.describe(found))")
        }
    }
}
