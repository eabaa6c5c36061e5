import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// The real `slipway` binary, real hello-app processes, real HTTP through the router.
@Suite(.serialized) struct DeployRollbackTests {
    @Test func blueGreenDeployThenInstantRollbackWithoutFailedRequests() async throws {
        try await withHello() { h, port in
            let probe = TrafficProbe(port: port)

            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("succeeded"))
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v2") }

            let status = try await h.cli(["status", "hello", "--output", "json"])
            let s = try decode(ServiceStatus.self, status.stdout)
            #expect(s.stableVersion == "v2")
            #expect(s.previousVersion == "v1")
            #expect(s.previousRetireAt != nil)
            #expect(s.instances.filter { $0.version == "v1" }.count == 2, "v1 stays warm")
            #expect(s.instances.filter { $0.version == "v2" && $0.healthy == true }.count == 2)

            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(rollback.stdout.contains("still warm"))
            // The switch happened before the command returned: the very next request is v1.
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v1") }

            let result = await probe.stop()
            #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))")
            #expect(result.ok > 0)
            #expect(result.versions["v2", default: 0] > 0)

            let history = try await h.cli(["history", "hello", "--output", "json"])
            let rollouts = try decode([RolloutRecord].self, history.stdout)
            #expect(rollouts.map(\.kind) == [.rollback, .deploy, .initial])
            #expect(rollouts.allSatisfy { $0.phase == .succeeded })

            let text = try await h.cli(["history", "hello"])
            #expect(text.stdout.contains("rollback"))
        }
    }

    /// An abort that arrives while the deploy still starts its instances (each start held
    /// 2 s by the test-only SLIPWAY_FAULT_START_DELAY_MS) waits for the starts, then stops
    /// every instance they made: none is left running outside any rollout. v2 never passes
    /// its health checks, so the rollout is still waiting for them however late the abort
    /// comes on a loaded machine; sent through the API (no CLI process to start), it comes
    /// well within the 6 s of starts.
    @Test func anAbortWhileInstancesStartStopsEveryOneOfThem() async throws {
        try await withHello(replicas: 3, deployTimeout: "60s", environment: ["SLIPWAY_FAULT_START_DELAY_MS": "2000"]) { h, port in
            func status() async throws -> ServiceStatus { try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout) }
            // The deploy request answers once its instances started (6 s here); the rollout
            // records that it starts them first (after its release was prepared: an abort
            // during that stops the preparation, and nothing starts).
            async let deploy = h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY=1"])
            _ = try await eventually("the deploy of v2 to be starting its instances") { () -> Bool? in
                try await h.api("/v1/services/hello/events?limit=50").body.contains("starting 3 instance(s) of v2") ? true : nil
            }
            let abort = try await TestHTTP.request(h.apiURL + "/v1/services/hello/abort", method: .POST,
                                                   headers: h.authorization + [("Content-Type", "application/json")], body: "{}")
            #expect(abort.status == 200, "\(abort.status) \(abort.body)")
            let deployed = try await deploy
            #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
            let events = (try JSONSerialization.jsonObject(with: Data(try await h.api("/v1/services/hello/events?limit=1000").body.utf8)) as? [[String: Any]] ?? [])
                .sorted { ($0["id"] as? Int ?? 0) < ($1["id"] as? Int ?? 0) }.compactMap { $0["message"] as? String }
            let started = events.filter { $0.hasPrefix("instance ") && $0.contains("of v2 started") }
            #expect(started.count == 3, "the starts ran to their end: \(started)")
            // The abort came after them: nothing of the rollout is recorded after its end.
            let lastStart = events.lastIndex { $0.hasPrefix("instance ") && $0.contains("of v2 started") }
            let aborted = events.firstIndex { $0.contains("aborted by") }
            #expect(lastStart != nil && aborted != nil && lastStart! < aborted!, "events out of order: \(events)")
            let pids = started.compactMap { message -> Int32? in
                guard let range = message.range(of: #"pid [0-9]+"#, options: .regularExpression) else { return nil }
                return Int32(message[range].dropFirst(4))
            }
            #expect(pids.count == 3, "\(started)")
            _ = try await eventually("every instance of v2 to be stopped", timeout: .seconds(30)) { () -> Bool? in
                let s = try await status()
                return s.activeRollout == nil && !s.instances.contains { $0.version == "v2" } && pids.allSatisfy { kill($0, 0) != 0 } ? true : nil
            }
            let rollout = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0]
            #expect(rollout.phase == .failed && rollout.reason?.contains("aborted by") == true, "\(rollout.phase) \(rollout.reason ?? "")")
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }

    /// A rollout's step is stored before the actions it implies are carried out, and a
    /// first release switches and succeeds in one step: with every route push held 1.5 s
    /// (the test hook SLIPWAY_FAULT_PUSH_DELAY_MS, as a slow router or a far server) the
    /// rollout reads `succeeded` while its table is still on its way. The API says it is
    /// `settling` until then, and `deploy --wait` returns only after: the release serves when
    /// it returns (seen in CI on fleet servers: 502 "no healthy instance" right after it).
    @Test func deployWaitReturnsOnceTheFinalStepTookEffect() async throws {
        try await withHarness { h in
            let port = freeLoopbackPort()
            let (alpha, _) = try h.helloConfig(name: "alpha", listenPort: port, replicas: 1, extra: "hosts: [alpha.test]")
            try await h.startServer(configs: [alpha], environment: ["SLIPWAY_FAULT_PUSH_DELAY_MS": "1500"])
            func version(_ host: String) async throws -> String {
                let reply = try await TestHTTP.request("http://127.0.0.1:\(port)/", method: .GET, headers: [("Host", host)])
                return reply.status == 200 ? reply.header("X-Version") ?? "?" : "HTTP \(reply.status): \(reply.body)"
            }
            _ = try await eventually("alpha to serve v1") { try await version("alpha.test") == "v1" ? true : nil }

            // A second service on the same port (its listener is up): its first release.
            let (beta, _) = try h.helloConfig(name: "beta", listenPort: port, replicas: 1, extra: "hosts: [beta.test]")
            let apply = try await h.cli(["apply", "-f", beta])
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
            let deploy = try await h.cli(["deploy", "beta", "--version", "v1", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(try await version("beta.test") == "v1", "\(deploy.stdout)")
            let id = try #require(try decode([RolloutRecord].self, try await h.cli(["history", "beta", "-o", "json"]).stdout).first?.id)
            let record = try decode(RolloutRecord.self, try await h.api("/v1/rollouts/\(id)").body)
            #expect(record.phase == .succeeded && record.settling == nil, "settled: \(record)")
        }
    }

    @Test func rollbackToAColdReleaseStartsItAndChecksHealth() async throws {
        try await withHello(replicas: 1, keepPrevious: "0s") { h, port in
            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--wait"]).status == 0)
            // keep_previous 0s: v1 is stopped once v2 drained.
            _ = try await eventually("v1 instances to stop") {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return s.instances.contains { $0.version == "v1" } ? nil : true
            }
            let rollback = try await h.cli(["rollback", "hello", "--to", "v1"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(rollback.stdout.contains("starting 1 instance"))
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }

    @Test func unhealthyReleaseFailsAfterDeployTimeoutAndTrafficStays() async throws {
        try await withHello(replicas: 1, deployTimeout: "3s") { h, port in
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY=1", "--wait"])
            #expect(deploy.status == 1)
            #expect(deploy.stdout.contains("did not become healthy within 3s"), "\(deploy.stdout)")
            #expect(deploy.stdout.contains("HTTP 503"), "the last health-check error is shown: \(deploy.stdout)")
            #expect(deploy.stdout.contains("hello-app v2 listening"), "the instance log tail is shown: \(deploy.stdout)")
            #expect(try await h.versionAt(port: port) == "v1")
            _ = try await eventually("the failed release's instances to stop") {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return s.instances.contains { $0.version == "v2" } ? nil : s
            }
            let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
            #expect(history.first?.phase == .failed)
            #expect(history.first?.details?.contains("HTTP 503") == true)
        }
    }

    @Test func badRequestsGetClearErrors() async throws {
        try await withHello(replicas: 1) { h, port in

            let unknown = try await h.cli(["deploy", "nope", "--version", "v2"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("unknown service nope; known services: hello"), "\(unknown.stderr)")

            let same = try await h.cli(["deploy", "hello", "--version", "v1"])
            #expect(same.status == 1)
            #expect(same.stderr.contains("already the stable release"))

            let badLabel = try await h.cli(["deploy", "hello", "--version", "v 2"])
            #expect(badLabel.status == 1)
            #expect(badLabel.stderr.contains("not a valid label"))

            // v2 stays unhealthy while the file exists, so this rollout keeps running.
            let gate = try h.directory.write("v2-unhealthy", "")
            let first = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY_FILE=\(gate)"])
            #expect(first.status == 0, "\(first.stderr)")
            let second = try await h.cli(["deploy", "hello", "--version", "v3"])
            #expect(second.status == 1)
            #expect(second.stderr.contains("is still running"), "\(second.stderr)")
            let running = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout).activeRollout
            #expect(running != nil)
            if let running { #expect(second.stderr.contains("rollout \(running.id) ")) }

            // A rollback while the deploy still waits for health checks aborts it; v1 keeps serving.
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(rollback.stdout.contains("aborted before its switch; traffic stays on v1"), "\(rollback.stdout)")
            #expect(try await h.versionAt(port: port) == "v1")
            let aborted = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout).first
            #expect(aborted?.phase == .failed)
            #expect(aborted?.reason == "aborted by a rollback request")

            let badEnv = try await h.cli(["deploy", "hello", "--version", "v9", "--set-env", "NOEQUALS"])
            #expect(badEnv.status == 64)
            #expect(badEnv.stderr.contains("KEY=VALUE"))

            let unreachable = try await runCommand(h.slipway, ["status", "--server", "http://127.0.0.1:1"])
            #expect(unreachable.status == 3)
            #expect(unreachable.stderr.contains("cannot reach the slipway server"))
        }
    }
}
