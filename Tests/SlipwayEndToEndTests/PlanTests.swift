import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// `slipway plan` against a live server: the diff of a changed config with each setting's
/// effect, hidden values, refusals, gates the newest release would fail, exit codes; and
/// `apply` asking on a terminal.
@Suite(.serialized) struct PlanTests {
    struct Plan: Decodable {
        struct Change: Decodable { var key: String; var old: String?; var new: String?; var effect: String; var masked: Bool }
        struct Gate: Decodable { var gate: String; var passed: Bool }
        var service: String
        var registered: Bool
        var configVersion: Int?
        var changes: [Change]
        var refusals: [String]
        var warnings: [String]
        var gates: [Gate]
        var gatesRelease: String?
    }

    func config(port: Int, replicas: Int = 2, token: String = "one", hosts: String = "", extra: String = "") -> String {
        """
        service: web
        run: ["hello-app", "--port", "{{port}}", "--version", "{{version}}"]
        health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 2, unhealthy: 3, grace: 5s }
        listen: 127.0.0.1:\(port)
        replicas: \(replicas)
        env: { API_TOKEN: \(token) }
        \(hosts)
        strategy:
          blue-green: { keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 10s }
        \(extra)
        """
    }

    @Test func planShowsEachChangeWithItsEffectAndChangesNothing() async throws {
        try await withHarness { h in
            let port = freeLoopbackPort()
            let original = try h.directory.write("web.yml", config(port: port))
            try await h.startServer(configs: [original])

            let same = try await h.cli(["plan", "-f", original])
            #expect(same.status == 0 && same.stdout.contains("web: no changes (config version 1)"), "\(same.stdout)\(same.stderr)")

            let changedFile = try h.directory.write("web-changed.yml", config(port: port, replicas: 3, token: "two", hosts: "hosts: [web.example.com]",
                                                                            extra: "alerts: [ { name: errors, metric: error_rate, max: 2%, for: 1m } ]"))
            let text = try await h.cli(["plan", "-f", changedFile])
            #expect(text.status == 2, "changes: exit 2; \(text.stdout)\(text.stderr)")
            #expect(text.stdout.contains("web: "), "\(text.stdout)")
            #expect(text.stdout.contains("~ replicas: 2 → 3"), "\(text.stdout)")
            #expect(text.stdout.contains("~ env.API_TOKEN: changed (hidden)") && !text.stdout.contains("two"), "values of env are never shown: \(text.stdout)")
            #expect(text.stdout.contains("router: takes effect when applied: hosts"), "\(text.stdout)")
            #expect(text.stdout.contains("instances: the next deploy starts them with it"), "\(text.stdout)")
            #expect(text.stdout.contains("control plane: takes effect when applied: alerts"), "\(text.stdout)")

            let json = try await h.cli(["plan", "-f", changedFile, "-o", "json"])
            #expect(json.status == 2)
            let plans = try decode([Plan].self, json.stdout)
            let plan = try #require(plans.first)
            #expect(plan.registered && plan.configVersion == 1 && plan.refusals.isEmpty)
            let replicas = try #require(plan.changes.first { $0.key == "replicas" })
            #expect(replicas.old == "2" && replicas.new == "3" && replicas.effect == "next_deploy" && !replicas.masked)
            #expect(plan.changes.first { $0.key == "hosts" }?.effect == "router")
            #expect(plan.changes.first { $0.key == "env.API_TOKEN" }.map { $0.masked && $0.old == "(hidden)" } == true)

            // Nothing was applied: the server still has config version 1 and 2 replicas.
            let status = try await h.cli(["plan", "-f", original])
            #expect(status.status == 0, "\(status.stdout)")

            // A second service on the same port: apply would be refused, and plan says so.
            let clash = try h.directory.write("clash.yml", "service: api\nrun: [\"hello-app\", \"--port\", \"{{port}}\"]\nlisten: 127.0.0.1:\(port)\n")
            let refused = try await h.cli(["plan", "-f", clash])
            #expect(refused.status == 1 && refused.stdout.contains("api: new service") && refused.stdout.contains("REFUSED: apply would fail: service web already answers every host on port \(port)"), "\(refused.stdout)\(refused.stderr)")

            // A bad file is named with its line before the server is asked.
            let bad = try h.directory.write("bad.yml", "service: web\nrun: [./web]\nreplicas: many\n")
            let invalid = try await h.cli(["plan", "-f", bad])
            #expect(invalid.status == 1 && invalid.stderr.contains("bad.yml:3:"), "\(invalid.stderr)")

            // apply on a terminal shows the plan and asks; "n" applies nothing.
            let slipway = try BuiltProducts.path("slipway")
            let command = "\(slipway) apply -f \(changedFile) --server \(h.apiURL)"
            let asked = try await runCommand("/usr/bin/script", ["-qec", command, "/dev/null"], environment: ["SLIPWAY_TOKEN": h.adminToken, "PATH": "/usr/bin:/bin"], standardInput: "n\n")
            #expect(asked.stdout.contains("~ replicas: 2 → 3") && asked.stdout.contains("Apply these changes? [y/N]") && asked.stdout.contains("nothing applied"), "\(asked.stdout)\(asked.stderr)")
            let after = try await h.cli(["plan", "-f", original])
            #expect(after.status == 0 && after.stdout.contains("config version 1"), "declined: still version 1; \(after.stdout)")
            // Without a terminal (scripts) it applies at once.
            let applied = try await h.cli(["apply", "-f", changedFile])
            #expect(applied.status == 0 && applied.stdout.contains("web: config version 2 applied"), "\(applied.stdout)\(applied.stderr)")
        }
    }

    @Test func planNamesTheGatesTheNewestReleaseWouldFail() async throws {
        try await withHarness { h in
            let port = freeLoopbackPort()
            let text = config(port: port) + "\nenvironments:\n  production: { gates: { coverage: off, test_pass_rate: off, critical_vulns: off, high_vulns: off, secrets: off } }\n"
            let file = try h.directory.write("web.yml", text)
            try await h.startServer(configs: [file])
            #expect(try await h.cli(["release", "create", "web", "1.0"]).status == 0)
            let stricter = try h.directory.write("web-strict.yml", config(port: port) + "\nenvironments:\n  production: { gates: { coverage: 85, test_pass_rate: off, critical_vulns: off, high_vulns: off, secrets: off } }\n")
            let plan = try await h.cli(["plan", "-f", stricter, "--env", "production", "-o", "json"])
            #expect(plan.status == 2, "\(plan.stdout)\(plan.stderr)")
            let plans = try decode([Plan].self, plan.stdout)
            let production = try #require(plans.first)
            #expect(production.service == "web@production" && production.gatesRelease == "1.0", "\(plan.stdout)")
            #expect(production.gates.map(\.gate) == ["coverage"] && production.gates.allSatisfy { !$0.passed }, "\(plan.stdout)")
            #expect(production.changes.first { $0.key.hasPrefix("environment.gates") }?.effect == "admission", "\(plan.stdout)")
            let text2 = try await h.cli(["plan", "-f", stricter])
            #expect(text2.stdout.contains("gates: the newest release 1.0 would be refused: coverage"), "\(text2.stdout)")
            let unknownEnv = try await h.cli(["plan", "-f", stricter, "--env", "prod"])
            #expect(unknownEnv.status == 64 && unknownEnv.stderr.contains("no environment prod; environments: production"), "\(unknownEnv.stderr)")
        }
    }
}
