/// What a secret may be called and hold. Secrets become environment variables of
/// instances, so a name is a portable environment variable name.
public enum SecretName {
    /// The longest value accepted (bytes of UTF-8).
    public static let maxValueBytes = 64 * 1024

    /// Why `name` cannot name a secret, or nil when it can.
    public static func problem(_ name: String) -> String? {
        guard let first = name.unicodeScalars.first else { return "a secret name must not be empty" }
        let valid = name.count <= 128
            && (first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first))
            && name.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        guard valid else {
            return "secret name \(name.debugDescription) is not a valid environment variable name: use up to 128 letters, digits and '_', not starting with a digit"
        }
        if name == "PORT" || name.hasPrefix("SLIPWAY_") {
            return "secret name \(name) is reserved: Slipway sets PORT and SLIPWAY_* for every instance itself"
        }
        return nil
    }

    /// Why `value` cannot be a secret's value, or nil when it can. Never quotes the value.
    public static func valueProblem(_ value: String, name: String) -> String? {
        if value.isEmpty { return "the value of secret \(name) is empty; an empty secret is refused" }
        if value.utf8.count > maxValueBytes { return "the value of secret \(name) is \(value.utf8.count) bytes; at most \(maxValueBytes) are accepted" }
        if value.utf8.contains(0) { return "the value of secret \(name) contains a NUL byte, which an environment variable cannot hold" }
        return nil
    }
}
