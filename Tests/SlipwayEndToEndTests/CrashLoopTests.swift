import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// A release that crash-loops is rolled back by itself with every strategy: a rolling batch
/// fails the rollout at `max_restarts` (before its deadline), and a blue-green release that
/// starts crashing after its switch and success is rolled back to the still-warm previous
/// release. (The canary's crash loop is in CanaryTests.)
@Suite(.serialized) struct CrashLoopTests {
    struct Event: Decodable { var kind: String; var message: String }

    @Test func aBlueGreenReleaseCrashLoopingAfterItsSwitchIsRolledBackToTheWarmPrevious() async throws {
        try await withHello(replicas: 2, strategy: "blue-green: { keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 2s, max_restarts: 2 }") { h, port in
            // Healthy at first (it passes health checks and takes traffic), then every
            // instance exits 4 s after each start. (Not read through the router here: on a
            // loaded machine v2 may already be crashing when the deploy returns.)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_CRASH_AFTER_S=4", "--wait"], timeout: .seconds(60))
            #expect(deploy.status == 0 && deploy.stdout.contains("traffic switched to v2"), "\(deploy.stdout)\(deploy.stderr)")
            let rolledBack = try await eventually("the crash loop to roll v2 back", timeout: .seconds(90)) { () -> [RolloutRecord]? in
                let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
                return history.first?.kind == .rollback && history.first?.phase == .succeeded ? history : nil
            }
            #expect(rolledBack.first?.toVersion == "v1", "\(rolledBack.map { ($0.kind, $0.toVersion) })")
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1") }
            let events = try decode([Event].self, try await h.api("/v1/services/hello/events?limit=500").body)
            #expect(events.contains { $0.kind == "crash_loop" && $0.message.contains("instances of v2 crashed 2 times since it became stable (max_restarts 2)") }, "\(events.map(\.message))")
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(s.stableVersion == "v1")
        }
    }

    @Test func aCrashLoopingRollingBatchFailsTheRolloutBeforeItsDeadline() async throws {
        try await withHello(replicas: 2, strategy: "rolling: { max_surge: 1, max_unavailable: 0, deploy_timeout: 5m, drain_timeout: 2s, max_restarts: 2 }") { h, port in
            let probe = TrafficProbe(port: port)
            // Exits at once after every start: never healthy, only crashes.
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_CRASH_AFTER_S=0", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("crashed") && deploy.stdout.contains("(max_restarts 2): crash loop"), "\(deploy.stdout)")
            #expect(!deploy.stdout.contains("deploy_timeout"), "the crash loop ends it, not the 5 min deadline: \(deploy.stdout)")
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1") }
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "\(result.failures.prefix(3))")
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.decisions.last?.kind == .rolledBack && why.decisions.last?.actor == "health", "\(why.decisions.map(\.summary))")
        }
    }

    @Test func aBlueGreenReleaseCrashLoopingBeforeItsSwitchFailsAtOnce() async throws {
        try await withHello(replicas: 2, strategy: "blue-green: { keep_previous: 10m, deploy_timeout: 5m, drain_timeout: 2s, max_restarts: 2 }") { h, port in
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_CRASH_AFTER_S=0", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("before passing health checks (max_restarts 2): crash loop"), "\(deploy.stdout)")
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }
}
