import Yams

/// Collects every problem found while reading one file; the loader throws them all at once.
final class Diagnostics {
    let file: String
    private(set) var errors: [ConfigError] = []

    init(file: String) {
        self.file = file
    }

    var isEmpty: Bool { errors.isEmpty }

    func error(at position: Position?, _ path: ConfigPath, _ message: String) {
        let position = position ?? .start
        errors.append(ConfigError(file: file, line: position.line, column: position.column, path: path.description, message: message))
    }

    func error(at node: Node, _ path: ConfigPath, _ message: String) {
        error(at: node.position, path, message)
    }

    /// `expected an integer, got the string "two"`.
    func typeMismatch(expected: String, found node: Node, _ path: ConfigPath) {
        error(at: node, path, "expected \(expected), got \(node.describedForUser)")
    }

    /// Errors in reading order (line, then column); errors at one position keep their order.
    var sorted: [ConfigError] {
        errors.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}

/// A 1-based line and column (Yams' `Mark` cannot be made outside Yams).
struct Position: Equatable {
    var line: Int
    var column: Int

    static let start = Position(line: 1, column: 1)

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    init(_ mark: Mark) {
        self.init(line: mark.line, column: mark.column)
    }
}

/// The YAML type of a scalar as the default resolver sees it.
enum ScalarKind {
    case string, integer, number, boolean, null, timestamp

    init(_ scalar: Node) {
        switch scalar.tag.rawValue {
        case Tag.Name.int.rawValue: self = .integer
        case Tag.Name.float.rawValue: self = .number
        case Tag.Name.bool.rawValue: self = .boolean
        case Tag.Name.null.rawValue: self = .null
        case Tag.Name.timestamp.rawValue: self = .timestamp
        default: self = .string
        }
    }
}

extension Node {
    var position: Position? { mark.map(Position.init) }

    /// `the string "two"`, `the integer 5`, `a list`, `a mapping`, `an empty value`.
    var describedForUser: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            let text = scalar.string
            switch ScalarKind(self) {
            case .string: return "the string \(quoted(text))"
            case .integer: return "the integer \(text)"
            case .number: return "the number \(text)"
            case .boolean: return "the boolean \(text)"
            case .null: return "an empty value"
            case .timestamp: return "the date \(text)"
            }
        }
    }

    var isNull: Bool {
        if case .scalar = self { return ScalarKind(self) == .null }
        return false
    }
}

/// `"text"` with quotes and backslashes escaped, as the user would write it in YAML.
func quoted(_ text: String) -> String {
    var out = "\""
    for ch in text {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default: out.append(ch)
        }
    }
    return out + "\""
}
