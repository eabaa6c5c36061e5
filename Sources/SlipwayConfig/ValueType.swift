import SlipwayCore
import Yams

/// How one kind of value is read from a YAML node and described in the JSON Schema.
/// Field tables are built from these, so parsing and the schema never disagree.
struct ValueType<Value> {
    /// The JSON Schema of the value (without `description` and `default`, which the field adds).
    var schema: [(String, JSONValue)]
    /// Keys of nested objects relative to this value (`path`, `blue-green.keep_previous`).
    var nestedKeys: [String] = []
    /// The value as JSON, used for `default` in the schema; nil when it has no JSON form.
    var json: ((Value) -> JSONValue)? = nil
    /// Reads the node; reports every problem to the diagnostics and returns nil on any.
    var decode: (Node, ConfigPath, Diagnostics) -> Value?

    /// Adds a check that runs after a successful decode; a returned message is an error
    /// at the node.
    func checked(_ check: @escaping (Value) -> String?) -> ValueType<Value> {
        var copy = self
        let decode = self.decode
        copy.decode = { node, path, diagnostics in
            guard let value = decode(node, path, diagnostics) else { return nil }
            if let message = check(value) {
                diagnostics.error(at: node, path, message)
                return nil
            }
            return value
        }
        return copy
    }

    /// Adds keywords to the schema.
    func schema(adding keywords: [(String, JSONValue)]) -> ValueType<Value> {
        var copy = self
        copy.schema += keywords
        return copy
    }
}

// MARK: - Scalars

extension ValueType where Value == String {
    /// A YAML string (quoted or plain); numbers and booleans are type errors.
    static var string: ValueType<String> {
        ValueType(schema: [("type", .string("string"))], json: { .string($0) }) { node, path, diagnostics in
            guard case .scalar(let scalar) = node, ScalarKind(node) == .string else {
                diagnostics.typeMismatch(expected: "a string", found: node, path)
                return nil
            }
            return scalar.string
        }
    }

    /// A string that must match `pattern` (an anchored regular expression valid both in
    /// Swift and in JSON Schema); `explain` words the error for a value that does not.
    static func string(pattern: String, explain: @escaping (String) -> String) -> ValueType<String> {
        ValueType.string
            .schema(adding: [("pattern", .string(pattern))])
            .checked { matches($0, pattern) ? nil : explain($0) }
    }

    /// Any non-empty scalar as the text the user wrote: `8080`, `true` and `on` stay as written.
    /// For argv entries and environment values, where everything is text in the end.
    static var scalarText: ValueType<String> {
        ValueType(schema: [("type", .array([.string("string"), .string("number"), .string("boolean")]))], json: { .string($0) }) { node, path, diagnostics in
            guard case .scalar(let scalar) = node, ScalarKind(node) != .null else {
                diagnostics.typeMismatch(expected: "a string, number or boolean", found: node, path)
                return nil
            }
            return scalar.string
        }
    }
}

extension ValueType where Value == Int {
    /// A YAML integer within `range`.
    static func integer(in range: ClosedRange<Int>) -> ValueType<Int> {
        var schema: [(String, JSONValue)] = [("type", .string("integer")), ("minimum", .integer(range.lowerBound))]
        if range.upperBound != Int.max { schema.append(("maximum", .integer(range.upperBound))) }
        return ValueType(schema: schema, json: { .integer($0) }) { node, path, diagnostics in
            guard ScalarKind(node) == .integer, case .scalar = node, let value = node.int else {
                diagnostics.typeMismatch(expected: "an integer", found: node, path)
                return nil
            }
            guard range.contains(value) else {
                let bounds = range.upperBound == Int.max
                    ? "at least \(range.lowerBound)"
                    : "between \(range.lowerBound) and \(range.upperBound)"
                diagnostics.error(at: node, path, "must be \(bounds) (got \(value))")
                return nil
            }
            return value
        }
    }
}

extension ValueType where Value == Duration {
    /// Text such as `500ms`, `2s`, `1m30s`, `10m`; a bare number is seconds.
    /// `positive`: zero is an error (timeouts and intervals).
    static func duration(positive: Bool) -> ValueType<Duration> {
        let number = "[0-9]+(\\.[0-9]+)?"
        let text = "^\(number)$|^(\(number)(ms|s|m|h|d))+$"
        var stringSchema: [(String, JSONValue)] = [("type", .string("string")), ("pattern", .string(text))]
        if positive { stringSchema.append(("not", .object([("pattern", .string("^(0+(\\.0+)?(ms|s|m|h|d)?)+$"))]))) }
        let numberSchema: [(String, JSONValue)] = [("type", .string("number")), (positive ? "exclusiveMinimum" : "minimum", .integer(0))]
        let schema: [(String, JSONValue)] = [("oneOf", .array([.object(stringSchema), .object(numberSchema)]))]
        return ValueType(schema: schema, json: { .duration($0) }) { node, path, diagnostics in
            let kind = ScalarKind(node)
            guard case .scalar(let scalar) = node, [.string, .integer, .number].contains(kind),
                  let value = DurationText.parse(scalar.string) else {
                diagnostics.typeMismatch(expected: "a duration such as 500ms, 2s, 1m30s or 10m", found: node, path)
                return nil
            }
            if positive, value <= .zero {
                diagnostics.error(at: node, path, "must be longer than 0 (got \(scalar.string))")
                return nil
            }
            return value
        }
    }
}

