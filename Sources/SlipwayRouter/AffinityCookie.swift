import Crypto
import NIOHTTP1
import SlipwayCore

/// The assignment cookie of one version, computed once per snapshot. The signature
/// depends only on service, scope and version, so a request's cookie is checked by
/// comparing bytes, never by computing an HMAC.
struct GroupCookie: Sendable {
    /// `<scope>.<version>.<signature>` as the router sets it: the MAC truncated to 16 bytes.
    let value: [UInt8]
    /// The same with the whole 32-byte MAC (also accepted).
    let fullValue: [UInt8]
    /// The whole `Set-Cookie` header value that assigns a client to this version.
    let setCookie: String

    @inline(__always)
    func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.bytesEqual(value) || bytes.bytesEqual(fullValue)
    }
}

/// `route.affinity` on the hot path: the cookie name and the groups a cookie can assign
/// (weight > 0). Exists only while a split is in effect.
struct AffinityRule: Sendable {
    let name: [UInt8]
    /// Groups with weight > 0; each has a `cookie`.
    let groups: [GroupState]

    /// The group named by a valid assignment cookie in `headers` that still has an
    /// available endpoint; nil when there is none (absent, forged, other scope, old version).
    /// Scans the Cookie header(s) without copying; other cookies are left alone.
    func assignedGroup(in headers: HTTPHeaders, isAvailable: (EndpointState) -> Bool) -> GroupState? {
        for (headerName, headerValue) in headers where headerName.utf8.count == 6 && ProxyHeaders.equalsLowercase(headerName, "cookie") {
            var found: GroupState?
            var text = headerValue
            _ = text.withUTF8 { bytes in
                CookieHeader.scan(bytes) { name, value in
                    guard name.bytesEqual(self.name) else { return false }
                    for group in groups where group.cookie?.matches(value) == true {
                        if group.hasAvailable(isAvailable) {
                            found = group
                            return true
                        }
                    }
                    return false
                }
            }
            if let found { return found }
        }
        return nil
    }
}

/// Makes the cookies of `route.affinity`: `<cookie>=<scope>.<version>.<signature>` with
/// signature = base64url(HMAC-SHA256(key, service NUL scope NUL version)) without padding.
/// Bytes of scope or version outside RFC 6265's cookie-octet set (and `%`) are written
/// `%XX` so the header stays valid whatever the names.
struct AffinitySigner {
    static let macBytes = 16

    let service: String
    let cookieName: String
    let scope: String
    private let key: SymmetricKey

    /// Nil when the route has no affinity, when no split is in effect (fewer than two
    /// groups with weight > 0), or when the rule is unusable (a problem says why).
    init?(route: ServiceRoute, problems: inout [RouteProblem]) {
        guard let affinity = route.affinity else { return nil }
        guard Self.isValidName(affinity.cookie) else {
            problems.append(route.service, "service \(route.service): affinity.cookie must be letters, digits, \"_\" and \"-\" (got \"\(affinity.cookie)\"); sticky assignment is off, requests are split by weight")
            return nil
        }
        guard let key = Self.decodeHex(affinity.key), !key.isEmpty else {
            problems.append(route.service, "service \(route.service): affinity.key must be an even number of hex digits (got \(affinity.key.utf8.count) characters); sticky assignment is off, requests are split by weight")
            return nil
        }
        if key.count < 32 {
            problems.append(route.service, "service \(route.service): affinity.key has \(key.count) bytes, fewer than the 32 it should have; sticky assignment uses it anyway")
        }
        guard route.groups.filter({ $0.weight > 0 }).count > 1 else { return nil }
        self.service = route.service
        self.cookieName = affinity.cookie
        self.scope = affinity.scope
        self.key = SymmetricKey(data: key)
    }

    func cookie(for version: String) -> GroupCookie {
        let message = Array("\(service)\u{0}\(scope)\u{0}\(version)".utf8)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        let prefix = Self.escape(scope) + "." + Self.escape(version) + "."
        let value = prefix + Self.base64url(mac.prefix(Self.macBytes))
        return GroupCookie(
            value: Array(value.utf8),
            fullValue: Array((prefix + Self.base64url(mac[...])).utf8),
            setCookie: "\(cookieName)=\(value); Path=/; HttpOnly; SameSite=Lax"
        )
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    static func decodeHex(_ text: String) -> [UInt8]? {
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    static func base64url(_ bytes: ArraySlice<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var output: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let count = min(3, bytes.endIndex - index)
            var chunk: UInt32 = 0
            for i in 0..<3 { chunk = chunk << 8 | UInt32(i < count ? bytes[index + i] : 0) }
            for i in 0...count { output.append(alphabet[Int(chunk >> UInt32(18 - 6 * i) & 0x3F)]) }
            index += count
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Percent-escapes the bytes that may not appear in a cookie value (and `%`).
    static func escape(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        for byte in text.utf8 {
            let allowed = byte == 0x21 || (0x23...0x2B).contains(byte) || (0x2D...0x3A).contains(byte)
                || (0x3C...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
            if allowed && byte != UInt8(ascii: "%") {
                output.append(byte)
            } else {
                output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
