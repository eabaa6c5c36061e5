import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Canary rollouts end to end: the real `slipway` binary, real hello-app processes with
/// faults, real traffic through the router, analysis on the router's own numbers.
@Suite(.serialized) struct CanaryTests {
    /// A quick policy so the tests run in seconds: judged every second over 5 s windows.
    static let quickAnalysis = """
        analysis:
          default:
            interval: 1s
            inconclusive_limit: 4
            checks:
              - { metric: error_rate, max: 5%, window: 5s }
              - { metric: latency_p95, max: 500ms, window: 5s }
        """

    static func canary(_ steps: String) -> String {
        "canary: { steps: \(steps), keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 5s }"
    }

    func rollout(_ h: SlipwayHarness) async throws -> RolloutRecord {
        try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0]
    }

    func explanation(_ h: SlipwayHarness) async throws -> RolloutExplanation {
        try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
    }

    @Test func badCanaryIsRolledBackByAnalysisWithItsReasons() async throws {
        // A 40 % canary and three clients: enough canary requests for the checks' 20 samples
        // in a 5 s window even on a busy CI machine (at 10 % the analysis stayed
        // inconclusive there, and the canary paused instead of failing).
        try await withHello(replicas: 1, extra: Self.quickAnalysis, strategy: Self.canary("[ {weight: 40}, {pause: 10m} ]")) { h, port in
            let probes = (0..<3).map { _ in TrafficProbe(port: port) }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.3", "--wait"])
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("exceeded 5 %"), "\(deploy.stdout)")
            // Rolled back: every request is on v1 again, and the canary is stopped.
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v1") }
            var result = (ok: 0, failures: [String](), versions: [String: Int]())
            for probe in probes {
                let r = await probe.stop()
                result.ok += r.ok
                result.failures += r.failures
                result.versions.merge(r.versions, uniquingKeysWith: +)
            }
            #expect(result.versions["v2", default: 0] > 0, "the canary took traffic")
            // Only the canary's own faults failed (about 30 % of its ~40 % share), never the stable's.
            #expect(result.failures.allSatisfy { $0.contains("HTTP 500") }, "\(result.failures.prefix(3))")
            #expect(result.failures.count < result.versions["v2", default: 0], "failures beyond the canary's share: \(result.failures.count)")

            let why = try await explanation(h)
            #expect(why.rollout.phase == .failed)
            let last = try #require(why.decisions.last)
            #expect(last.kind == .rolledBack)
            #expect(last.actor == "analysis")
            #expect(last.summary.contains("canary error rate"))
            let check = try #require(last.verdict?.checks.first { $0.evidence.metric == "error_rate" })
            #expect(check.outcome == .fail)
            #expect((check.evidence.canaryValue ?? 0) > 0.05)
            #expect(check.evidence.threshold == 0.05)
            #expect((check.evidence.canarySamples ?? 0) >= 20)
            #expect(check.evidence.stableValue == 0)

            let text = try await h.cli(["why", "hello"])
            #expect(text.stdout.contains("rolled back by analysis: rolled back from 40 % to 0 %"), "\(text.stdout)")
            _ = try await eventually("the canary's instances to stop") {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return s.instances.contains { $0.version == "v2" } ? nil : true
            }

            // retry starts the same version again (and records who asked).
            let retry = try await h.cli(["retry", "hello"])
            #expect(retry.status == 0, "\(retry.stdout)\(retry.stderr)")
            let retried = try await explanation(h)
            #expect(retried.rollout.toVersion == "v2")
            #expect(retried.decisions.first?.kind == .retried)
            #expect(try await h.cli(["abort", "hello"]).status == 0)
        }
    }

    @Test func healthyCanaryIsPromotedThroughEveryStepWithoutFailedRequests() async throws {
        // Up to 30 inconclusive runs (too few samples) before the analysis gives up and the
        // canary pauses: a loaded CI machine needed more than the quick policy's 4 s to see
        // 20 canary samples.
        let patient = Self.quickAnalysis.replacingOccurrences(of: "inconclusive_limit: 4", with: "inconclusive_limit: 30")
        try await withHello(replicas: 1, extra: patient,
                            strategy: Self.canary("[ {weight: 20}, {pause: 2s}, {analysis: default}, {weight: 60}, {pause: 2s} ]")) { h, port in
            // Four clients: enough canary samples for the analysis step (20 per check) even
            // on a machine busy with the whole suite, where one client's requests slow down.
            let probes = (0..<4).map { _ in TrafficProbe(port: port) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v2") }
            var versions: [String: Int] = [:]
            for probe in probes {
                let result = await probe.stop()
                #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))")
                versions.merge(result.versions, uniquingKeysWith: +)
            }
            #expect(versions["v2", default: 0] > 0 && versions["v1", default: 0] > 0, "\(versions)")

            let why = try await explanation(h)
            #expect(why.rollout.phase == .succeeded)
            let kinds = why.decisions.map(\.kind)
            #expect(kinds.first == .started)
            #expect(kinds.filter { $0 == .weightSet }.count == 2)
            #expect(kinds.filter { $0 == .stepCompleted }.count == 3, "\(kinds)")
            #expect(kinds.last == .promoted)
            #expect(why.decisions.last?.actor == "analysis")
            let analysisStep = try #require(why.decisions.first { $0.kind == .stepCompleted && $0.actor == "analysis" })
            #expect(analysisStep.verdict?.outcome == .pass)
        }
    }

    @Test func lowTrafficIsNeverPromotedAndAbortPutsEverythingBackOnStable() async throws {
        try await withHello(replicas: 1, extra: Self.quickAnalysis, strategy: Self.canary("[ {weight: 10}, {pause: 1s} ]")) { h, port in
            // About 5 requests a second: the canary's 10 % share is far below the 20 samples a check needs.
            let probe = TrafficProbe(port: port, limit: 2_000, pace: .milliseconds(200))
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let paused = try await eventually("the rollout to pause on inconclusive analysis", timeout: .seconds(60)) {
                let r = try await rollout(h)
                return r.phase == .paused ? r : nil
            }
            #expect(paused.canary?.pauseReason?.contains("inconclusive 4 runs in a row") == true, "\(String(describing: paused.canary))")
            #expect(paused.canary?.weight == 10)
            let status = try await h.cli(["status", "hello"])
            #expect(status.stdout.contains("paused:"), "\(status.stdout)")

            // Nothing moves it on by itself; a person aborts: weight 0 at once, canary stopped.
            let abort = try await h.cli(["abort", "hello"])
            #expect(abort.status == 0, "\(abort.stdout)\(abort.stderr)")
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v1") }
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "\(result.failures.prefix(3))")
            let why = try await explanation(h)
            #expect(why.rollout.phase == .failed)
            #expect(!why.decisions.contains { $0.kind == .promoted }, "never promoted on missing data")
            #expect(why.decisions.contains { $0.kind == .inconclusive })
            #expect(why.decisions.last?.kind == .aborted)
            #expect(why.decisions.last?.actor.hasPrefix("admin (") == true && why.decisions.last?.actor.contains("via CLI") == true, "the token's principal and the CLI's label: \(why.decisions.last?.actor ?? "")")
        }
    }

    /// `deploy --wait` waits through a pause only a person can end, and says which command
    /// ends it; `--timeout` bounds the wait for scripts (exit 2, the rollout goes on).
    @Test func deployWaitSaysWhoMovesAPausedCanaryOnAndTimeoutBoundsTheWait() async throws {
        try await withHello(replicas: 1, extra: Self.quickAnalysis, strategy: Self.canary("[ {weight: 30}, {pause: {}} ]")) { h, port in
            for (arguments, message) in [
                (["--timeout", "5s"], "--timeout bounds --wait"),
                (["--wait", "--timeout", "0s"], "--timeout 0s: expected a duration above zero"),
                (["--wait", "--timeout", "soon"], "--timeout soon: expected a duration above zero"),
            ] {
                let refused = try await h.cli(["deploy", "hello", "--version", "v2"] + arguments)
                #expect(refused.status == 64, "\(arguments): \(refused.stderr)")
                #expect(refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
            }
            #expect(try await rollout(h).toVersion == "v1", "a refused command line starts nothing")

            // No --timeout: the CLI waits through the pause until a person promotes.
            async let waiting = h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            _ = try await eventually("the canary to wait at its pause") {
                let r = try await rollout(h)
                return r.toVersion == "v2" && r.phase == .paused ? r : nil
            }
            let promote = try await h.cli(["promote", "hello", "--full"])
            #expect(promote.status == 0, "\(promote.stdout)\(promote.stderr)")
            let waited = try await waiting
            #expect(waited.status == 0, "\(waited.stdout)\(waited.stderr)")
            #expect(waited.stdout.contains("waiting for a person: the canary is paused (step 2/2 (pause until promoted): waiting for `slipway promote`); `slipway promote hello` (or `resume`, `abort`) moves it on"), "\(waited.stdout)")
            #expect(waited.stdout.components(separatedBy: "waiting for a person").count == 2, "said once: \(waited.stdout)")
            #expect(waited.stdout.contains("succeeded"), "\(waited.stdout)")

            // --timeout: the wait ends with exit 2 while the rollout goes on.
            let bounded = try await h.cli(["deploy", "hello", "--version", "v3", "--wait", "--timeout", "1s"])
            #expect(bounded.status == 2, "\(bounded.stdout)\(bounded.stderr)")
            #expect(bounded.stdout.contains("is still ") && bounded.stdout.contains("after --timeout 1s; it goes on: follow it with `slipway status hello`"), "\(bounded.stdout)")
            let goesOn = try await eventually("the v3 canary to reach its pause after the CLI stopped waiting") {
                let r = try await rollout(h)
                return r.toVersion == "v3" && r.phase == .paused ? r : nil
            }
            #expect(goesOn.phase == .paused)
        }
    }

    @Test func peopleStepThroughPausesAndCommandsOutOfPlaceGetClearErrors() async throws {
        try await withHello(replicas: 1, extra: Self.quickAnalysis, strategy: Self.canary("[ {weight: 30}, {pause: {}}, {weight: 70}, {pause: {}} ]")) { h, port in
            let none = try await h.cli(["promote", "hello"])
            #expect(none.status == 1)
            #expect(none.stderr.contains("no rollout of hello is running, so there is nothing to promote"), "\(none.stderr)")

            let probe = TrafficProbe(port: port)
            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            _ = try await eventually("the canary to wait at its first pause") {
                let r = try await rollout(h)
                return r.phase == .paused && r.canary?.weight == 30 ? r : nil
            }
            // A tester pins the canary with the header; the split keeps going for everyone else.
            for _ in 0..<10 {
                let reply = try await TestHTTP.request("http://127.0.0.1:\(port)/", method: .GET, headers: [("X-Slipway-Version", "v2")])
                #expect(reply.header("X-Version") == "v2")
            }
            // Sticky: a client without an assignment gets a signed cookie and keeps its version.
            let first = try await TestHTTP.get("http://127.0.0.1:\(port)/")
            let setCookie = try #require(first.header("Set-Cookie"), "a split sets the assignment cookie")
            #expect(setCookie.hasPrefix("slipway_hello="))
            let cookie = String(setCookie.prefix { $0 != ";" })
            for _ in 0..<30 {
                let reply = try await TestHTTP.request("http://127.0.0.1:\(port)/", method: .GET, headers: [("Cookie", cookie)])
                #expect(reply.header("X-Version") == first.header("X-Version"))
                #expect(reply.header("Set-Cookie") == nil)
            }
            let resume = try await h.cli(["resume", "hello"])
            #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
            _ = try await eventually("the canary to wait at its second pause") {
                let r = try await rollout(h)
                return r.phase == .paused && r.canary?.weight == 70 ? r : nil
            }
            let pauseAgain = try await h.cli(["pause", "hello"])
            #expect(pauseAgain.status == 1)
            #expect(pauseAgain.stderr.contains("already paused"), "\(pauseAgain.stderr)")
            let full = try await h.cli(["promote", "hello", "--full"])
            #expect(full.status == 0, "\(full.stdout)\(full.stderr)")
            _ = try await eventually("the rollout to succeed") {
                let r = try await rollout(h)
                return r.phase == .succeeded ? r : nil
            }
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v2") }
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "\(result.failures.prefix(3))")
            let why = try await h.cli(["why", "hello"])
            #expect(why.stdout.contains("promoted by"), "\(why.stdout)")
            #expect(why.stdout.contains("skipped the remaining steps"), "\(why.stdout)")
            let retry = try await h.cli(["retry", "hello"])
            #expect(retry.status == 1)
            #expect(retry.stderr.contains("only a failed deploy can be retried"), "\(retry.stderr)")
        }
    }

    @Test func latencyRegressionIsCaughtByTheBaselineWhileTheFixedThresholdPasses() async throws {
        let analysis = """
            analysis:
              default:
                interval: 1s
                checks:
                  - { metric: latency_p95, max: 500ms, window: 10s }
                  - { compare: baseline, metric: latency, window: 10s, significance: 0.01, min_effect: 0.1 }
            """
        try await withHello(replicas: 1, extra: analysis, strategy: Self.canary("[ {weight: 50}, {pause: 10m} ]")) { h, port in
            let probes = (0..<4).map { _ in TrafficProbe(port: port) }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_LATENCY_MS=300", "--set-env", "FAULT_LATENCY_RATE=0.25", "--wait"])
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            for probe in probes { _ = await probe.stop() }
            let why = try await explanation(h)
            let last = try #require(why.decisions.last)
            #expect(last.kind == .rolledBack)
            let checks = last.verdict?.checks ?? []
            let fixed = try #require(checks.first { $0.evidence.metric == "latency_p95" })
            let baseline = try #require(checks.first { $0.evidence.metric == "latency" })
            #expect(fixed.outcome == .pass, "p95 stays under 500 ms: \(fixed.summary)")
            #expect(baseline.outcome == .fail, "\(baseline.summary)")
            #expect((baseline.evidence.pValue ?? 1) < 0.01)
            #expect((baseline.evidence.effectSize ?? 0) >= 0.1)
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }
}
