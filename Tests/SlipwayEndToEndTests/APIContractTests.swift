import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Schemathesis (PyPI; scripts/test.sh installs it) generates requests from the served
/// OpenAPI document — valid, boundary and invalid parameters and bodies, with and without
/// the token — against a live `slipway server` with the hello service deployed. Every answer
/// must be documented (status, content type and, for JSON, the schema of its body) and none
/// may be a server error. Bounded:
/// a few examples per operation, deterministic generation; the reads also once with the
/// path parameters naming what exists (the service, its first rollout and release), so that
/// real answers meet their schemas. Routes that stop or replace the
/// running server (shutdown, router upgrade, key rotation, fleet setup), the endless event
/// stream, and revoking tokens (it revoked the run's own token) are left out.
@Suite(.serialized) struct APIContractTests {
    @Test func everyAnswerIsDocumentedAndNoneIsAServerError() async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 1)
            // Schemathesis also sends requests without a valid token on purpose: the
            // failed-authentication limit must not turn the run into 429s.
            try await h.startServer(configs: [config], extraArguments: ["--auth-failures", "1000000/1m"])
            _ = try await eventually("v1 to serve") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
            let excluded = ["/v1/shutdown", "/v1/router/upgrade", "/v1/servers/setup", "/v1/secrets/rotate-key", "/v1/stream"]
            let arguments = ["run", "\(h.apiURL)/v1/openapi.json", "-H", "Authorization: Bearer \(h.adminToken)", "-n", "5",
                             "--generation-deterministic", "--request-timeout", "30",
                             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"]
                + excluded.flatMap { ["--exclude-path", $0] }
                // Revoking tokens: the run called `DELETE /v1/tokens/{name}` with the names
                // `GET /v1/tokens` answered and revoked the token it uses itself (every later
                // request a 401). AccessTests covers revocation.
                + ["--exclude-operation-id", "deleteTokensName"]
            // Random path parameters mostly name nothing (404s): a first pass reads what
            // exists — the service, its first rollout and release — so that real answers
            // (status, rollouts, events, stats, releases…) are checked against their schemas.
            let readsConfig = try h.directory.write("schemathesis.toml", """
                headers = { Authorization = "Bearer \(h.adminToken)" }

                [[operations]]
                include-method = "GET"
                parameters = { "path.name" = "hello", "path.id" = "1", "path.version" = "v1" }
                """)
            let reads = ["--config-file", readsConfig] + arguments + ["--include-method", "GET", "--exclude-path", "/v1/services/{name}/logs"]
            let existing = try await runCommand("/usr/bin/env", ["schemathesis"] + reads, timeout: .seconds(600))
            let existingTail = String(existing.stdout.suffix(4000))
            #expect(existing.status == 0, "schemathesis found problems reading existing data:\n\(existingTail)\n\(existing.stderr.suffix(2000))")
            #expect(existing.stdout.contains(" passed") && !existing.stdout.contains("Server error"), "\(existingTail)")

            let result = try await runCommand("/usr/bin/env", ["schemathesis"] + arguments, timeout: .seconds(600))
            let tail = String(result.stdout.suffix(4000))
            #expect(result.status == 0, "schemathesis found problems:\n\(tail)\n\(result.stderr.suffix(2000))")
            #expect(result.stdout.contains(" passed") && !result.stdout.contains("Server error"), "\(tail)")

            // The server still serves after it.
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }
}
