import Foundation
import SlipwayCore

/// A pull parser for JSON files of any size: reads 64 KiB at a time and hands out one
/// token at a time, so a 50 MB SARIF file is summarised without holding it in memory.
/// Small subtrees (one SARIF result, one Trivy vulnerability) can be read whole with
/// `readValue()`; uninteresting ones are skipped with `skipValue()`.
final class JSONEventReader {
    enum Event: Equatable {
        case objectStart, objectEnd, arrayStart, arrayEnd
        case key(String)
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
    }

    indirect enum Value: Equatable {
        case object([String: Value])
        case array([Value])
        case string(String)
        case number(Double)
        case bool(Bool)
        case null

        subscript(key: String) -> Value? {
            if case .object(let o) = self { return o[key] }
            return nil
        }
        var string: String? { if case .string(let s) = self { return s }; return nil }
        var number: Double? {
            switch self {
            case .number(let n): return n
            case .string(let s): return Double(s)
            default: return nil
            }
        }
        var array: [Value]? { if case .array(let a) = self { return a }; return nil }
    }

    private enum Container { case object, array }
    private enum Expect { case value, keyOrEnd, key, colon, commaOrEnd, end }

    let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var index = 0
    private var eof = false
    private(set) var line = 1
    private var stack: [Container] = []
    private var expect: Expect = .value
    private var sawValue = false
    /// While a value is skipped, strings are checked but not kept (no allocation).
    private var discarding = false

