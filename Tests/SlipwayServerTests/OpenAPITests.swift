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
}
