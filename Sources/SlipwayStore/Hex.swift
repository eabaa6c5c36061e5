/// Lowercase hexadecimal text of bytes (hashes, MACs, random ids).
enum Hex {
    static func string(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
    }

    /// `count` random bytes from the system's secure generator, as hex.
    static func random(bytes count: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return string((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
    }
}
