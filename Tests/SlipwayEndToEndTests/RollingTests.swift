import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Rolling rollouts end to end: the real `slipway` binary and hello-app processes, real
/// traffic through the router while instances are replaced batch by batch.
@Suite(.serialized) struct RollingTests {
    func status(_ h: SlipwayHarness) async throws -> ServiceStatus {
        try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
    }

    func serving(_ s: ServiceStatus) -> [String] {
        s.instances.filter { $0.state == .running }.map(\.version).sorted()
    }

    @Test func rollingDeployReplacesEveryInstanceWithoutFailedRequests() async throws {
        try await withHello(replicas: 3, strategy: "rolling: { max_surge: 1, max_unavailable: 0, deploy_timeout: 20s, drain_timeout: 5s }") { h, port in
            let probe = TrafficProbe(port: port)
            try await probe.waitForAnswer(from: "v1")
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v2") }
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "\(result.failures.count) failed: \(result.failures.prefix(3))")
            #expect(result.versions["v1", default: 0] > 0 && result.versions["v2", default: 0] > 0, "\(result.versions)")

            _ = try await eventually("only v2 instances to be left") {
                let s = try await status(h)
                return serving(s) == ["v2", "v2", "v2"] && s.instances.allSatisfy { $0.version == "v2" || $0.state == .stopped } ? true : nil
            }
            let s = try await status(h)
            #expect(s.stableVersion == "v2")
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.rollout.phase == .succeeded)
            #expect(why.decisions.filter { $0.kind == .stepCompleted }.count == 3, "\(why.decisions.map(\.summary))")
            #expect(why.decisions.first?.summary.contains("batch 1 healthy") == true)

            // Nothing of v1 is left running, so a rollback cold-starts it and switches once it is healthy.
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1") }
        }
    }

    @Test func unhealthyBatchFailsAndTheOldReleaseKeepsServingOnEveryInstance() async throws {
        // deploy_timeout 15s: the status must be caught while the batch waits (3 s was too
        // short a window for a loaded machine's status calls).
        try await withHello(replicas: 3, strategy: "rolling: { max_surge: 1, deploy_timeout: 15s, drain_timeout: 5s }") { h, port in
            let probe = TrafficProbe(port: port)
            async let waited = h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY=1", "--wait"])
            // While the first batch waits for health checks, status says where the rollout is.
            let line = try await eventually("status to show the first batch") {
                let text = try await h.cli(["status", "hello"]).stdout
                return text.contains("rolling deploy to v2, progressing") && text.contains("batch 1 starting: 0/3 new ready, 3 previous serving") ? text : nil
            }
            #expect(!line.isEmpty)
            let deploy = try await waited
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("deploy_timeout"), "\(deploy.stdout)")
            #expect(deploy.stdout.contains("last health check"), "the unhealthy batch's health errors and logs are shown: \(deploy.stdout)")
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v1") }
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "\(result.failures.count) failed: \(result.failures.prefix(3))")
            #expect(result.versions["v2", default: 0] == 0, "unhealthy instances never took traffic")
            _ = try await eventually("v1 back at 3 instances and v2 stopped") {
                let s = try await status(h)
                return serving(s) == ["v1", "v1", "v1"] ? true : nil
            }
            let s = try await status(h)
            #expect(s.stableVersion == "v1")
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.rollout.phase == .failed)
            #expect(why.decisions.last?.kind == .rolledBack)
        }
    }

    @Test func analysisBetweenBatchesPassesForAGoodReleaseAndRollsBackABadOne() async throws {
        try await withHello(replicas: 2, extra: CanaryTests.quickAnalysis,
                            strategy: "rolling: { max_surge: 1, analysis: default, deploy_timeout: 20s, drain_timeout: 5s }") { h, port in
            let probe = TrafficProbe(port: port)
            let good = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
            let passed = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(passed.decisions.filter { $0.kind == .analysisPassed }.count == 2, "\(passed.decisions.map(\.summary))")
            #expect(passed.decisions.first { $0.kind == .analysisPassed }?.verdict?.checks.isEmpty == false)

            let bad = try await h.cli(["deploy", "hello", "--version", "v3", "--set-env", "FAULT_ERROR_RATE=0.5", "--wait"])
            #expect(bad.status == 1, "\(bad.stdout)\(bad.stderr)")
            let result = await probe.stop()
            #expect(result.versions["v3", default: 0] > 0, "the bad batch took its share")
            #expect(result.failures.allSatisfy { $0.contains("HTTP 500") }, "only the bad release's own faults: \(result.failures.prefix(3))")
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.rollout.phase == .failed)
            #expect(why.decisions.last?.kind == .rolledBack)
            #expect(why.decisions.last?.actor == "analysis")
            _ = try await eventually("v2 back at 2 instances and v3 stopped") {
                serving(try await status(h)) == ["v2", "v2"] ? true : nil
            }
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v2") }
        }
    }

    @Test func rollbackInBatchesReplacesTheNewReleaseWithoutFailedRequests() async throws {
        try await withHello(replicas: 3, strategy: "rolling: { max_surge: 1, rollback: batches, deploy_timeout: 20s, drain_timeout: 5s }") { h, port in
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let probe = TrafficProbe(port: port)
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "\(result.failures.count) failed: \(result.failures.prefix(3))")
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.rollout.kind == .rollback)
            #expect(why.rollout.phase == .succeeded)
            #expect(why.decisions.filter { $0.kind == .stepCompleted }.count == 3, "batch by batch: \(why.decisions.map(\.summary))")
            _ = try await eventually("only v1 instances to be left") {
                serving(try await status(h)) == ["v1", "v1", "v1"] ? true : nil
            }
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1") }
        }
    }
}
