import Foundation

/// The built-in rules, most specific first: when two rules find the same text on a line,
/// the first one reports it. Ids follow gitleaks' where gitleaks has the rule.
public enum SecretRules {
    /// Characters that may not touch a token on either side (so a token inside a longer word is not one).
    private static let before = #"(?<![A-Za-z0-9_\-])"#
    private static let after = #"(?![A-Za-z0-9_\-])"#
    /// `name = value`, `name: value`, `name := value`, `"name": "value"`, `name => value`.
    private static let assign = #"["'`]?\s*(?::=|=>|=|:)\s*["'`]?"#

    public static let all: [SecretRule] = [
        SecretRule(id: "aws-access-token", description: "AWS access key id", keywords: ["akia", "asia"],
                   pattern: #"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])"#),
        SecretRule(id: "aws-secret-access-key", description: "AWS secret access key", keywords: ["aws"],
                   pattern: #"(?i)aws[a-z0-9_.\-]{0,20}(?:secret|sk)[a-z0-9_.\-]{0,20}"# + assign + #"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"#,
                   accepts: SecretRule.highEntropy),
        SecretRule(id: "github-pat", description: "GitHub personal access token", keywords: ["ghp_"],
                   pattern: before + #"(ghp_[A-Za-z0-9]{36})"# + after),
        SecretRule(id: "github-oauth", description: "GitHub OAuth access token", keywords: ["gho_"],
                   pattern: before + #"(gho_[A-Za-z0-9]{36})"# + after),
        SecretRule(id: "github-app-token", description: "GitHub app token", keywords: ["ghu_", "ghs_"],
                   pattern: before + #"((?:ghu|ghs)_[A-Za-z0-9]{36})"# + after),
        SecretRule(id: "github-refresh-token", description: "GitHub refresh token", keywords: ["ghr_"],
                   pattern: before + #"(ghr_[A-Za-z0-9]{36})"# + after),
        SecretRule(id: "github-fine-grained-pat", description: "GitHub fine-grained personal access token", keywords: ["github_pat_"],
                   pattern: before + #"(github_pat_[A-Za-z0-9_]{82})"# + after),
        SecretRule(id: "gitlab-pat", description: "GitLab personal access token", keywords: ["glpat-"],
                   pattern: before + #"(glpat-[A-Za-z0-9_\-]{20})"# + after),
        SecretRule(id: "slack-token", description: "Slack token", keywords: ["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"],
                   pattern: before + #"(xox[abprs]-[0-9A-Za-z][0-9A-Za-z\-]{18,})"#),
        SecretRule(id: "slack-webhook-url", description: "Slack webhook URL", keywords: ["hooks.slack.com"],
                   pattern: #"(https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{40,})"#),
        SecretRule(id: "stripe-access-token", description: "Stripe live secret or restricted key", keywords: ["sk_live_", "rk_live_"],
                   pattern: before + #"((?:sk|rk)_live_[A-Za-z0-9]{20,99})"# + after),
        SecretRule(id: "gcp-api-key", description: "Google API key", keywords: ["aiza"],
                   pattern: before + #"(AIza[0-9A-Za-z_\-]{35})"# + after),
        SecretRule(id: "private-key", description: "PEM private key", keywords: ["private key"],
                   pattern: #"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"#, secret: .pemBody, accepts: { _ in true }),
        SecretRule(id: "jwt", description: "JSON Web Token", keywords: ["eyj"],
                   pattern: before + #"(eyJ[A-Za-z0-9_\-]{15,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,})"# + after,
                   accepts: { SecretRule.notPlaceholder($0) && isJWTHeader($0) }),
        SecretRule(id: "slipway-api-token", description: "Slipway API token", keywords: ["slw_"],
                   pattern: before + #"(slw_[A-Za-z0-9_\-]{43})"# + after),
        SecretRule(id: "url-password", description: "Password in a URL", keywords: ["://"],
                   pattern: #"[A-Za-z][A-Za-z0-9+.\-]{1,30}://([^\s:/@"'`<>]{1,128}):([^\s:/@"'`<>]{3,128})@[A-Za-z0-9.\-\[]"#,
                   secret: .group(2), accepts: isURLPassword),
        SecretRule(id: "generic-api-key", description: "High-entropy value assigned to a secret-like name",
                   keywords: ["pass", "pwd", "secret", "token", "key", "credential"],
                   pattern: #"(?i)(?<![A-Za-z0-9_.\-])[A-Za-z0-9_.\-]{0,40}(?:password|passwd|pwd|secret|token|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|auth[_.\-]?key|credentials?)[A-Za-z0-9_.\-]{0,40}"#
                       + assign + #"([A-Za-z0-9+/=_\-.]{20,})(?=["'`\s,;)\]}]|$)"#,
                   accepts: SecretRule.highEntropy),
    ]

    /// The first segment base64url-decodes to a JSON object with an `alg`.
    static func isJWTHeader(_ token: String) -> Bool {
        guard let first = token.split(separator: ".").first else { return false }
        var b64 = first.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
        return object["alg"] != nil
    }

    /// Not a variable (`${DB_PASSWORD}`, `$PASS`, `%s`, Swift's `\(password)`) and not a
    /// placeholder word (`user:password@`).
    @Sendable static func isURLPassword(_ password: String) -> Bool {
        guard let first = password.first, !"$%{<*\\".contains(first) else { return false }
        let lower = password.lowercased()
        if ["pass", "passwd", "pwd", "pw", "secret", "password", "user", "username"].contains(lower) { return false }
        return !SecretEntropy.isPlaceholder(password)
    }
}
