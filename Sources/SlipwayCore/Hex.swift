/// Lowercase hexadecimal text of bytes, two digits per byte: digests (`sha256:…`), keys,
/// tags, signatures and random identifiers. One table lookup per digit
/// (`String(format: "%02x")` per byte went through Foundation's formatter and cost more
/// than hashing a small report).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `count` random bytes from the system's secure generator, as hex.
    public static func random(bytes count: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return string((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
    }
}
