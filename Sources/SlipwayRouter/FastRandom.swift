/// SplitMix64: a fast, seedable generator for weighted picks and request ids.
/// Not cryptographic; each event loop owns one, so it needs no locking.
public struct FastRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A 15-character lowercase hex id (60 random bits). 15 UTF-8 bytes fit Swift's
    /// small-string storage, so this allocates nothing.
    public mutating func requestID() -> String {
        var bits = next()
        return String(unsafeUninitializedCapacity: 15) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { hex in
                for i in 0..<15 {
                    buffer[i] = hex[Int(bits & 0xF)]
                    bits >>= 4
                }
            }
            return 15
        }
    }
}
