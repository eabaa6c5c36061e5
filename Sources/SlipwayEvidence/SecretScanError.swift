import Foundation

/// Why a secret scan could not run. Messages name the file (and line) at fault and never
/// repeat an allowlist entry's value, which may itself be a secret pasted by mistake.
public struct SecretScanError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for callers that act on it (compare with `==`, not the message).
    public struct Kind: Sendable, Equatable {
        private enum Code { case notADirectory, badAllowlist, unreadable }
        private let code: Code
        /// The directory to scan is missing or not a directory.
        public static let notADirectory = Kind(code: .notADirectory)
        /// An allowlist line is not `path:`, `regex:` or `fingerprint:`, or its regex is invalid.
        public static let badAllowlist = Kind(code: .badAllowlist)
        /// A file that must be read (the allowlist) cannot be.
        public static let unreadable = Kind(code: .unreadable)
    }

    public let kind: Kind
    public let file: String
    public let line: Int?
    public let message: String

    init(_ kind: Kind, file: String, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(message)"
    }
}
