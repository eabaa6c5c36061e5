import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as 128 bits, most significant first (IPv4 in the top 32 bits).
struct IPBits: Sendable, Hashable {
    enum Family: Sendable { case v4, v6 }

    var family: Family
    var high: UInt64
    var low: UInt64

    var width: Int { family == .v4 ? 32 : 128 }

    /// Parses a textual address (`10.0.0.1`, `::1`); nil when it is not one.
    init?(_ text: some StringProtocol) {
        let text = String(text)
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(v4: UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(v6: v6)
            return
        }
        return nil
    }

    init(v4 address: UInt32) {
        self.init(family: .v4, high: UInt64(address) << 32, low: 0)
    }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports
    /// for an IPv4 client) becomes that IPv4 address.
    init(v6 address: in6_addr) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        withUnsafeBytes(of: address) { bytes in
            for i in 0..<8 { high = high << 8 | UInt64(bytes[i]) }
            for i in 8..<16 { low = low << 8 | UInt64(bytes[i]) }
        }
        if high == 0, low >> 32 == 0xFFFF {
            self.init(v4: UInt32(truncatingIfNeeded: low))
        } else {
            self.init(family: .v6, high: high, low: low)
        }
    }

    private init(family: Family, high: UInt64, low: UInt64) {
        self.family = family
        self.high = high
        self.low = low
    }

    /// A connection's peer address; nil for Unix sockets.
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4): self.init(v4: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6): self.init(v6: v6.address.sin6_addr)
        case .unixDomainSocket: return nil
        }
    }

    /// The first `prefix` bits kept, the rest zero.
    func masked(_ prefix: Int) -> IPBits {
        var copy = self
        copy.high &= prefix >= 64 ? ~0 : (prefix <= 0 ? 0 : ~0 << UInt64(64 - prefix))
        copy.low &= prefix >= 128 ? ~0 : (prefix <= 64 ? 0 : ~0 << UInt64(128 - prefix))
        return copy
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `::1/128`; a bare address is the single
/// host). Host bits set in the text are ignored (`10.1.2.3/8` is `10.0.0.0/8`).
/// An IPv4 network matches IPv4 clients, including those a dual-stack socket reports as
/// IPv4-mapped IPv6 addresses; an IPv6 network matches other IPv6 clients.
struct CIDR: Sendable, Hashable, CustomStringConvertible {
    let network: IPBits
    let prefix: Int

    /// Nil when `text` is not an address with an optional `/prefix` in range.
    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPBits(parts[0]) else { return nil }
        var prefix = address.width
        if parts.count == 2 {
            let digits = parts[1].utf8
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let value = Int(parts[1]), value <= address.width else { return nil }
            prefix = value
        }
        self.prefix = prefix
        self.network = address.masked(prefix)
    }

    func contains(_ address: IPBits) -> Bool {
        address.family == network.family && address.masked(prefix) == network
    }

    var description: String {
        switch network.family {
        case .v4:
            let a = UInt32(truncatingIfNeeded: network.high >> 32)
            return "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)/\(prefix)"
        case .v6:
            let groups = (0..<8).map { i -> String in
                let word = i < 4 ? network.high >> UInt64(48 - 16 * i) : network.low >> UInt64(48 - 16 * (i - 4))
                return String(word & 0xFFFF, radix: 16)
            }
            return groups.joined(separator: ":") + "/\(prefix)"
        }
    }
}
