import Foundation

/// When a string looks random enough to be a credential: Shannon entropy over candidates
/// of the two alphabets secrets are written in, and the placeholders that are not secrets.
///
/// Thresholds (bits per character), as gitleaks and truffleHog use them:
/// - **hex**, at least 32 characters: ≥ 3.0 (truffleHog's hex threshold). Random hex of
///   that length averages ~3.8 (the ceiling is log2 16 = 4); a hash-like run of few digits
///   or a repeated pattern stays below 3.
/// - **base64-ish** (`A-Z a-z 0-9 + / = _ - .`), at least 20 characters: ≥ 3.5 (gitleaks'
///   `generic-api-key` threshold) and at least one digit, or ≥ 4.2 without one. Random
///   base64 averages ~3.9 at 20 characters, ~4.4 at 32 and ~5 at 64 (the ceiling is
///   log2 of the length until it reaches 6); words and identifiers sit around 3–3.6 and
///   almost never mix digits in, so the digit requirement removes the long camelCase
///   names that would pass 3.5 alone. A random 20-character value has no digit ~3 % of
///   the time; those need 4.2.
/// Entropy is only asked of values already assigned to a secret-like name (see
/// `SecretRules`), never of every word in a file: that is what keeps the rate of false
/// positives on ordinary code near zero.
public enum SecretEntropy {
    public static let hexMinimumLength = 32
    public static let hexThreshold = 3.0
    public static let base64MinimumLength = 20
    public static let base64Threshold = 3.5
    public static let base64ThresholdWithoutDigit = 4.2

    /// Shannon entropy of the characters of `text`, in bits per character.
    public static func shannon(_ text: String) -> Double {
        var counts: [Character: Int] = [:]
        for c in text { counts[c, default: 0] += 1 }
        let n = Double(text.count)
        guard n > 0 else { return 0 }
        return counts.values.reduce(0) { sum, k in
            let p = Double(k) / n
            return sum - p * log2(p)
        }
    }

    /// Whether `value` is a hex or base64-ish candidate above its threshold and not a placeholder.
    public static func isHighEntropy(_ value: String) -> Bool {
        guard !isPlaceholder(value) else { return false }
        let entropy = shannon(value)
        if value.count >= hexMinimumLength, value.allSatisfy(\.isHexDigit) {
            return entropy >= hexThreshold
        }
        guard value.count >= base64MinimumLength, value.unicodeScalars.allSatisfy(isBase64ish) else { return false }
        return value.contains(where: \.isNumber) ? entropy >= base64Threshold : entropy >= base64ThresholdWithoutDigit
    }

    static func isBase64ish(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "A"..."Z", "a"..."z", "0"..."9", "+", "/", "=", "_", "-", ".": true
        default: false
        }
    }

    private static let placeholderWords = ["changeme", "change_me", "change-me", "example", "placeholder", "dummy", "redacted", "sample", "your", "secret", "password", "token"]

    /// Documentation and template values: `changeme`, `${VAR}`, `{{ var }}`, `<your-token>`,
    /// `xxxx`, `****`, a long run of one character, or the secret-ish words themselves.
    public static func isPlaceholder(_ value: String) -> Bool {
        let lower = value.lowercased()
        if lower.hasPrefix("<") && lower.hasSuffix(">") { return true }
        for marker in ["${", "{{", "$(", "%(", "xxxx", "****", "....", "…"] where lower.contains(marker) { return true }
        if placeholderWords.contains(where: { lower.contains($0) }) && shannon(value) < 4 { return true }
        if lower.contains("example") || lower.contains("changeme") || lower.contains("placeholder") { return true }
        return longestRun(value) >= 6
    }

    /// The longest run of one repeated character (`aaaaaa`, `000000`).
    static func longestRun(_ text: String) -> Int {
        var longest = 0, run = 0
        var previous: Character?
        for c in text {
            run = c == previous ? run + 1 : 1
            previous = c
            longest = max(longest, run)
        }
        return longest
    }
}
