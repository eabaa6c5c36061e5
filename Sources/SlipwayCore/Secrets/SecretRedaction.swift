/// Replaces known secret values in text that could echo an instance's environment
/// (log tails, exit messages, errors) before it is stored, logged or answered.
public struct SecretRedaction: Sendable {
    /// (value, name), longest value first so a value containing another is replaced whole.
    private let secrets: [(value: String, name: String)]

    /// `secrets`: name → value.
    public init(_ secrets: [String: String]) {
        self.secrets = secrets.filter { !$0.value.isEmpty }
            .map { (value: $0.value, name: $0.key) }
            .sorted { $0.value.utf8.count != $1.value.utf8.count ? $0.value.utf8.count > $1.value.utf8.count : $0.name < $1.name }
    }

    public static let none = SecretRedaction([:])

    public var isEmpty: Bool { secrets.isEmpty }

    /// `text` with every secret value replaced by `[secret NAME]`.
    public func redact(_ text: String) -> String {
        var out = text
        for secret in secrets where out.contains(secret.value) {
            out = out.replacing(secret.value, with: "[secret \(secret.name)]")
        }
        return out
    }

    public func redact(_ lines: [String]) -> [String] {
        isEmpty ? lines : lines.map(redact)
    }
}
