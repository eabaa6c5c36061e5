import Foundation

/// One secret found, already redacted: the full secret is never kept past the line it
/// was found on. Encoded with gitleaks' field names, so a list of findings is a gitleaks
/// report (`GitleaksReport.parse` reads it back as evidence).
public struct SecretFinding: Codable, Sendable, Equatable {
    public var ruleID: String
    public var description: String
    /// Relative to the scanned directory, `/`-separated.
    public var file: String
    /// 1-based; a PEM key's block starts on its header line and ends on its first body line.
    public var startLine: Int
    public var endLine: Int
    /// 1-based, in characters, of the secret on its line.
    public var startColumn: Int
    public var endColumn: Int
    /// The matched text with the secret in it redacted.
    public var match: String
    /// The secret, redacted.
    public var secret: String
    /// Shannon entropy of the secret in bits per character.
    public var entropy: Double
    /// `file:rule:line`, as gitleaks writes it when not scanning git history; what an
    /// allowlist `fingerprint:` entry names.
    public var fingerprint: String

    enum CodingKeys: String, CodingKey {
        case ruleID = "RuleID", description = "Description", file = "File", startLine = "StartLine", endLine = "EndLine"
        case startColumn = "StartColumn", endColumn = "EndColumn", match = "Match", secret = "Secret", entropy = "Entropy"
        case fingerprint = "Fingerprint"
    }

    /// The first characters of `secret` (4 at most, and no more than a quarter of it) then `…`.
    public static func redact(_ secret: String) -> String {
        String(secret.prefix(min(4, secret.count / 4))) + "…"
    }

    static func fingerprint(file: String, rule: String, line: Int) -> String {
        "\(file):\(rule):\(line)"
    }
}

extension Array where Element == SecretFinding {
    /// The findings as a gitleaks JSON report (an array, `[]` when there are none).
    public func gitleaksJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
