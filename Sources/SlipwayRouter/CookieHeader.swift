/// Reading a request's `Cookie` header (RFC 6265 §5.4: `name=value` pairs separated by
/// `;`, usually `"; "`). Lenient the way browsers and servers are: whitespace around
/// names and values is ignored, a pair without `=` or with an empty name is skipped, and
/// one pair of double quotes around a value is removed. Nothing is copied: the scan
/// hands out byte ranges of the header value.
enum CookieHeader {
    /// Calls `visit` with the name and value bytes of each pair in `header`, in order,
    /// until it returns true. Returns whether one did.
    @inline(__always)
    static func scan(_ header: UnsafeBufferPointer<UInt8>, _ visit: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        let count = header.count
        var start = 0
        while start < count {
            var end = start
            var equals = -1
            while end < count, header[end] != UInt8(ascii: ";") {
                if equals < 0, header[end] == UInt8(ascii: "=") { equals = end }
                end += 1
            }
            if equals >= 0 {
                let name = trim(header, start, equals)
                var value = trim(header, equals + 1, end)
                if value.upperBound - value.lowerBound >= 2, header[value.lowerBound] == UInt8(ascii: "\""), header[value.upperBound - 1] == UInt8(ascii: "\"") {
                    value = (value.lowerBound + 1)..<(value.upperBound - 1)
                }
                if !name.isEmpty,
                   visit(UnsafeBufferPointer(rebasing: header[name]), UnsafeBufferPointer(rebasing: header[value])) {
                    return true
                }
            }
            start = end + 1
        }
        return false
    }

    /// Every pair of `header` as strings (tests and diagnostics; the hot path uses `scan`).
    static func pairs(_ header: String) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var header = header
        _ = header.withUTF8 { bytes in
            scan(bytes) { name, value in
                result.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
                return false
            }
        }
        return result
    }

    @inline(__always)
    private static func trim(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Range<Int> {
        var lower = from
        var upper = to
        while lower < upper, isWhitespace(bytes[lower]) { lower += 1 }
        while upper > lower, isWhitespace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    @inline(__always)
    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Byte-wise equality with `other`.
    @inline(__always)
    func bytesEqual(_ other: [UInt8]) -> Bool {
        guard count == other.count else { return false }
        return other.withUnsafeBufferPointer { other in
            for i in 0..<count where self[i] != other[i] { return false }
            return true
        }
    }
}
