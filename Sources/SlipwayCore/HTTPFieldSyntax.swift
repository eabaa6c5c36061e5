/// What may appear in an HTTP field (header) name and value (RFC 9110, section 5): the
/// checks for header names and values that come from configuration or the environment.
public enum HTTPFieldSyntax {
    /// A `tchar`: a byte of a field name.
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// A field name: one or more `tchar`s.
    public static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isTokenByte)
    }

    /// A field value: no control characters other than horizontal tab (no CR, LF or NUL).
    public static func isValue(_ value: String) -> Bool {
        !value.utf8.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }
    }
}
