import SlipwayCore
import Testing

/// Deploy hooks with the canary and rolling machines, and on_rollback after a blue-green
/// watch switched back, on a manual clock: the order of hooks against traffic, failures,
/// and on_rollback after traffic went back (the rollout holding its lock meanwhile).
@Suite struct HookStrategyTests {
    static let quick = AnalysisPolicy(interval: .seconds(5), inconclusiveLimit: 3)
    let timing = BlueGreenSpec(keepPrevious: .seconds(600), deployTimeout: .seconds(60), drainTimeout: .seconds(30))
    let all = HooksSpec(preDeploy: HookSpec(run: ["./migrate"], timeout: .seconds(10)), smoke: HookSpec(run: ["./smoke"]),
                        postDeploy: HookSpec(run: ["./notify"]), onRollback: HookSpec(run: ["./undo"]))

    func canary(_ hooks: HooksSpec, steps: [CanaryStep] = [.weight(20), .pause(.seconds(600))]) -> CanaryMachine {
        let spec = CanarySpec(steps: steps, timing: timing)
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false, spec: timing, now: 1000)
        state.canary = CanaryProgress(spec: spec, policies: ["default": Self.quick], backgroundPolicy: "default")
        state.hooks = HookProgress(hooks: hooks)
        return CanaryMachine(state: state)
    }

    func rolling(_ hooks: HooksSpec, kind: RolloutKind = .deploy) -> RollingMachine {
        let spec = RollingSpec(maxSurge: 1, maxUnavailable: 0, timing: timing)
        var state = BlueGreenState(kind: kind, targetVersion: "v2", fromVersion: "v1", replicas: 2, warm: false, spec: timing, now: 1000)
        state.rolling = RollingProgress(spec: spec, replicas: 2, policies: ["default": Self.quick])
        state.hooks = HookProgress(hooks: hooks)
        return RollingMachine(state: state)
    }

    func verdict(requests: UInt64, errors: UInt64 = 0) -> AnalysisRunVerdict {
        let window = MetricWindow(seconds: 30, canary: VersionWindow(version: "v2", requests: requests, errors: errors,
                                                                       latency: [LatencyBucket(valueMicroseconds: 10_000, count: requests)]),
                                  stable: VersionWindow(version: "v1", requests: 1000, errors: 1, latency: [LatencyBucket(valueMicroseconds: 10_000, count: 1000)]))
        return CheckJudge.run(Self.quick) { _ in window }
    }

    var good: AnalysisRunVerdict { verdict(requests: 200) }
    var bad: AnalysisRunVerdict { verdict(requests: 400, errors: 80) }

    func pass(_ stage: HookStage) -> RolloutInput { .hookResult(HookOutcome(stage: stage, passed: true, exit: "exit 0")) }
    func failed(_ stage: HookStage, _ exit: String = "exit 3") -> RolloutInput { .hookResult(HookOutcome(stage: stage, passed: false, exit: exit)) }

    /// The actions that matter for ordering, as words.
    func order(_ actions: [RolloutAction]) -> [String] {
        actions.compactMap { action -> String? in
            switch action {
            case .startInstances(let version, let count): "start \(version) \(count)"
            case .runHook(let stage): stage.rawValue
            case .switchTraffic(let to, _): "switch \(to)"
            case .updateRoutes: "routes"
            case .stopInstances(let version): "stop \(version)"
            case .stopExtraInstances(let version, let keep): "stop \(version) keeping \(keep)"
            case .keepWarm: "keep_warm"
            case .decide(let d) where d.kind == .weightSet: "weight \(d.weight ?? -1)"
            case .decide(let d): "decide \(d.kind.rawValue) by \(d.actor)"
            case .record("succeeded", _): "succeeded"
            case .record("failed", _): "failed"
            default: nil
            }
        }
    }

    // MARK: canary

    @Test func canaryRunsPreDeployAndSmokeBeforeAnyWeightAndPostDeployAfterPromotion() {
        var m = canary(all, steps: [.weight(20)])
        var trace: [RolloutAction] = []
        trace += m.handle(.begin, now: 1000)
        trace += m.handle(.targetHealth(healthy: 1), now: 1001)
        #expect(m.state.phase == .runningHook)
        #expect(m.state.hooks?.running == .preDeploy)
        #expect(m.state.canary?.weight == 0)
        #expect(m.state.canary?.trafficSince == nil)
        // Nothing but the hook moves while it runs: no analysis, no steps.
        #expect(m.handle(.tick, now: 1030).isEmpty)
        trace += m.handle(pass(.preDeploy), now: 1031)
        #expect(m.state.hooks?.running == .smoke)
        #expect(m.state.canary?.weight == 0)
        trace += m.handle(pass(.smoke), now: 1032)
        #expect(m.state.phase == .progressing)
        #expect(m.state.canary?.weight == 20)
        trace += m.handle(.tick, now: 1037)
        trace += m.handle(.analysisResult(purpose: .background, verdict: good), now: 1037)
        #expect(m.state.phase == .draining)
        trace += m.handle(.previousInflight(0), now: 1038)
        #expect(m.state.phase == .runningHook)
        #expect(m.state.hooks?.running == .postDeploy)
        trace += m.handle(pass(.postDeploy), now: 1039)
        #expect(m.state.phase == .succeeded)
        #expect(order(trace) == ["start v2 1", "pre_deploy", "smoke", "decide started by health", "routes", "weight 20",
                                 "decide promoted by analysis", "switch v2", "keep_warm", "post_deploy", "succeeded"])
    }

    @Test func canaryPreDeployOrSmokeFailureFailsBeforeAnyTrafficWithoutOnRollback() {
        for stage in [HookStage.preDeploy, .smoke] {
            var m = canary(all)
            _ = m.handle(.begin, now: 1000)
            _ = m.handle(.targetHealth(healthy: 1), now: 1001)
            if stage == .smoke { _ = m.handle(pass(.preDeploy), now: 1002) }
            let actions = m.handle(failed(stage), now: 1003)
            #expect(m.state.phase == .failed)
            #expect(m.state.canary?.weight == 0)
            #expect(m.state.failureReason == "\(stage.rawValue) hook failed: exit 3")
            #expect(actions.contains(.stopInstances(version: "v2")))
            #expect(actions.contains { if case .decide(let d) = $0 { d.kind == .aborted && d.actor == "hook" } else { false } })
            #expect(!actions.contains { if case .decide(let d) = $0 { d.kind == .weightSet } else { false } })
            #expect(!actions.contains(.runHook(.onRollback)), "no traffic reached v2: nothing to undo")
        }
    }

    @Test func canaryRolledBackByAnalysisRunsOnRollbackAfterTrafficIsBackAndKeepsTheReason() {
        var m = canary(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        _ = m.handle(pass(.preDeploy), now: 1002)
        _ = m.handle(pass(.smoke), now: 1003)
        #expect(m.state.canary?.weight == 20)
        _ = m.handle(.tick, now: 1008)
        let actions = m.handle(.analysisResult(purpose: .background, verdict: bad), now: 1008)
        #expect(order(actions) == ["routes", "decide rolled_back by analysis", "stop v2", "on_rollback"])
        #expect(m.state.phase == .runningHook, "non-terminal while on_rollback runs: the lock is held")
        #expect(m.state.canary?.weight == 0)
        let reason = try! #require(m.state.failureReason)
        #expect(m.handle(.tick, now: 1009).isEmpty)
        let ended = m.handle(failed(.onRollback, "exit 7"), now: 1010)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason == reason, "the original failure reason is kept")
        #expect(order(ended) == ["failed"])
        #expect(ended.contains { if case .record("hook_failed", let message) = $0 { message.contains("exit 7") } else { false } })
    }

    @Test func canaryAbortedByAPersonAfterTrafficRunsOnRollbackAndAnAbortThenEndsIt() {
        var m = canary(HooksSpec(onRollback: HookSpec(run: ["./undo"])))
        _ = m.handle(.begin, now: 1000)
        let start = m.handle(.targetHealth(healthy: 1), now: 1001)
        #expect(!start.contains { if case .runHook = $0 { true } else { false } }, "no hook before traffic configured")
        let actions = m.handle(.abort(reason: "aborted by ann"), now: 1002)
        #expect(actions.last == .runHook(.onRollback))
        #expect(m.state.phase == .runningHook)
        _ = m.handle(.abort(reason: "aborted again by ann"), now: 1003)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason == "aborted by ann")
        #expect(m.handle(pass(.onRollback), now: 1004).isEmpty)
    }

    @Test func canaryOnRollbackPassingEndsFailed() {
        var m = canary(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        _ = m.handle(pass(.preDeploy), now: 1002)
        _ = m.handle(pass(.smoke), now: 1003)
        _ = m.handle(.targetRestarts(5), now: 1004)
        #expect(m.state.hooks?.running == .onRollback)
        _ = m.handle(pass(.onRollback), now: 1005)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason?.contains("crash loop") == true)
    }

    // MARK: rolling

    @Test func rollingRunsPreDeployAndSmokeBeforeTheFirstBatchIsRoutableAndPostDeployAfterTheLast() {
        var m = rolling(all)
        var trace = m.handle(.begin, now: 1000)
        #expect(m.state.rolling?.newWanted == 1)
        trace += m.handle(.targetHealth(healthy: 1), now: 1005)
        #expect(m.state.phase == .runningHook)
        #expect(m.state.rolling?.newReady == 0, "the first batch is not routable while the hooks run")
        #expect(m.state.rolling?.trafficSince == nil)
        // The batch's deploy_timeout does not apply to a running hook.
        #expect(m.handle(.tick, now: 1070).isEmpty)
        trace += m.handle(pass(.preDeploy), now: 1071)
        #expect(m.state.rolling?.newReady == 0)
        trace += m.handle(pass(.smoke), now: 1072)
        #expect(m.state.phase == .progressing)
        #expect(m.state.rolling?.newReady == 1)
        #expect(m.state.rolling?.wait == .drain)
        trace += m.handle(.previousInflight(0), now: 1073)
        trace += m.handle(.targetHealth(healthy: 2), now: 1078)
        #expect(m.state.hooks?.done == [.preDeploy, .smoke], "the hooks before traffic run once")
        trace += m.handle(.previousInflight(0), now: 1079)
        #expect(m.state.phase == .runningHook)
        #expect(m.state.hooks?.running == .postDeploy)
        #expect(trace.last == .runHook(.postDeploy))
        trace += m.handle(pass(.postDeploy), now: 1080)
        #expect(m.state.phase == .succeeded)
        #expect(order(trace) == ["start v2 1", "pre_deploy", "smoke", "routes", "decide step_completed by health", "routes",
                                 "stop v1 keeping 1", "start v2 2", "routes", "decide step_completed by health", "routes",
                                 "switch v2", "stop v1 keeping 0", "post_deploy", "succeeded"])
    }

    @Test func rollingSmokeFailureRestoresThePreviousReleaseWithoutOnRollback() {
        var m = rolling(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1005)
        _ = m.handle(pass(.preDeploy), now: 1006)
        let actions = m.handle(failed(.smoke), now: 1007)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason == "smoke hook failed: exit 3")
        #expect(order(actions) == ["decide aborted by hook", "failed", "stop v2", "start v1 2"])
        #expect(m.state.rolling?.oldRoutable == 2)
    }

    @Test func rollingFailureAfterTrafficRunsOnRollbackAfterThePreviousReleaseIsBack() {
        var m = rolling(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1005)
        _ = m.handle(pass(.preDeploy), now: 1006)
        _ = m.handle(pass(.smoke), now: 1007)
        _ = m.handle(.previousInflight(0), now: 1008)
        #expect(m.state.rolling?.newWanted == 2)
        // Batch 2 never becomes healthy.
        let actions = m.handle(.tick, now: 1008 + 61)
        #expect(order(actions) == ["decide rolled_back by health", "stop v2", "start v1 2", "on_rollback"])
        #expect(m.state.phase == .runningHook)
        let reason = try! #require(m.state.failureReason)
        #expect(reason.contains("deploy_timeout"))
        let ended = m.handle(pass(.onRollback), now: 1070)
        #expect(order(ended) == ["failed"])
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason == reason)
    }

    @Test func rollingRollbackRunsOnRollbackAtTheEndAndNotOnItsOwnFailure() {
        var m = rolling(HooksSpec(onRollback: HookSpec(run: ["./undo"])), kind: .rollback)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1005)
        _ = m.handle(.previousInflight(0), now: 1006)
        _ = m.handle(.targetHealth(healthy: 2), now: 1007)
        let end = m.handle(.previousInflight(0), now: 1008)
        #expect(end.last == .runHook(.onRollback))
        _ = m.handle(pass(.onRollback), now: 1009)
        #expect(m.state.phase == .succeeded)

        var broken = rolling(HooksSpec(onRollback: HookSpec(run: ["./undo"])), kind: .rollback)
        _ = broken.handle(.begin, now: 1000)
        _ = broken.handle(.targetHealth(healthy: 1), now: 1005)
        let failed = broken.handle(.abort(reason: "aborted by ann"), now: 1006)
        #expect(broken.state.phase == .failed)
        #expect(!failed.contains(.runHook(.onRollback)), "a failed rollback does not undo the release it was leaving")
    }

    // MARK: blue-green watch

    @Test func blueGreenWatchSwitchBackRunsOnRollbackThenFailsWithTheWatchReason() {
        let spec = BlueGreenSpec(keepPrevious: .seconds(600), deployTimeout: .seconds(60), drainTimeout: .seconds(30), watch: .seconds(60))
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false, spec: spec, now: 1000)
        state.gate = BlueGreenGate(spec: spec, policies: ["default": Self.quick])
        state.hooks = HookProgress(hooks: all)
        var m = BlueGreenMachine(state: state)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        _ = m.handle(pass(.preDeploy), now: 1002)
        _ = m.handle(pass(.smoke), now: 1003)
        _ = m.handle(.previousInflight(0), now: 1004)
        #expect(m.state.phase == .watching)
        _ = m.handle(.tick, now: 1009)
        let actions = m.handle(.analysisResult(purpose: .background, verdict: bad), now: 1009)
        #expect(order(actions) == ["decide rolled_back by analysis", "switch v1", "stop v2", "on_rollback"])
        #expect(m.state.phase == .runningHook)
        #expect(!(m.state.hooks?.done.contains(.postDeploy) ?? true), "post_deploy never ran")
        let ended = m.handle(pass(.onRollback), now: 1010)
        #expect(order(ended) == ["failed"])
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason?.hasPrefix("watch analysis `default`") == true)
    }
}
