import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Local processes are pinned to their bytes too: a release records the SHA-256 of the
/// program it runs and keeps a copy in the state directory; a rollback after the program
/// was rebuilt runs the old bytes, and one whose copy is gone is refused.
@Suite(.serialized) struct LocalArtifactTests {
    @Test func aRollbackRunsTheRecordedProgramAndAGoneCopyIsRefused() async throws {
        try await withHarness { h in
            let hello = try BuiltProducts.path("hello-app")
            func build(_ name: String) throws {
                let script = try h.directory.write("web.sh", "#!/bin/sh\nexport HELLO_BUILD=\(name)\nexec \(hello) \"$@\"\n")
                chmod(script, 0o755)
            }
            try build("one")
            let port = freeLoopbackPort()
            let config = try h.directory.write("web.yml", """
                service: web
                run: ["./web.sh", "--port", "{{port}}", "--version", "{{version}}"]
                health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 2, unhealthy: 3, grace: 5s }
                listen: 127.0.0.1:\(port)
                replicas: 1
                strategy:
                  blue-green: { keep_previous: 0s, deploy_timeout: 20s, drain_timeout: 5s }
                """)
            try await h.startServer(configs: [config])
            _ = try await eventually("v1 to serve") { (try? await buildAt(port: port)) == "one" ? true : nil }

            try build("two")
            #expect(try await h.cli(["deploy", "web", "--version", "v2", "--wait"]).status == 0)
            try await expectServes("two", port: port, h)
            let status = try decode(ServiceStatus.self, try await h.cli(["status", "web", "-o", "json"]).stdout)
            let pinned = try #require(status.artifacts?["v2"]?.first)
            #expect(pinned.kind == .executable && pinned.source == h.directory.file("web.sh"))
            let sum = try await runCommand("/usr/bin/sha256sum", [h.directory.file("web.sh")])
            #expect(pinned.digest == "sha256:" + sum.stdout.prefix(64))
            _ = try await eventually("v1 to be stopped") {
                try decode(ServiceStatus.self, try await h.cli(["status", "web", "-o", "json"]).stdout).instances.contains { $0.version == "v1" } ? nil : true
            }

            // web.sh now holds build two; v1 runs its own bytes.
            let rollback = try await h.cli(["rollback", "web", "--to", "v1"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            try await expectServes("one", port: port, h, "the program v1 recorded, not what the path holds now")
            let events = try decode([RolloutEventRecord].self, try await h.api("/v1/services/web/events?limit=100").body)
            #expect(events.contains { $0.kind == "instance_started" && $0.message.contains("from the artifact store: \(h.directory.file("web.sh")) changed since the release was made") },
                    "\(events.map(\.message))")

            // v2's copy is deleted from the store: going back to it is refused.
            _ = try await eventually("v2 to be stopped") {
                try decode(ServiceStatus.self, try await h.cli(["status", "web", "-o", "json"]).stdout).instances.contains { $0.version == "v2" } ? nil : true
            }
            let v2 = try #require(decode([RolloutRecord].self, try await h.cli(["history", "web", "-o", "json"]).stdout).first { $0.toVersion == "v2" }?.artifacts?.first)
            let stored = h.stateDir + "/artifacts/sha256/" + v2.digest.dropFirst("sha256:".count)
            try FileManager.default.removeItem(atPath: stored)
            let refused = try await h.cli(["rollback", "web", "--to", "v2"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("cannot roll web back to v2: release v2 ran the executable \(h.directory.file("web.sh")) (\(v2.shortDigest)), and its copy is gone from the artifact store"), "\(refused.stderr)")
            try await expectServes("one", port: port, h)
        }
    }
}
