import Foundation
import SlipwayCore
import SlipwayTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ResilienceTests {
    /// v2 crashes 2 s after every start: a crash loop, which the control plane rolls back at
    /// `max_restarts` (CrashLoopTests). This test is about the restart in place, so its limit
    /// is out of reach.
    @Test func crashedInstanceIsRestartedAndTheCrashRecorded() async throws {
        try await withHello(replicas: 1, strategy: "blue-green: { keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 10s, max_restarts: 100 }") { h, port in
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_CRASH_AFTER_S=2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)")
            let before = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout).instances.first { $0.version == "v2" }
            // Restarted at least once, whatever it is doing when looked at: it runs 2 s per
            // start, and the backoff doubles up to 30 s, so on a loaded machine (a long
            // deploy, slow status calls) a poll for "running" can miss every window.
            let restarted = try await eventually("the crashed v2 instance to be restarted", timeout: .seconds(60)) {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return s.instances.first { $0.version == "v2" && $0.restarts >= 1 }
            }
            #expect(restarted.id == before?.id, "restarted in place, same instance id")
            let events = try await h.api("/v1/services/hello/events")
            // A new process: not the pid it first started with (read from its start event:
            // on a busy machine the crash and restart can come before `before` was read).
            let firstStart = try #require(events.body.range(of: "instance \(restarted.id) of v2 started (pid "))
            let firstPID = Int32(events.body[firstStart.upperBound...].prefix { $0.isNumber })
            #expect(firstPID != nil && restarted.pid != firstPID, "first pid \(String(describing: firstPID)), now \(restarted.pid)")
            #expect(events.body.contains("instance_crashed"))
            #expect(events.body.contains("exit status 3"))
            #expect(events.body.contains("instance_restarted"))
            // Within one backoff cycle (at most 30 s of backoff and 2 s of running).
            _ = try await eventually("v2 to serve again", timeout: .seconds(90)) { (try? await h.versionAt(port: port)) == "v2" ? true : nil }
        }
    }

    @Test func anInstanceWhosePortWasTakenRestartsOnAnotherPort() async throws {
        try await withHello(replicas: 1) { h, port in
            let before = try #require(decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout).instances.first)
            #expect((20000...29999).contains(before.port), "instance ports come from --instance-ports' default: \(before.port)")
            // The instance dies and another process binds its port before the restart (1 s backoff).
            kill(before.pid, SIGKILL)
            let thief = try await eventually("the dead instance's port to be free") { listeningLoopbackSocket(port: before.port) }
            defer { close(thief) }
            let moved = try await eventually("the instance to restart on another port", timeout: .seconds(30)) {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return s.instances.first { $0.id == before.id && $0.restarts >= 1 && $0.state == .running }
            }
            #expect(moved.port != before.port)
            #expect((20000...29999).contains(moved.port))
            let events = try await h.api("/v1/services/hello/events")
            #expect(events.body.contains("port \(before.port) of instance \(before.id) is in use (another process, or the dead instance's connections still closing); it restarts on port \(moved.port)"), "\(events.body)")
            _ = try await eventually("v1 to serve again on its new port") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
        }
    }

    @Test func badInstancePortRangesAreRefused() async throws {
        let slipway = try BuiltProducts.path("slipway")
        for bad in ["20000", "29999-20000", "100-200", "20000-20010", "x-y"] {
            let run = try await runCommand(slipway, ["server", "--instance-ports", bad])
            #expect(run.status == 64)
            #expect(run.stderr.contains("--instance-ports must be LOW-HIGH within 1024-65535 with at least 16 ports, e.g. 20000-29999 (got \(bad))"), "\(run.stderr)")
        }
    }

    @Test func controlPlaneSigkillDuringRolloutDropsNothingAndIsAdoptedOnRestart() async throws {
        // v2 stays unhealthy while this file exists: the rollout waits for health until the
        // test has killed and restarted the control plane, however slow the machine is (the
        // deploy timeout only bounds a broken run: a loaded machine took over 20 s between
        // the start, the kill and the restart).
        try await withHello(replicas: 2, deployTimeout: "5m") { h, port in
            let gate = try h.directory.write("v2-unhealthy", "")
            let probe = TrafficProbe(port: port)
            let start = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY_FILE=\(gate)"])
            #expect(start.status == 0, "\(start.stderr)")
            let during = try await eventually("two v2 instances to be started") {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                let v2 = s.instances.filter { $0.version == "v2" }
                return v2.count == 2 && s.activeRollout != nil ? s : nil
            }
            try await h.killServer()
            // With the control plane dead, the data plane keeps serving v1.
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1") }

            try await h.startServer()
            let rollout = try #require(during.activeRollout)
            let resumed = try decode(RolloutRecord.self, try await h.api("/v1/rollouts/\(rollout.id)").body)
            #expect(resumed.phase == .waitingHealthy, "still waiting for v2's health after the restart")
            try FileManager.default.removeItem(atPath: gate)
            let done = try await eventually("the resumed rollout to end", timeout: .seconds(60)) {
                let r = try decode(RolloutRecord.self, try await h.api("/v1/rollouts/\(rollout.id)").body)
                return r.phase.isTerminal ? r : nil
            }
            #expect(done.phase == .succeeded, "\(done.reason ?? "")")
            #expect(done.events?.contains { $0.kind == "resumed" } == true)
            _ = try await eventually("v2 to serve") { (try? await h.versionAt(port: port)) == "v2" ? true : nil }

            let after = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            let v2Before = Set(during.instances.filter { $0.version == "v2" }.map(\.pid))
            let v2After = Set(after.instances.filter { $0.version == "v2" }.map(\.pid))
            #expect(v2After == v2Before, "the same processes were adopted: no duplicates, no orphans")
            #expect(after.instances.filter { $0.version == "v1" }.count == 2)

            let result = await probe.stop()
            #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))")
            #expect(result.ok > 0)
        }
    }

    @Test func deadDataPlaneIsRestartedAndServesTheSameRoutesAgain() async throws {
        try await withHello(replicas: 1) { h, port in
            let pidFile = h.stateDir + "/router.pid"
            let first = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            // The saved table carries the instance's health…
            _ = try await eventually("the saved table to carry the instance's health") { () -> Bool? in
                let saved = try? JSONDecoder().decode(RouteTable.self, from: Data(contentsOf: URL(fileURLWithPath: h.stateDir + "/router-table.json")))
                return saved?.services.first?.groups.flatMap(\.endpoints).contains { $0.healthy == true } == true ? true : nil
            }
            kill(first, SIGKILL)
            let second = try await eventually("a new data plane to write its pid", timeout: .seconds(30)) { () -> Int32? in
                let text = (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                return text.flatMap(Int32.init).flatMap { $0 != first ? $0 : nil }
            }
            #expect(second != first)
            // …so the new router (listening before it writes its pid) serves v1 from its
            // first request, without waiting for a health check to pass.
            #expect(try await h.versionAt(port: port) == "v1")
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "the restarted data plane takes new routes: \(deploy.stdout)")
            #expect(try await h.versionAt(port: port) == "v2")
        }
    }

    @Test func logsShowInstanceOutput() async throws {
        try await withHello(replicas: 1) { h, _ in
            let logs = try await h.cli(["logs", "hello", "--version", "v1"])
            #expect(logs.status == 0)
            #expect(logs.stdout.contains("hello-app v1 listening"), "\(logs.stdout)")
            let json = try await h.cli(["logs", "hello", "-o", "json"])
            #expect(json.stdout.contains("\"instance\""))
            let missing = try await h.cli(["logs", "hello", "--version", "v7"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("no instance logs"))
        }
    }
}

