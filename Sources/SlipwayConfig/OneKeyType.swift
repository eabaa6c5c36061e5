import Yams

/// One choice of a `oneKey` value, e.g. the `blue-green` strategy.
struct Variant<Value> {
    let key: String
    let doc: String
    let schemaKeywords: [(String, JSONValue)]
    let nestedKeys: [String]
    let decode: (Node, ConfigPath, Diagnostics) -> Value?

    init<Settings>(_ key: String, _ type: ObjectType<Settings>, doc: String, wrap: @escaping (Settings) -> Value) {
        self.key = key
        self.doc = doc
        self.schemaKeywords = type.schemaKeywords
        self.nestedKeys = type.nestedKeys
        self.decode = { node, path, diagnostics in
            type.decode(node, path, diagnostics).map(wrap)
        }
    }
}

extension ValueType {
    /// A mapping with exactly one key naming the variant, whose value holds its settings
    /// (may be empty for all defaults). The bare name as a string means the same as an
    /// empty mapping: `strategy: blue-green`.
    static func oneKey(_ noun: String, _ variants: [Variant<Value>]) -> ValueType<Value> {
        let names = variants.map(\.key)
        let objectSchema: [(String, JSONValue)] = [
            ("type", .string("object")),
            ("properties", .object(variants.map { variant in
                (variant.key, .object([("description", .string(variant.doc)),
                                       ("oneOf", .array([.object(variant.schemaKeywords), .object([("type", .string("null"))])]))]))
            })),
            ("minProperties", .integer(1)),
            ("maxProperties", .integer(1)),
            ("additionalProperties", .bool(false)),
        ]
        let schema: [(String, JSONValue)] = [("oneOf", .array([
            .object(objectSchema),
            .object([("type", .string("string")), ("enum", .array(names.map { .string($0) }))]),
        ]))]
        let nested = variants.flatMap { v in [v.key] + v.nestedKeys.map { "\(v.key).\($0)" } }
        let choices = names.map { "`\($0)`" }.joined(separator: ", ")
        return ValueType(schema: schema, nestedKeys: nested) { node, path, diagnostics in
            let empty = Node.mapping(Node.Mapping([], .implicit, .block, node.mark))
            switch node {
            case .scalar(let scalar) where ScalarKind(node) == .string:
                guard let variant = variants.first(where: { $0.key == scalar.string }) else {
                    diagnostics.error(at: node, path, unknownKeyMessage(scalar.string, allowed: names, noun: noun))
                    return nil
                }
                return variant.decode(empty, path.key(variant.key), diagnostics)
            case .mapping(let mapping):
                guard !mapping.isEmpty else {
                    diagnostics.error(at: node, path, "choose one \(noun): \(choices)")
                    return nil
                }
                var result: Value?
                var chosen: String?
                var failed = false
                for (keyNode, valueNode) in mapping {
                    let key = keyNode.scalar?.string ?? keyNode.describedForUser
                    guard let variant = variants.first(where: { $0.key == key }), ScalarKind(keyNode) == .string else {
                        diagnostics.error(at: keyNode, path.key(key), unknownKeyMessage(key, allowed: names, noun: noun))
                        failed = true
                        continue
                    }
                    if let chosen {
                        diagnostics.error(at: keyNode, path.key(key), "only one \(noun) may be given, but both `\(chosen)` and `\(key)` are")
                        failed = true
                        continue
                    }
                    chosen = key
                    result = variant.decode(valueNode.isNull ? empty : valueNode, path.key(key), diagnostics)
                    if result == nil { failed = true }
                }
                return failed ? nil : result
            default:
                diagnostics.typeMismatch(expected: "a mapping with one of \(choices)", found: node, path)
                return nil
            }
        }
    }
}