    init(path: String) throws(EvidenceError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EvidenceError(file: path, "no such readable file") }
        self.path = path
        self.handle = handle
    }

    deinit { try? handle.close() }

    func fail(_ message: String) -> EvidenceError { EvidenceError(file: path, line: line, message) }

    private func peekByte() throws(EvidenceError) -> UInt8? {
        if index >= buffer.count {
            if eof { return nil }
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 16) ?? Data() } catch { throw fail("cannot read: \(error)") }
            if chunk.isEmpty { eof = true; return nil }
            buffer = [UInt8](chunk)
            index = 0
        }
        return buffer[index]
    }

    private func nextByte() throws(EvidenceError) -> UInt8? {
        guard let b = try peekByte() else { return nil }
        index += 1
        if b == 0x0a { line += 1 }
        return b
    }

    private func skipWhitespace() throws(EvidenceError) {
        while let b = try peekByte(), b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09 { _ = try nextByte() }
    }

    /// The next token, or nil at the end of a complete document.
    func next() throws(EvidenceError) -> Event? {
        while true {
            try skipWhitespace()
            guard let b = try peekByte() else {
                if stack.isEmpty && sawValue { return nil }
                throw fail(sawValue || !stack.isEmpty ? "the file ends inside a JSON \(stack.last == .array ? "array" : "object") (truncated?)" : "the file holds no JSON value")
            }
            switch expect {
            case .end:
                throw fail("unexpected \(Self.describe(b)) after the end of the JSON document")
            case .colon:
                guard b == UInt8(ascii: ":") else { throw fail("expected ':' after an object key, found \(Self.describe(b))") }
                _ = try nextByte()
                expect = .value
                continue
            case .commaOrEnd:
                if b == UInt8(ascii: ",") {
                    _ = try nextByte()
                    expect = stack.last == .object ? .key : .value
                    continue
                }
                return try closeContainer(b)
            case .keyOrEnd, .key:
                if b == UInt8(ascii: "}"), expect == .keyOrEnd { return try closeContainer(b) }
                guard b == UInt8(ascii: "\"") else { throw fail("expected an object key in double quotes, found \(Self.describe(b))") }
                let key = try readString()
                expect = .colon
                return .key(key)
            case .value:
                return try readValueStart(b)
            }
        }
    }

    private func closeContainer(_ b: UInt8) throws(EvidenceError) -> Event {
        let wanted: UInt8 = stack.last == .object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        guard b == wanted else { throw fail("expected ',' or '\(Character(UnicodeScalar(wanted)))', found \(Self.describe(b))") }
        _ = try nextByte()
        let closed = stack.removeLast()
        afterValue()
        return closed == .object ? .objectEnd : .arrayEnd
    }

    private func afterValue() {
        sawValue = true
        expect = stack.isEmpty ? .end : .commaOrEnd
    }

    private func readValueStart(_ b: UInt8) throws(EvidenceError) -> Event {
        switch b {
        case UInt8(ascii: "{"):
            _ = try nextByte(); stack.append(.object); expect = .keyOrEnd
            return .objectStart
        case UInt8(ascii: "["):
            _ = try nextByte(); stack.append(.array)
            try skipWhitespace()
            if try peekByte() == UInt8(ascii: "]") {
                _ = try nextByte(); stack.removeLast(); afterValue()
                // An empty array: hand out both tokens.
                pendingEnd = true
            } else {
                expect = .value
            }
            return .arrayStart
        case UInt8(ascii: "]") where stack.last == .array:
            throw fail("a value is missing before ']' (trailing comma?)")
        case UInt8(ascii: "\""):
            let s = try readString(); afterValue(); return .string(s)
        case UInt8(ascii: "t"): try literal("true"); afterValue(); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); afterValue(); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); afterValue(); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            var text = ""
            while let c = try peekByte(), c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || (c >= 0x30 && c <= 0x39) {
                text.append(Character(UnicodeScalar(c))); _ = try nextByte()
            }
            guard let n = Double(text) else { throw fail("\"\(text)\" is not a JSON number") }
            afterValue()
            return .number(n)
        default:
            throw fail("expected a JSON value, found \(Self.describe(b))")
        }
    }

    private var pendingEnd = false

    /// `next()` that also delivers the `arrayEnd` of an empty array.
    func token() throws(EvidenceError) -> Event? {
        if pendingEnd { pendingEnd = false; return .arrayEnd }
        return try next()
    }

    private func literal(_ word: String) throws(EvidenceError) {
        for expected in word.utf8 {
            guard let b = try nextByte(), b == expected else { throw fail("expected \(word)") }
        }
    }

    private func readString() throws(EvidenceError) -> String {
        _ = try nextByte() // opening quote
        var bytes: [UInt8] = []
        while true {
            guard let b = try nextByte() else { throw fail("the file ends inside a string (truncated?)") }
            switch b {
            case UInt8(ascii: "\""):
                return discarding ? "" : String(decoding: bytes, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = try nextByte() else { throw fail("the file ends inside a string (truncated?)") }
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(e)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0c)
                case UInt8(ascii: "n"): bytes.append(0x0a)
                case UInt8(ascii: "r"): bytes.append(0x0d)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard try nextByte() == UInt8(ascii: "\\"), try nextByte() == UInt8(ascii: "u") else { throw fail("a lone UTF-16 surrogate in a string") }
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("a lone UTF-16 surrogate in a string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = UnicodeScalar(scalar) else { throw fail("\\u escape \(String(scalar, radix: 16)) is not a character") }
                    bytes.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw fail("unknown escape \\\(Character(UnicodeScalar(e))) in a string")
                }
            case 0x00..<0x20:
                throw fail("a control character inside a string (unescaped newline?)")
            default:
                if !discarding { bytes.append(b) }
            }
        }
    }

    private func hex4() throws(EvidenceError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let b = try nextByte(), let d = UInt32(String(UnicodeScalar(b)), radix: 16) else { throw fail("a \\u escape needs 4 hex digits") }
            v = v * 16 + d
        }
        return v
    }

    /// Reads the value that starts with `first` (already taken) whole.
    func readValue(startingWith first: Event) throws(EvidenceError) -> Value {
        switch first {
        case .objectStart:
            var object: [String: Value] = [:]
            while let t = try token() {
                if t == .objectEnd { return .object(object) }
                guard case .key(let k) = t, let v = try token() else { throw fail("expected an object key") }
                object[k] = try readValue(startingWith: v)
            }
            throw fail("the file ends inside a JSON object (truncated?)")
        case .arrayStart:
            var array: [Value] = []
            while let t = try token() {
                if t == .arrayEnd { return .array(array) }
                array.append(try readValue(startingWith: t))
            }
            throw fail("the file ends inside a JSON array (truncated?)")
        case .string(let s): return .string(s)
        case .number(let n): return .number(n)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .key, .objectEnd, .arrayEnd: throw fail("expected a JSON value")
        }
    }

    /// Skips the value that starts with `first` (already taken).
    func skipValue(startingWith first: Event) throws(EvidenceError) {
        guard first == .objectStart || first == .arrayStart else { return }
        let outer = discarding
        discarding = true
        defer { discarding = outer }
        var depth = 1
        while depth > 0 {
            guard let t = try token() else { throw fail("the file ends inside a JSON value (truncated?)") }
            switch t {
            case .objectStart, .arrayStart: depth += 1
            case .objectEnd, .arrayEnd: depth -= 1
            default: break
            }
        }
    }

    static func describe(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7f ? "'\(Character(UnicodeScalar(b)))'" : "byte 0x" + Hex.string([b])
    }
}
