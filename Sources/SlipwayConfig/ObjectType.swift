import Yams

/// One key of a YAML mapping: how it is read, where it goes, and how the schema shows it.
struct Field<Object> {
    let key: String
    let required: Bool
    let doc: String
    let valueSchema: [(String, JSONValue)]
    let nestedKeys: [String]
    /// The schema `default`, read from the object's initial (defaulted) value.
    let defaultValue: (Object) -> JSONValue?
    /// Decodes the node into the object; false when the value had errors.
    let apply: (Node, ConfigPath, Diagnostics, inout Object) -> Bool

    /// - Parameter showsDefault: false for a key whose initial value is no default (one that
    ///   is given together with others or not at all).
    init<Value>(_ key: String, _ type: ValueType<Value>, _ keyPath: WritableKeyPath<Object, Value>, required: Bool = false, showsDefault: Bool = true, doc: String) {
        self.key = key
        self.required = required
        self.doc = doc
        self.valueSchema = type.schema
        self.nestedKeys = type.nestedKeys
        let json = type.json
        self.defaultValue = { object in required || !showsDefault ? nil : json?(object[keyPath: keyPath]) }
        self.apply = { node, path, diagnostics, object in
            guard let value = type.decode(node, path, diagnostics) else { return false }
            object[keyPath: keyPath] = value
            return true
        }
    }

    /// A field stored in an optional property (absent key: nil).
    init<Value>(_ key: String, _ type: ValueType<Value>, _ keyPath: WritableKeyPath<Object, Value?>, doc: String) {
        self.key = key
        self.required = false
        self.doc = doc
        self.valueSchema = type.schema
        self.nestedKeys = type.nestedKeys
        self.defaultValue = { _ in nil }
        self.apply = { node, path, diagnostics, object in
            guard let value = type.decode(node, path, diagnostics) else { return false }
            object[keyPath: keyPath] = value
            return true
        }
    }

    var schema: JSONValue {
        .object([("description", .string(doc))] + valueSchema)
    }
}

/// What an object's cross-field check can see: which keys were given and decoded cleanly.
struct ObjectScope {
    let path: ConfigPath
    let node: Node
    /// Key and value nodes of every known key present in the mapping.
    let entries: [String: (key: Node, value: Node)]
    /// Keys whose values decoded without errors.
    let decoded: Set<String>
    let diagnostics: Diagnostics

    func isGiven(_ key: String) -> Bool { entries[key] != nil }

    /// An error at the value of `key` when given, else at the mapping.
    func error(at key: String, _ message: String) {
        diagnostics.error(at: entries[key]?.value ?? node, path.key(key), message)
    }
}

/// A YAML mapping with a fixed set of keys: the table drives parsing, unknown-key
/// detection and the JSON Schema.
struct ObjectType<Object> {
    /// Shown in the schema.
    var doc: String
    /// The value with every default applied; fields overwrite what the file gives.
    var initial: Object
    var fields: [Field<Object>]
    /// Checks across fields (after every field was read), e.g. timeout ≤ interval.
    var check: ((inout Object, ObjectScope) -> Void)? = nil
    /// Schema keywords about the object as a whole (`oneOf` of required keys).
    var extraSchema: [(String, JSONValue)] = []

    var keys: [String] { fields.map(\.key) }

    var valueType: ValueType<Object> {
        ValueType(schema: schemaKeywords, nestedKeys: nestedKeys, json: nil, decode: decode)
    }

    var nestedKeys: [String] {
        fields.flatMap { field in [field.key] + field.nestedKeys.map { "\(field.key).\($0)" } }
    }

    var schemaKeywords: [(String, JSONValue)] {
        var keywords: [(String, JSONValue)] = [
            ("type", .string("object")),
            ("properties", .object(fields.map { field in
                var schema = field.schema
                if case .object(var members) = schema, let value = field.defaultValue(initial) {
                    members.append(("default", value))
                    schema = .object(members)
                }
                return (field.key, schema)
            })),
        ]
        let required = fields.filter(\.required).map { JSONValue.string($0.key) }
        if !required.isEmpty { keywords.append(("required", .array(required))) }
        keywords.append(("additionalProperties", .bool(false)))
        return keywords + extraSchema
    }

    func decode(_ node: Node, _ path: ConfigPath, _ diagnostics: Diagnostics) -> Object? {
        guard case .mapping(let mapping) = node else {
            diagnostics.typeMismatch(expected: "a mapping", found: node, path)
            return nil
        }
        var object = initial
        var entries: [String: (key: Node, value: Node)] = [:]
        var decoded: Set<String> = []
        var failed = false
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode, ScalarKind(keyNode) == .string else {
                diagnostics.error(at: keyNode, path, "keys must be strings, got \(keyNode.describedForUser)")
                failed = true
                continue
            }
            let key = keyScalar.string
            guard let field = fields.first(where: { $0.key == key }) else {
                diagnostics.error(at: keyNode, path.key(key), unknownKeyMessage(key, allowed: keys))
                failed = true
                continue
            }
            entries[key] = (keyNode, valueNode)
            if field.apply(valueNode, path.key(key), diagnostics, &object) {
                decoded.insert(key)
            } else {
                failed = true
            }
        }
        for field in fields where field.required && entries[field.key] == nil {
            let at = path.description.isEmpty ? "the file" : "`\(path)`"
            diagnostics.error(at: node, path.key(field.key), "\(at) lacks the required key `\(field.key)`")
            failed = true
        }
        check?(&object, ObjectScope(path: path, node: node, entries: entries, decoded: decoded, diagnostics: diagnostics))
        return failed ? nil : object
    }
}

/// `unknown key \`keep_previos\`; did you mean \`keep_previous\`?` or the allowed keys.
func unknownKeyMessage(_ key: String, allowed: [String], noun: String = "key") -> String {
    if let suggestion = Suggestions.closest(to: key, in: allowed) {
        return "unknown \(noun) `\(key)`; did you mean `\(suggestion)`?"
    }
    return "unknown \(noun) `\(key)`; allowed: \(allowed.map { "`\($0)`" }.joined(separator: ", "))"
}
