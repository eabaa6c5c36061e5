import Foundation

/// `${NAME}` references in notification URLs and secrets, resolved when a notification
/// is sent (so the outbox never holds a resolved secret).
public enum SecretReference {
    public static let namePattern = "^[A-Za-z_][A-Za-z0-9_]*$"

    /// The names referenced in `text`, or a message when a `${` is not closed or a name
    /// is not a valid variable name.
    public static func names(in text: String) -> Result<[String], ReferenceError> {
        var names: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                return .failure(ReferenceError(message: "has `${` without a closing `}`"))
            }
            let name = String(rest[start.upperBound..<end])
            guard isValidName(name) else {
                return .failure(ReferenceError(message: "`${\(name)}` does not name a variable (letters, digits and '_', not starting with a digit)"))
            }
            names.append(name)
            rest = rest[rest.index(after: end)...]
        }
        return .success(names)
    }

    /// Replaces every reference with `lookup(name)`; fails naming the first unknown one.
    public static func expand(_ text: String, lookup: (String) -> String?) -> Result<String, ReferenceError> {
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                return .failure(ReferenceError(message: "has `${` without a closing `}`"))
            }
            let name = String(rest[start.upperBound..<end])
            guard let value = lookup(name) else {
                return .failure(ReferenceError(message: "${\(name)} is neither a secret of the service nor a variable of the server's environment"))
            }
            out += value
            rest = rest[rest.index(after: end)...]
        }
        return .success(out + rest)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !name.isEmpty else { return false }
        let letters = { (c: Unicode.Scalar) in (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || c == "_" }
        return letters(first) && name.unicodeScalars.allSatisfy { letters($0) || ($0 >= "0" && $0 <= "9") }
    }

    public struct ReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }
}
