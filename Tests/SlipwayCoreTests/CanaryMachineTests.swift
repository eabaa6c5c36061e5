import SlipwayCore
import Testing

/// The canary machine driven by a manual clock and real analysis verdicts (CheckJudge on
/// hand-made windows): every transition, no I/O.
@Suite struct CanaryMachineTests {
    static let quick = AnalysisPolicy(interval: .seconds(5), inconclusiveLimit: 3)

    func machine(steps: [CanaryStep], policies: [String: AnalysisPolicy] = ["default": quick], warm: Bool = false, onInconclusive: InconclusiveAction = .pause) -> CanaryMachine {
        var policies = policies
        if onInconclusive == .fail { policies["default"]?.onInconclusive = .fail }
        let spec = CanarySpec(steps: steps, timing: BlueGreenSpec(keepPrevious: .seconds(600), deployTimeout: .seconds(60), drainTimeout: .seconds(30)))
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: warm, spec: spec.timing, now: 1000)
        state.canary = CanaryProgress(spec: spec, policies: policies, backgroundPolicy: "default")
        return CanaryMachine(state: state)
    }

    /// A verdict of the default checks on `requests` canary requests with `errors` 5xx at 10 ms.
    func verdict(requests: UInt64, errors: UInt64 = 0, latencyMs: UInt64 = 10) -> AnalysisRunVerdict {
        let window = MetricWindow(seconds: 30, canary: VersionWindow(version: "v2", requests: requests, errors: errors,
                                                                       latency: [LatencyBucket(valueMicroseconds: latencyMs * 1000, count: requests)]),
                                  stable: VersionWindow(version: "v1", requests: 1000, errors: 1, latency: [LatencyBucket(valueMicroseconds: 10_000, count: 1000)]))
        return CheckJudge.run(Self.quick) { _ in window }
    }

    var pass: AnalysisRunVerdict { verdict(requests: 200) }
    var empty: AnalysisRunVerdict { CheckJudge.run(Self.quick) { _ in nil } }
    var bad: AnalysisRunVerdict { verdict(requests: 400, errors: 80) }

    func healthy(_ m: inout CanaryMachine, at now: Double = 1002) -> [RolloutAction] {
        _ = m.handle(.begin, now: 1000)
        return m.handle(.targetHealth(healthy: 1), now: now)
    }

    func decisions(_ actions: [RolloutAction]) -> [DecisionDraft] {
        actions.compactMap { if case .decide(let d) = $0 { return d } else { return nil } }
    }

    @Test func healthyCanaryGoesThroughEveryStepAndPromotesOnlyAfterPassingAnalysis() {
        var m = machine(steps: [.weight(10), .pause(.seconds(30)), .weight(50), .pause(.seconds(30))])
        let start = healthy(&m)
        #expect(m.state.phase == .progressing)
        #expect(m.state.canary?.weight == 10)
        #expect(start.contains(.updateRoutes))
        #expect(decisions(start).map(\.kind) == [.started, .weightSet])

        // Analysis is due every 5 s; the pause is over at 1032 but completes only after a pass.
        #expect(m.handle(.tick, now: 1007) == [.analyze(policy: "default", purpose: .background)])
        _ = m.handle(.analysisResult(purpose: .background, verdict: pass), now: 1007)
        #expect(m.state.canary?.stepIndex == 1, "a pause step does not end before its time")
        _ = m.handle(.tick, now: 1032)
        _ = m.handle(.analysisResult(purpose: .background, verdict: empty), now: 1032)
        #expect(m.state.canary?.stepIndex == 1, "an inconclusive run does not complete a step")
        let next = m.handle(.analysisResult(purpose: .background, verdict: pass), now: 1037)
        #expect(m.state.canary?.weight == 50)
        #expect(decisions(next).map(\.kind) == [.stepCompleted, .weightSet])
        #expect(decisions(next).first?.summary.contains("30s passed and analysis passed") == true)

        // The second pause needs a pass that started after it began (1037), not the earlier one.
        _ = m.handle(.tick, now: 1067)
        #expect(m.state.phase == .progressing)
        _ = m.handle(.analysisResult(purpose: .background, verdict: pass), now: 1068)
        #expect(m.state.phase == .draining)
        #expect(m.state.canary?.weight == 100)
    }

    @Test func failingAnalysisRollsBackAtOnceWithEvidence() {
        var m = machine(steps: [.weight(10), .pause(.seconds(600))])
        _ = healthy(&m)
        _ = m.handle(.tick, now: 1007)
        let actions = m.handle(.analysisResult(purpose: .background, verdict: bad), now: 1007)
        #expect(m.state.phase == .failed)
        #expect(m.state.canary?.weight == 0)
        #expect(actions.first == .updateRoutes, "traffic leaves the canary before anything else happens")
        #expect(actions.contains(.stopInstances(version: "v2")))
        let decision = try! #require(decisions(actions).first)
        #expect(decision.kind == .rolledBack)
        #expect(decision.actor == "analysis")
        #expect(decision.summary.contains("canary error rate 20 % over 30 s (400 requests) exceeded 5 %"))
        #expect(decision.verdict?.outcome == .fail)
        #expect(m.handle(.tick, now: 1010).isEmpty, "a failed rollout takes no more input")
    }

    @Test func lowTrafficIsNeverPromotedAndPausesAfterTheInconclusiveLimit() {
        var m = machine(steps: [.weight(10), .pause(.seconds(5))])
        _ = healthy(&m)
        for (i, t) in [1007.0, 1012, 1017].enumerated() {
            _ = m.handle(.tick, now: t)
            let actions = m.handle(.analysisResult(purpose: .background, verdict: empty), now: t)
            if i < 2 {
                #expect(m.state.phase == .progressing)
            } else {
                #expect(m.state.phase == .paused)
                #expect(decisions(actions).first?.kind == .inconclusive)
                #expect(m.state.canary?.pauseReason?.contains("inconclusive 3 runs in a row") == true)
            }
        }
        // Still paused much later: only a person (or data) moves it on.
        for t in stride(from: 1022.0, to: 1200, by: 5) {
            _ = m.handle(.tick, now: t)
            _ = m.handle(.analysisResult(purpose: .background, verdict: empty), now: t)
        }
        #expect(m.state.phase == .paused)
        #expect(m.state.canary?.weight == 10)
    }

    @Test func inconclusiveCanFailWhenConfigured() {
        var m = machine(steps: [.weight(10), .pause(.seconds(5))], onInconclusive: .fail)
        _ = healthy(&m)
        for t in [1007.0, 1012, 1017] {
            _ = m.handle(.tick, now: t)
            _ = m.handle(.analysisResult(purpose: .background, verdict: empty), now: t)
        }
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason?.contains("failing the rollout") == true)
    }

    @Test func indefinitePauseWaitsForPromote() {
        var m = machine(steps: [.weight(20), .pause(nil), .weight(60), .pause(.seconds(10))])
        _ = healthy(&m)
        #expect(m.state.phase == .paused)
        #expect(m.state.canary?.pausedByStep == true)
        _ = m.handle(.tick, now: 2000)
        _ = m.handle(.analysisResult(purpose: .background, verdict: pass), now: 2000)
        #expect(m.state.phase == .paused, "passing analysis does not end a pause {} step")
        let actions = m.handle(.command(.promote, by: "alice via CLI"), now: 2001)
        #expect(m.state.phase == .progressing)
        #expect(m.state.canary?.weight == 60)
        #expect(decisions(actions).first?.actor == "alice via CLI")
    }

    @Test func promoteFullSkipsEverything() {
        var m = machine(steps: [.weight(10), .pause(.seconds(600)), .analysis("default"), .weight(50)])
        _ = healthy(&m)
        let actions = m.handle(.command(.promoteFull, by: "bob"), now: 1003)
        #expect(m.state.phase == .draining)
        #expect(actions.contains(.switchTraffic(to: "v2", from: "v1")))
        #expect(decisions(actions).first?.kind == .promoted)
    }

    @Test func analysisStepCompletesOnItsFirstPass() {
        var m = machine(steps: [.weight(10), .analysis("default"), .weight(30), .pause(nil)])
        _ = healthy(&m)
        #expect(m.state.canary?.stepIndex == 1)
        // Background and step analysis both fall due after one interval.
        let due = m.handle(.tick, now: 1007)
        #expect(due.contains(.analyze(policy: "default", purpose: .step)))
        _ = m.handle(.analysisResult(purpose: .step, verdict: empty), now: 1007)
        #expect(m.state.canary?.stepIndex == 1)
        let done = m.handle(.analysisResult(purpose: .step, verdict: pass), now: 1012)
        #expect(m.state.canary?.weight == 30)
        #expect(decisions(done).first?.verdict?.outcome == .pass)
    }

    @Test func manualPauseHoldsUntilResumeAndResumeResetsStreaks() {
        var m = machine(steps: [.weight(10), .pause(.seconds(5))])
        _ = healthy(&m)
        _ = m.handle(.tick, now: 1007)
        _ = m.handle(.analysisResult(purpose: .background, verdict: empty), now: 1007)
        _ = m.handle(.command(.pause, by: "carol"), now: 1008)
        #expect(m.state.phase == .paused)
        _ = m.handle(.tick, now: 1012)
        _ = m.handle(.analysisResult(purpose: .background, verdict: pass), now: 1012)
        #expect(m.state.phase == .paused, "a person's pause holds even with passing analysis")
        _ = m.handle(.command(.resume, by: "carol"), now: 1013)
        #expect(m.state.phase == .progressing)
        #expect(m.state.canary?.background.consecutiveInconclusive == 0)
        _ = m.handle(.tick, now: 1017)
        _ = m.handle(.analysisResult(purpose: .background, verdict: pass), now: 1017)
        #expect(m.state.phase == .draining)
    }

    @Test func failingAnalysisStillAbortsWhilePaused() {
        var m = machine(steps: [.weight(10), .pause(nil)])
        _ = healthy(&m)
        _ = m.handle(.tick, now: 1007)
        _ = m.handle(.analysisResult(purpose: .background, verdict: bad), now: 1007)
        #expect(m.state.phase == .failed)
    }

    @Test func crashLoopRollsBack() {
        var m = machine(steps: [.weight(10), .pause(.seconds(600))])
        _ = healthy(&m)
        #expect(m.handle(.targetRestarts(2), now: 1010).isEmpty)
        let actions = m.handle(.targetRestarts(3), now: 1011)
        #expect(m.state.phase == .failed)
        #expect(decisions(actions).first?.actor == "health")
        #expect(m.state.failureReason?.contains("crash loop") == true)
    }

    @Test func deployTimeoutBeforeHealthyFailsLikeBlueGreen() {
        var m = machine(steps: [.weight(10)])
        _ = m.handle(.begin, now: 1000)
        let actions = m.handle(.tick, now: 1061)
        #expect(m.state.phase == .failed)
        #expect(actions.contains(.stopInstances(version: "v2")))
    }

    @Test func drainAfterPromotionKeepsPreviousWarm() {
        var m = machine(steps: [.weight(100)])
        _ = healthy(&m)
        _ = m.handle(.tick, now: 1007)
        _ = m.handle(.analysisResult(purpose: .background, verdict: pass), now: 1007)
        #expect(m.state.phase == .draining)
        let actions = m.handle(.previousInflight(0), now: 1008)
        #expect(m.state.phase == .succeeded)
        #expect(actions.contains(.keepWarm(version: "v1", until: 1608)))
    }

    @Test func stepListsThatCanNeverFinishAreRejected() {
        func problems(_ steps: [CanaryStep], analysis: String? = nil) -> [String] {
            CanarySpec(steps: steps, analysis: analysis).problems(policies: ["slow": Self.quick]).map(\.message)
        }
        #expect(problems([.weight(10), .pause(.seconds(5))]).isEmpty)
        #expect(problems([]).first?.contains("at least one step") == true)
        #expect(problems([.weight(101)]).first?.contains("between 0 and 100 (got 101)") == true)
        #expect(problems([.weight(-1)]).first?.contains("between 0 and 100") == true)
        #expect(problems([.pause(.seconds(5)), .analysis("slow"), .weight(10)]).first?.contains("weight is 0") == true)
        #expect(problems([.weight(10), .analysis("fast")]).first?.contains("unknown analysis `fast`; defined: slow") == true)
        #expect(problems([.weight(10)], analysis: "nope").first?.contains("unknown analysis `nope`") == true)
        #expect(problems([.weight(0), .pause(nil)]).contains { $0.contains("no step gives the canary any traffic") })
    }
}
