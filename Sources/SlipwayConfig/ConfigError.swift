/// One problem in a `slipway.yml`, at the line and column of the offending YAML node.
///
/// `description` reads `slipway.yml:14:7: strategy.blue-green.keep_previous: message`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name as the user gave it (or the name passed to `ConfigLoader.parse`).
    public var file: String
    /// 1-based line of the offending node.
    public var line: Int
    /// 1-based column of the offending node (counted in Unicode scalars).
    public var column: Int
    /// Where in the document: `strategy.blue-green.keep_previous`, `run[2]`, `env.PATH`.
    /// Empty for problems with the file as a whole.
    public var path: String
    /// A whole sentence saying what is wrong and, where possible, how to fix it.
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(file):\(line):\(column): \(message)" : "\(file):\(line):\(column): \(path): \(message)"
    }
}

/// Every problem found in one `slipway.yml`, sorted by position. Never empty when thrown.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    public init(errors: [ConfigError]) {
        self.errors = errors
    }

    /// One error per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
