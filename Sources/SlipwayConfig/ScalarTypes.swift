import Yams

extension ValueType where Value == Bool {
    /// `true` or `false`.
    static var boolean: ValueType<Bool> {
        ValueType(schema: [("type", .string("boolean"))], json: { .bool($0) }) { node, path, diagnostics in
            guard ScalarKind(node) == .boolean, let value = node.bool else {
                diagnostics.typeMismatch(expected: "true or false", found: node, path)
                return nil
            }
            return value
        }
    }
}

extension ValueType where Value == Double {
    /// A number strictly between `low` and `high` (`open`) or within them.
    static func number(_ low: Double, _ high: Double, open: Bool) -> ValueType<Double> {
        let schema: [(String, JSONValue)] = [("type", .string("number")), (open ? "exclusiveMinimum" : "minimum", .number(low)), (open ? "exclusiveMaximum" : "maximum", .number(high))]
        return ValueType(schema: schema, json: { .number($0) }) { node, path, diagnostics in
            guard [.integer, .number].contains(ScalarKind(node)), let value = node.float else {
                diagnostics.typeMismatch(expected: "a number", found: node, path)
                return nil
            }
            let inside = open ? (value > low && value < high) : (value >= low && value <= high)
            guard inside else {
                diagnostics.error(at: node, path, "must be \(open ? "between" : "from") \(JSONValue.number(low).rendered(indent: nil)) \(open ? "and" : "to") \(JSONValue.number(high).rendered(indent: nil))\(open ? " (exclusive)" : "") (got \(node.scalar?.string ?? ""))")
                return nil
            }
            return value
        }
    }
}

extension ValueType where Value == Double {
    /// A share above 0 and at most 1: a number (`0.1`) or a percentage (`10%`).
    static var share: ValueType<Double> {
        let schema: [(String, JSONValue)] = [("oneOf", .array([
            .object([("type", .string("number")), ("exclusiveMinimum", .number(0)), ("maximum", .number(1))]),
            .object([("type", .string("string")), ("pattern", .string(#"^[0-9]+(\.[0-9]+)?%$"#))]),
        ]))]
        return ValueType(schema: schema, json: { .number($0) }) { node, path, diagnostics in
            let text = node.scalar?.string ?? ""
            var value: Double?
            if [.integer, .number].contains(ScalarKind(node)) {
                value = node.float
            } else if ScalarKind(node) == .string, text.hasSuffix("%"), let percent = Double(text.dropLast()), percent.isFinite {
                value = percent / 100
            }
            guard let value else {
                diagnostics.typeMismatch(expected: "a share such as 0.1 or 10%", found: node, path)
                return nil
            }
            guard value > 0, value <= 1 else {
                diagnostics.error(at: node, path, "must be above 0 and at most 1 (100%) (got \(text))")
                return nil
            }
            return value
        }
    }
}

extension ValueType where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of the enumeration's raw values.
    static var enumeration: ValueType<Value> {
        let names = Value.allCases.map(\.rawValue)
        return ValueType(schema: [("type", .string("string")), ("enum", .array(names.map { .string($0) }))], json: { .string($0.rawValue) }) { node, path, diagnostics in
            guard case .scalar(let scalar) = node, ScalarKind(node) == .string else {
                diagnostics.typeMismatch(expected: "one of \(names.joined(separator: ", "))", found: node, path)
                return nil
            }
            guard let value = Value(rawValue: scalar.string) else {
                diagnostics.error(at: node, path, unknownKeyMessage(scalar.string, allowed: names, noun: "value"))
                return nil
            }
            return value
        }
    }
}