extension ValueType where Value == ListenAddress {
    /// `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT`, with a port from 1 to 65535.
    static var listenAddress: ValueType<ListenAddress> {
        let pattern = "^((\\[[0-9A-Fa-f:.]+\\]|[^:\\[\\]]*):)?[0-9]{1,5}$"
        let schema: [(String, JSONValue)] = [("oneOf", .array([
            .object([("type", .string("string")), ("pattern", .string(pattern))]),
            .object([("type", .string("integer")), ("minimum", .integer(1)), ("maximum", .integer(65535))]),
        ]))]
        return ValueType(schema: schema, json: { .string($0.description) }) { node, path, diagnostics in
            let expected = "an address such as 127.0.0.1:8080, :8080 or 8080"
            guard case .scalar(let scalar) = node, [.string, .integer].contains(ScalarKind(node)) else {
                diagnostics.typeMismatch(expected: expected, found: node, path)
                return nil
            }
            guard let address = ListenAddress(parsing: scalar.string) else {
                diagnostics.typeMismatch(expected: expected, found: node, path)
                return nil
            }
            guard address.port >= 1 else {
                diagnostics.error(at: node, path, "the port must be between 1 and 65535 (got \(address.port))")
                return nil
            }
            return address
        }
    }
}

// MARK: - Collections

extension ValueType {
    /// A YAML list; every element is checked and reported, not just the first bad one.
    static func list<Element>(of element: ValueType<Element>, nonEmpty: Bool = false) -> ValueType<[Element]> where Value == [Element] {
        var schema: [(String, JSONValue)] = [("type", .string("array")), ("items", .object(element.schema))]
        if nonEmpty { schema.append(("minItems", .integer(1))) }
        let json = element.json
        return ValueType(
            schema: schema,
            json: json.map { json in { .array($0.map(json)) } }
        ) { node, path, diagnostics in
            guard case .sequence(let sequence) = node else {
                diagnostics.typeMismatch(expected: "a list", found: node, path)
                return nil
            }
            if nonEmpty, sequence.isEmpty {
                diagnostics.error(at: node, path, "must list at least one entry")
                return nil
            }
            var result: [Element] = []
            var failed = false
            for (i, item) in sequence.enumerated() {
                if let value = element.decode(item, path.index(i), diagnostics) {
                    result.append(value)
                } else {
                    failed = true
                }
            }
            return failed ? nil : result
        }
    }

    /// A YAML mapping with free-form keys matching `keyPattern` (environment variables).
    static func map<Element>(keyPattern: String, keyExplain: @escaping (String) -> String, values element: ValueType<Element>) -> ValueType<[String: Element]> where Value == [String: Element] {
        let schema: [(String, JSONValue)] = [
            ("type", .string("object")),
            ("propertyNames", .object([("pattern", .string(keyPattern))])),
            ("additionalProperties", .object(element.schema)),
        ]
        return ValueType(schema: schema) { node, path, diagnostics in
            guard case .mapping(let mapping) = node else {
                diagnostics.typeMismatch(expected: "a mapping", found: node, path)
                return nil
            }
            var result: [String: Element] = [:]
            var failed = false
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode, ScalarKind(keyNode) == .string else {
                    diagnostics.error(at: keyNode, path, "keys must be strings, got \(keyNode.describedForUser)")
                    failed = true
                    continue
                }
                let key = keyScalar.string
                guard matches(key, keyPattern) else {
                    diagnostics.error(at: keyNode, path.key(key), keyExplain(key))
                    failed = true
                    continue
                }
                if let value = element.decode(valueNode, path.key(key), diagnostics) {
                    result[key] = value
                } else {
                    failed = true
                }
            }
            return failed ? nil : result
        }
    }
}

/// Whole-string match of an anchored pattern shared with the JSON Schema.
func matches(_ text: String, _ pattern: String) -> Bool {
    guard let regex = try? Regex(pattern) else {
        assertionFailure("invalid pattern \(pattern)")
        return false
    }
    return text.wholeMatch(of: regex) != nil
}
