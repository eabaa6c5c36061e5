import Foundation

/// What a scan ignores, from a file with one entry per line (`#` starts a comment):
/// - `path: GLOB` skips files whose path relative to the scanned directory matches
///   (`*` and `?` stay within a path segment, `**` crosses them; a glob with no `/`
///   matches the file's name in any directory, one ending in `/` everything below it);
/// - `regex: RE` ignores findings whose secret the regular expression matches (anywhere in it);
/// - `fingerprint: FILE:RULE:LINE` ignores that one finding (the report's `Fingerprint`).
public struct SecretAllowlist: Sendable {
    /// Looked for in the scanned directory when no allowlist is given.
    public static let defaultFileName = ".slipway-secrets-allow"

    public private(set) var paths: [String] = []
    public private(set) var regexes: [String] = []
    public private(set) var fingerprints: Set<String> = []
    private var pathPatterns: [NSRegularExpression] = []
    private var secretPatterns: [NSRegularExpression] = []

    public init() {}

    public static func load(file: String) throws(SecretScanError) -> SecretAllowlist {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SecretScanError(.unreadable, file: file, "cannot read the allowlist")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file)
    }

    public static func parse(_ text: String, file: String) throws(SecretScanError) -> SecretAllowlist {
        var list = SecretAllowlist()
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            func fail(_ message: String) -> SecretScanError { SecretScanError(.badAllowlist, file: file, line: index + 1, message) }
            guard let colon = line.firstIndex(of: ":") else {
                throw fail("expected `path: GLOB`, `regex: RE` or `fingerprint: FILE:RULE:LINE`")
            }
            let kind = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty else { throw fail("`\(kind):` needs a value") }
            switch kind {
            case "path":
                list.paths.append(value)
                list.pathPatterns.append(try compile(globPattern(value), or: fail("invalid glob")))
            case "regex":
                list.regexes.append(value)
                list.secretPatterns.append(try compile(value, or: fail("invalid regular expression")))
            case "fingerprint":
                list.fingerprints.insert(value)
            default:
                let shown = kind.count <= 20 && kind.allSatisfy({ $0.isLetter || $0 == "-" || $0 == "_" }) ? " `\(kind)`" : ""
                throw fail("unknown entry kind\(shown); expected path, regex or fingerprint")
            }
        }
        return list
    }

    public func skips(path: String) -> Bool {
        pathPatterns.contains { $0.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil }
    }

    public func ignores(secret: String) -> Bool {
        secretPatterns.contains { $0.firstMatch(in: secret, range: NSRange(secret.startIndex..., in: secret)) != nil }
    }

    public func ignores(fingerprint: String) -> Bool {
        fingerprints.contains(fingerprint)
    }

    private static func compile(_ pattern: String, or failure: SecretScanError) throws(SecretScanError) -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: pattern) } catch { throw failure }
    }

    /// An anchored regular expression for a glob over `/`-separated relative paths.
    static func globPattern(_ glob: String) -> String {
        var body = ""
        var chars = Array(glob.hasPrefix("/") ? String(glob.dropFirst()) : glob)
        if !glob.contains("/") { chars = Array("**/") + chars }
        if glob.hasSuffix("/") { chars += Array("**") }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "*", i + 1 < chars.count, chars[i + 1] == "*" {
                if i + 2 < chars.count, chars[i + 2] == "/" {
                    body += "(?:.*/)?"
                    i += 3
                } else {
                    body += ".*"
                    i += 2
                }
                continue
            }
            switch c {
            case "*": body += "[^/]*"
            case "?": body += "[^/]"
            default: body += NSRegularExpression.escapedPattern(for: String(c))
            }
            i += 1
        }
        return "^" + body + "$"
    }
}
