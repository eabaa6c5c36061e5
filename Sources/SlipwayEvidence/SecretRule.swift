import Foundation

/// One kind of secret the scanner looks for: a pattern whose capture group is the secret,
/// the words a line must contain before the pattern is tried (gitleaks' keywords, which
/// keep the scan fast), and checks the secret must pass.
public struct SecretRule: Sendable {
    /// Where the secret is in a match.
    enum SecretPart {
        /// This capture group of the match.
        case group(Int)
        /// A PEM header: the secret is the base64 body that follows it (the next lines, or
        /// the same line after an escaped `\n`).
        case pemBody
    }

    /// gitleaks' rule id where gitleaks has the rule (`aws-access-token`, `github-pat`…).
    public let id: String
    public let description: String
    /// Lowercase; a line is only matched when it contains one of them.
    let keywords: [String]
    let regex: NSRegularExpression
    let secret: SecretPart
    /// Whether a candidate secret is real rather than a placeholder or ordinary text.
    let accepts: @Sendable (String) -> Bool

    init(id: String, description: String, keywords: [String], pattern: String, secret: SecretPart = .group(1),
         accepts: @escaping @Sendable (String) -> Bool = SecretRule.notPlaceholder) {
        self.id = id
        self.description = description
        self.keywords = keywords
        regex = Self.compile(pattern)
        self.secret = secret
        self.accepts = accepts
    }

    /// A built-in pattern (a test compiles every one).
    static func compile(_ pattern: String) -> NSRegularExpression {
        do {
            return try NSRegularExpression(pattern: pattern)
        } catch {
            preconditionFailure("a built-in secret pattern is invalid: \(pattern): \(error)")
        }
    }

    func applies(toLowercased line: String) -> Bool {
        keywords.contains { line.contains($0) }
    }

    /// Format rules (a fixed prefix and length): anything but a placeholder with too little
    /// variety to be generated (`ghp_` followed by 36 `x`).
    static let notPlaceholder: @Sendable (String) -> Bool = { secret in
        !SecretEntropy.isPlaceholder(secret) && SecretEntropy.shannon(secret) >= 3.0
    }

    static let highEntropy: @Sendable (String) -> Bool = { SecretEntropy.isHighEntropy($0) }
}
