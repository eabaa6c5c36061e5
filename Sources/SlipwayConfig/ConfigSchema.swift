/// The JSON Schema (draft 2020-12) of `slipway.yml`, generated from the same field
/// tables the parser uses. Editors use it for completion and checking.
public enum ConfigSchema {
    public static let draft = "https://json-schema.org/draft/2020-12/schema"

    /// Pretty-printed JSON.
    public static func jsonSchema() -> String {
        document.rendered() + "\n"
    }

    static var document: JSONValue {
        let service = ServiceFields.service
        return .object([
            ("$schema", .string(draft)),
            ("title", .string("slipway.yml")),
            ("description", .string(service.doc)),
        ] + service.schemaKeywords)
    }

    /// Every key the parser accepts, as dotted paths (`health.interval`,
    /// `strategy.blue-green.keep_previous`); free-form maps such as `env` stop at their name.
    static var acceptedKeys: [String] {
        ServiceFields.service.nestedKeys
    }
}
