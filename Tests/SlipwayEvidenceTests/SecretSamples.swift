import Foundation
import SlipwayTesting

/// Realistic secrets made at run time — random bodies, prefixes assembled from pieces — so
/// this repository's own files hold no literal secret (a test scans `Sources/` and expects
/// nothing). PEM keys come from the real `openssl`.
enum SecretSamples {
    static let upperDigits = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    static let alphanumeric = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    static let base64 = alphanumeric + ["+", "/"]
    static let hexDigits = Array("0123456789abcdef")
    static let digits = Array("0123456789")

    /// Random-looking characters that never repeat one character six times in a row (which
    /// would make the value look like a placeholder). Drawn from a generator seeded by the
    /// alphabet and length, so every run tests the same values: a truly random draw now and
    /// then lands below an entropy threshold (a 32-character value without a digit, say) and
    /// the test would fail by chance.
    static func random(_ alphabet: [Character], _ count: Int) -> String {
        var rng = SeededGenerator(seed: UInt64(alphabet.count) &* 1_000_003 &+ UInt64(count))
        var out: [Character] = []
        while out.count < count {
            let c = alphabet.randomElement(using: &rng)!
            if out.count >= 5, out.suffix(5).allSatisfy({ $0 == c }) { continue }
            out.append(c)
        }
        return String(out)
    }

    static func base64url(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func randomBytes(_ n: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<n).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }

    /// A Slipway API token exactly as the store makes one: `slw_` + 32 random bytes in unpadded base64url.
    static func slipwayToken() -> String { "slw" + "_" + base64url(randomBytes(32)) }

    static func jwt() -> String {
        base64url(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + base64url(Data(#"{"sub":"deployer","iat":1763856000}"#.utf8))
            + "." + base64url(randomBytes(32))
    }

    /// (rule id, a line holding one secret of that rule, the secret).
    static func oneLiners() -> [(rule: String, line: String, secret: String)] {
        var samples: [(String, String, String)] = []
        func add(_ rule: String, _ secret: String, _ line: (String) -> String) { samples.append((rule, line(secret), secret)) }
        add("aws-access-token", "AK" + "IA" + random(upperDigits, 16)) { "aws_access_key_id = \($0)" }
        add("aws-access-token", "AS" + "IA" + random(upperDigits, 16)) { "export AWS_ACCESS_KEY_ID=\"\($0)\"" }
        add("aws-secret-access-key", random(base64, 40)) { "aws_secret_access_key = \($0)" }
        add("github-pat", "gh" + "p_" + random(alphanumeric, 36)) { "GITHUB_TOKEN=\($0)" }
        add("github-oauth", "gh" + "o_" + random(alphanumeric, 36)) { "  oauth: \($0)" }
        add("github-app-token", "gh" + "s_" + random(alphanumeric, 36)) { "let installation = \"\($0)\"" }
        add("github-app-token", "gh" + "u_" + random(alphanumeric, 36)) { "user_to_server \($0)" }
        add("github-refresh-token", "gh" + "r_" + random(alphanumeric, 36)) { "refresh=\($0)" }
        add("github-fine-grained-pat", "github" + "_pat_" + random(alphanumeric, 22) + "_" + random(alphanumeric, 59)) { "gh auth login --with-token <<< \($0)" }
        add("gitlab-pat", "gl" + "pat-" + random(alphanumeric, 20)) { "CI_JOB=\($0)" }
        add("slack-token", "xo" + "xb-" + random(digits, 11) + "-" + random(digits, 13) + "-" + random(alphanumeric, 24)) { "slack: \($0)" }
        add("slack-token", "xo" + "xp-" + random(digits, 11) + "-" + random(digits, 11) + "-" + random(digits, 13) + "-" + random(hexDigits, 32)) { "\($0)" }
        add("slack-webhook-url", "https://hooks.slack" + ".com/services/T" + random(upperDigits, 8) + "/B" + random(upperDigits, 10) + "/" + random(alphanumeric, 24)) { "webhook_url: \($0)" }
        add("stripe-access-token", "sk" + "_live_" + random(alphanumeric, 24)) { "Stripe.apiKey = '\($0)';" }
        add("stripe-access-token", "rk" + "_live_" + random(alphanumeric, 99)) { "STRIPE=\($0)" }
        add("gcp-api-key", "AI" + "za" + random(alphanumeric + ["-", "_"], 35)) { "<script src=\"https://maps.googleapis.com/maps/api/js?key=\($0)\"></script>" }
        add("jwt", jwt()) { "Authorization: Bearer \($0)" }
        add("slipway-api-token", slipwayToken()) { "SLIPWAY_TOKEN=\($0)" }
        add("url-password", random(alphanumeric, 16)) { "DATABASE_URL=postgres://app:\($0)@db.internal:5432/app" }
        add("generic-api-key", random(alphanumeric, 32)) { "api_key = \"\($0)\"" }
        add("generic-api-key", random(hexDigits, 40)) { "  \"client_secret\": \"\($0)\"," }
        add("generic-api-key", random(base64, 23) + "7==") { "DB_PASSWORD: '\($0)'" }
        return samples
    }

    /// Lines that look like secrets but are not: placeholders, variables, documentation.
    static func lookalikes() -> [String] {
        [
            "password = \"changeme\"",
            "token: ${API_TOKEN}",
            "api_key = \"<your-api-key>\"",
            "secret = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
            "GITHUB_TOKEN=" + "gh" + "p_" + String(repeating: "x", count: 36),
            "aws_access_key_id = " + "AK" + "IA" + "IOSFODNN7" + "EXAMPLE",
            "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app",
            "url: postgres://user:password@localhost/db",
            "let token = try await client.issueToken(for: name)",
            "private let secretKeyDerivationLabel = \"slipway-secrets-aes-gcm\"",
            "api_token = \"SLIPWAY_API_TOKEN_GOES_HERE\"",
            "throw Error(\"no unencrypted PEM private key (expected " + "-----BEGIN" + " PRIVATE KEY----- or EC)\")",
            "AUTH_TOKEN=\"\(String(repeating: "ab", count: 16))\"",
            "sha256 = \"" + String(repeating: "0", count: 64) + "\"",
        ]
    }
}

/// SplitMix64: a small deterministic generator for test samples.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
