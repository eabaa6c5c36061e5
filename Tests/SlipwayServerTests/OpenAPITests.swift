import Foundation
import Hummingbird
import SlipwayTesting
import Testing

@testable import SlipwayServer

/// The REST API's contract: `docs/openapi.json` (also served at `GET /v1/openapi.json`) lists
/// exactly the router's routes, each with a summary, its path and query parameters, its
/// body, its answer and the error shape; it is a valid OpenAPI 3.1 document; and the
/// committed copy is what the code generates.
@Suite struct OpenAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func documented() throws -> Set<String> {
        let document = OpenAPI.document()
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        return Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let (f, _) = try AccessRulesTests.fixture()
        defer { f.directory.remove() }
        let routes = Set(f.router.routes.map { "\($0.method) \($0.path)" })
        let documented = try documented()
        #expect(routes.subtracting(documented).isEmpty, "routes missing from the OpenAPI document: \(routes.subtracting(documented).sorted())")
        #expect(documented.subtracting(routes).isEmpty, "documented but not routed: \(documented.subtracting(routes).sorted())")
        for route in routes {
            let summary = OpenAPI.docs[route]?.summary ?? ""
            #expect(summary.count > 5, "\(route) has no summary in OpenAPI.docs")
        }
        // Path parameters are declared; protected routes say which role they need.
        let paths = try #require(OpenAPI.document()["paths"] as? [String: [String: [String: Any]]])
        let why = try #require(paths["/v1/services/{name}/why"]?["get"])
        let parameters = try #require(why["parameters"] as? [[String: Any]])
        #expect(parameters.contains { $0["name"] as? String == "name" && $0["in"] as? String == "path" })
        #expect(parameters.contains { $0["name"] as? String == "rollout" && $0["in"] as? String == "query" })
        #expect((paths["/v1/tokens"]?["post"]?["description"] as? String)?.contains("role admin") == true)
        #expect((paths["/healthz"]?["get"]?["security"] as? [Any])?.isEmpty == true, "liveness needs no token")
    }

    @Test func theCommittedDocumentIsCurrent() throws {
        let committed = try String(contentsOf: Self.root.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
        #expect(committed == OpenAPI.json(), "docs/openapi.json is stale: run `slipway openapi > docs/openapi.json`")
    }

    @Test func itIsAValidOpenAPI31Document() async throws {
        // openapi-spec-validator (PyPI; scripts/test.sh installs it) checks it against the
        // OpenAPI 3.1 schema.
        let file = Self.root.appendingPathComponent("docs/openapi.json").path
        let result = try await runCommand("/usr/bin/env", ["python3", "-c", "from openapi_spec_validator import validate; from openapi_spec_validator.readers import read_from_filename; validate(read_from_filename('\(file)')[0]); print('valid')"])
        #expect(result.status == 0 && result.stdout.contains("valid"), "\(result.stdout)\(result.stderr)")
    }

    /// Every JSON answer has the schema of the type the CLI decodes it as, recorded from
    /// the type (none is left empty, none failed to record); Schemathesis' response
    /// conformance check (APIContractTests) compares them with what the server writes.
    @Test func everyJSONAnswerHasTheSchemaOfItsType() throws {
        #expect(OpenAPI.responseSchemaProblems.isEmpty, "\(OpenAPI.responseSchemaProblems.joined(separator: "\n"))")
        let document = OpenAPI.document()
        let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
        let status = try #require(paths["/v1/services/{name}"]?["get"]?["responses"] as? [String: Any])
        let ok = try #require((status["200"] as? [String: Any])?["content"] as? [String: [String: [String: Any]]])
        #expect(ok["application/json"]?["schema"]?["$ref"] as? String == "#/components/schemas/ServiceStatus")
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
        let service = try #require(schemas["ServiceStatus"])
        #expect((service["required"] as? [String])?.contains("service") == true && (service["required"] as? [String])?.contains("target") == false, "\(service)")
        let list = try #require(((paths["/v1/services"]?["get"]?["responses"] as? [String: Any])?["200"] as? [String: Any])?["content"] as? [String: [String: [String: Any]]])
        #expect(list["application/json"]?["schema"]?["type"] as? String == "array")
        // An apply answers 201 when a version changed and 200 when none did: both documented.
        let apply = try #require(paths["/v1/services"]?["put"]?["responses"] as? [String: Any])
        #expect(apply["200"] != nil && apply["201"] != nil, "\(apply.keys.sorted())")
    }

    struct Sample: Codable {
        enum Kind: String, Codable, CaseIterable, JSONSchemaLeaf { case one, two }
        struct Inner: Codable { var n: Int }
        var name: String
        var count: UInt64
        var note: String?
        var kind: Kind
        var inner: Inner?
        var list: [Inner]
        var tags: [String]
        var env: [String: Double]
        var time: Date
    }

    /// What the recorder makes of a type: required and optional keys, primitives, an
    /// enumeration's cases, a nested struct as a named schema, arrays and maps.
    @Test func theRecorderReadsATypesKeysAndTheirSchemas() throws {
        let recorder = JSONSchemaRecorder()
        let (schema, _) = try recorder.schema(for: Sample.self)
        #expect(schema["$ref"] as? String == "#/components/schemas/OpenAPITests.Sample")
        let sample = try #require(recorder.components["OpenAPITests.Sample"])
        #expect(sample["required"] as? [String] == ["count", "env", "kind", "list", "name", "tags", "time"])
        let properties = try #require(sample["properties"] as? [String: [String: Any]])
        #expect(properties["name"]?["type"] as? String == "string")
        #expect(properties["count"]?["type"] as? String == "integer" && properties["count"]?["minimum"] as? Int == 0)
        #expect(properties["kind"]?["enum"] as? [String] == ["one", "two"])
        #expect(properties["time"]?["type"] as? String == "number", "a Date as JSONEncoder writes it by default")
        let note = try #require(properties["note"]?["anyOf"] as? [[String: String]])
        #expect(note == [["type": "string"], ["type": "null"]])
        #expect((properties["list"]?["items"] as? [String: String]) == ["$ref": "#/components/schemas/OpenAPITests.Sample.Inner"])
        #expect((properties["tags"]?["items"] as? [String: String]) == ["type": "string"])
        #expect((properties["env"]?["additionalProperties"] as? [String: String]) == ["type": "number"])
        #expect(recorder.components["OpenAPITests.Sample.Inner"]?["required"] as? [String] == ["n"])
    }

    /// Every request body's schema matches the Swift type its route decodes: a body with
    /// every field decodes and encodes back to exactly those fields; a required field left
    /// out, or any field of the wrong JSON type, is refused; an optional one left out is not.
    @Test func everyBodySchemaMatchesItsType() throws {
        for (route, doc) in OpenAPI.docs {
            if let body = doc.body { #expect(OpenAPI.bodies[body] != nil, "\(route) names body \(body), which has no schema") }
        }
        for (name, body) in OpenAPI.bodies.sorted(by: { $0.key < $1.key }) {
            for problem in try Self.mismatches(body.type, body) {
                Issue.record("schema \(name): \(problem)")
            }
        }
    }

    static func example(_ kind: OpenAPI.Field.Kind) -> Any {
        switch kind {
        case .string: "x"
        case .integer: 3
        case .number: 1.5
        case .boolean: true
        case .stringMap: ["A": "b"]
        case .stringArray: ["a"]
        case .oneOf(let values): values[0]
        case .object(let name): example(of: OpenAPI.bodies[name]!)
        case .array(let name): [example(of: OpenAPI.bodies[name]!)]
        }
    }

    static func example(of body: OpenAPI.Body) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: body.fields.map { ($0.name, example($0.kind)) })
    }

    /// A value of another JSON type than the field's.
    static func wrong(_ kind: OpenAPI.Field.Kind) -> Any {
        switch kind {
        case .string, .oneOf: 12
        case .integer, .number: "x"
        case .boolean: "yes"
        case .stringMap, .object: [1, 2]
        case .stringArray, .array: ["a": 1]
        }
    }

    static func mismatches<T: Codable>(_ type: T.Type, _ body: OpenAPI.Body) throws -> [String] {
        func decodes(_ object: [String: Any]) -> T? {
            guard let data = try? JSONSerialization.data(withJSONObject: object) else { return nil }
            return try? JSONDecoder().decode(T.self, from: data)
        }
        var problems: [String] = []
        let full = example(of: body)
        guard let value = decodes(full) else { return ["a body with every field does not decode as \(T.self)"] }
        let encoded = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
        let documented = Set(body.fields.map(\.name))
        if Set(encoded.keys) != documented {
            problems.append("\(T.self) has fields \(encoded.keys.sorted()), the schema \(documented.sorted())")
        }
        for field in body.fields {
            var without = full
            without[field.name] = nil
            if field.required, decodes(without) != nil { problems.append("\(field.name) is required in the schema but \(T.self) decodes without it") }
            if !field.required, decodes(without) == nil { problems.append("\(field.name) is optional in the schema but \(T.self) needs it") }
            var mistyped = full
            mistyped[field.name] = wrong(field.kind)
            if decodes(mistyped) != nil { problems.append("\(field.name) of the wrong type is accepted: \(T.self) does not read it as documented") }
        }
        return problems
    }
}
