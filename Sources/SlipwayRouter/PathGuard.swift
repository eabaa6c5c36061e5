import SlipwayCore

/// `restrict:` compiled: path prefixes that only some client networks may reach.
///
/// The request path is normalised before matching, the way an instance might read it, so
/// a spelling cannot slip past the rule: the query and fragment are cut, `%XX` escapes are
/// decoded (repeatedly, so `%2561` counts as `a`), `\` counts as `/`, `;parameters` are
/// dropped from segments, empty and `.` segments are removed, `..` removes the segment
/// before it, and letters are compared without case. A prefix matches on segment
/// boundaries: `/admin` matches `/admin` and `/admin/x`, not `/administrator`.
struct PathGuard: Sendable {
    struct Rule: Sendable {
        /// Normalised prefixes (`/admin`; the root is `/`).
        var prefixes: [[UInt8]]
        var allow: [CIDR]
    }

    let rules: [Rule]

    /// Nil when `restrictions` is empty. Unusable CIDRs are reported in `problems` and
    /// left out (so they allow nobody).
    init?(_ restrictions: [PathRestriction], service: String, problems: inout [RouteProblem]) {
        guard !restrictions.isEmpty else { return nil }
        rules = restrictions.map { restriction in
            var allow: [CIDR] = []
            for text in restriction.allow {
                if let cidr = CIDR(text) {
                    allow.append(cidr)
                } else {
                    problems.append(service, "restrict.allow entry \"\(text)\" of service \(service) is not a network in CIDR notation; it allows nobody")
                }
            }
            return Rule(prefixes: restriction.paths.map { Self.normalise(Array($0.utf8)) }, allow: allow)
        }
    }

    /// Whether `client` may request `uri`. A client without an IP address (a Unix
    /// socket) is allowed nothing restricted.
    func allows(uri: String, client: IPBits?) -> Bool {
        let path = Self.normalise(Self.pathBytes(of: uri))
        for rule in rules where rule.prefixes.contains(where: { Self.matches(path, prefix: $0) }) {
            guard let client, rule.allow.contains(where: { $0.contains(client) }) else { return false }
        }
        return true
    }

    static func matches(_ path: [UInt8], prefix: [UInt8]) -> Bool {
        if prefix == [UInt8(ascii: "/")] { return true }
        guard path.count >= prefix.count, path.starts(with: prefix) else { return false }
        return path.count == prefix.count || path[prefix.count] == UInt8(ascii: "/")
    }

    /// The path part of a request target: origin form as is, absolute form
    /// (`http://host/path`) without scheme and authority; query and fragment cut.
    static func pathBytes(of uri: String) -> [UInt8] {
        var bytes = Array(uri.utf8)
        if let end = bytes.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            bytes.removeSubrange(end...)
        }
        if bytes.first != UInt8(ascii: "/"), let scheme = bytes.firstIndex(of: UInt8(ascii: ":")),
           bytes[scheme...].starts(with: Array("://".utf8)) {
            let authority = scheme + 3
            if let slash = bytes[authority...].firstIndex(of: UInt8(ascii: "/")) {
                bytes.removeSubrange(..<slash)
            } else {
                bytes = [UInt8(ascii: "/")]
            }
        }
        return bytes
    }

    /// Decoded, dot-segment-free, lowercase path starting with `/` (see the type's doc).
    static func normalise(_ raw: [UInt8]) -> [UInt8] {
        var bytes = raw
        for _ in 0..<4 {
            let decoded = percentDecode(bytes)
            if decoded == bytes { break }
            bytes = decoded
        }
        var segments: [ArraySlice<UInt8>] = []
        for var segment in bytes.split(whereSeparator: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }) {
            if let semicolon = segment.firstIndex(of: UInt8(ascii: ";")) { segment = segment[..<semicolon] }
            if segment.isEmpty || segment.elementsEqual([UInt8(ascii: ".")]) { continue }
            if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + 1)
        for segment in segments {
            result.append(UInt8(ascii: "/"))
            for byte in segment {
                result.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte)
            }
        }
        return result.isEmpty ? [UInt8(ascii: "/")] : result
    }

    static func percentDecode(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "%")) else { return bytes }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                result.append(high << 4 | low)
                i += 3
            } else {
                result.append(bytes[i])
                i += 1
            }
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
