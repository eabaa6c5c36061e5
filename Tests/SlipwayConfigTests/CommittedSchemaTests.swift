import Foundation
import SlipwayConfig
import Testing

/// Editors read `Examples/slipway.schema.json`; it must be exactly what the parser's
/// field tables generate (regenerate with `slipway schema > Examples/slipway.schema.json`).
@Suite struct CommittedSchemaTests {
    @Test func committedSchemaIsCurrent() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let committed = try String(contentsOf: root.appendingPathComponent("Examples/slipway.schema.json"), encoding: .utf8)
        #expect(committed.trimmingCharacters(in: .whitespacesAndNewlines) == ConfigSchema.jsonSchema().trimmingCharacters(in: .whitespacesAndNewlines),
                "Examples/slipway.schema.json is stale: run `slipway schema > Examples/slipway.schema.json`")
    }
}
