import SlipwayCore
import Testing

/// Deploy hooks in the blue-green machine, on a manual clock: the order against traffic,
/// failures, aborts, and the rollout staying non-terminal (its lock held) while a hook runs.
@Suite struct HookMachineTests {
    let spec = BlueGreenSpec(keepPrevious: .seconds(600), deployTimeout: .seconds(60), drainTimeout: .seconds(30))
    let all = HooksSpec(preDeploy: HookSpec(run: ["./migrate"], timeout: .seconds(10)), smoke: HookSpec(run: ["./smoke"]),
                        postDeploy: HookSpec(run: ["./notify"]), onRollback: HookSpec(run: ["./undo"]))

    func machine(_ hooks: HooksSpec, kind: RolloutKind = .deploy, from: String? = "v1", warm: Bool = false) -> BlueGreenMachine {
        var state = BlueGreenState(kind: kind, targetVersion: "v2", fromVersion: from, replicas: 1, warm: warm, spec: spec, now: 1000)
        state.hooks = HookProgress(hooks: hooks)
        return BlueGreenMachine(state: state)
    }

    func pass(_ stage: HookStage) -> RolloutInput { .hookResult(HookOutcome(stage: stage, passed: true, exit: "exit 0")) }

    /// Every action of the whole deploy, in order, with the phase after each input.
    @Test func deployOrderIsPreDeploySmokeSwitchDrainPostDeploy() {
        var m = machine(all)
        var trace: [RolloutAction] = []
        trace += m.handle(.begin, now: 1000)
        trace += m.handle(.targetHealth(healthy: 1), now: 1001)
        #expect(m.state.phase == .runningHook)
        #expect(m.state.hooks?.running == .preDeploy)
        #expect(!trace.contains { if case .switchTraffic = $0 { true } else { false } })
        trace += m.handle(pass(.preDeploy), now: 1002)
        #expect(m.state.hooks?.running == .smoke)
        #expect(m.state.switchedAt == nil)
        trace += m.handle(pass(.smoke), now: 1003)
        #expect(m.state.phase == .draining)
        trace += m.handle(.previousInflight(0), now: 1004)
        #expect(m.state.phase == .runningHook)
        #expect(m.state.hooks?.running == .postDeploy)
        #expect(!m.state.phase.isTerminal)
        trace += m.handle(pass(.postDeploy), now: 1005)
        #expect(m.state.phase == .succeeded)

        let order = trace.compactMap { action -> String? in
            switch action {
            case .startInstances: "start"
            case .runHook(let stage): stage.rawValue
            case .switchTraffic: "switch"
            case .keepWarm: "keep_warm"
            case .record("succeeded", _): "succeeded"
            default: nil
            }
        }
        #expect(order == ["start", "pre_deploy", "smoke", "switch", "keep_warm", "post_deploy", "succeeded"])
    }

    @Test func ticksAndOtherHooksResultsDoNotMoveARunningHook() {
        var m = machine(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        #expect(m.handle(.tick, now: 1005).isEmpty)
        #expect(m.handle(.targetHealth(healthy: 1), now: 1006).isEmpty)
        #expect(m.handle(pass(.smoke), now: 1007).isEmpty)
        #expect(m.state.hooks?.running == .preDeploy)
        // Past the deploy_timeout: a running hook is judged by its own timeout only.
        #expect(m.handle(.tick, now: 1065).isEmpty)
        #expect(m.state.phase == .runningHook)
    }

    @Test func failedPreDeployAbortsWithExitStatusAndTailBeforeAnyTraffic() {
        var m = machine(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        let actions = m.handle(.hookResult(HookOutcome(stage: .preDeploy, passed: false, exit: "exit 3", tail: "relation users exists")), now: 1002)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason == "pre_deploy hook failed: exit 3; output: relation users exists")
        #expect(actions.contains(.stopInstances(version: "v2")))
        #expect(!actions.contains { if case .switchTraffic = $0 { true } else { false } })
        #expect(!actions.contains(.runHook(.smoke)))
        #expect(actions.contains { if case .decide(let d) = $0 { d.kind == .aborted && d.summary.contains("exit 3") } else { false } })
    }

    @Test func failedSmokeAbortsBeforeTheSwitch() {
        var m = machine(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        _ = m.handle(pass(.preDeploy), now: 1002)
        let actions = m.handle(.hookResult(HookOutcome(stage: .smoke, passed: false, exit: "timed out after 1s (timeout); it was killed with its process group")), now: 1003)
        #expect(m.state.phase == .failed)
        #expect(m.state.switchedAt == nil)
        #expect(m.state.failureReason?.contains("timed out") == true)
        #expect(actions.contains(.record(kind: "stable_kept", message: "traffic stays on v1")))
    }

    @Test func failedPostDeployFailsTheRolloutWithTrafficOnTheNewRelease() {
        var m = machine(HooksSpec(postDeploy: HookSpec(run: ["./notify"])))
        _ = m.handle(.begin, now: 1000)
        let switched = m.handle(.targetHealth(healthy: 1), now: 1001)
        #expect(switched.contains(.switchTraffic(to: "v2", from: "v1")))
        _ = m.handle(.previousInflight(0), now: 1002)
        let actions = m.handle(.hookResult(HookOutcome(stage: .postDeploy, passed: false, exit: "exit 1")), now: 1003)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason?.contains("traffic stays on v2") == true)
        #expect(!actions.contains { if case .switchTraffic = $0 { true } else { false } })
        #expect(!actions.contains(.stopInstances(version: "v2")))
    }

    @Test func rollbackRunsOnlyOnRollbackAfterTheSwitchAndItsFailureKeepsTheRollback() {
        var m = machine(HooksSpec(onRollback: HookSpec(run: ["./undo"])), kind: .rollback, warm: true)
        let begin = m.handle(.begin, now: 1000)
        #expect(begin.contains(.switchTraffic(to: "v2", from: "v1")))
        #expect(!begin.contains { if case .runHook = $0 { true } else { false } })
        let drained = m.handle(.previousInflight(0), now: 1001)
        #expect(drained.last == .runHook(.onRollback))
        #expect(m.state.phase == .runningHook)
        let actions = m.handle(.hookResult(HookOutcome(stage: .onRollback, passed: false, exit: "exit 2")), now: 1002)
        #expect(m.state.phase == .succeeded)
        #expect(actions.contains { if case .record("hook_failed", let message) = $0 { message.contains("exit 2") && message.contains("stands") } else { false } })
    }

    @Test func firstDeployRunsPreDeployThenPostDeploy() {
        var m = machine(HooksSpec(preDeploy: HookSpec(run: ["./migrate"]), postDeploy: HookSpec(run: ["./notify"])), kind: .initial, from: nil)
        _ = m.handle(.begin, now: 1000)
        #expect(m.handle(.targetHealth(healthy: 1), now: 1001).last == .runHook(.preDeploy))
        let actions = m.handle(pass(.preDeploy), now: 1002)
        #expect(actions.contains(.switchTraffic(to: "v2", from: nil)))
        #expect(actions.last == .runHook(.postDeploy))
        _ = m.handle(pass(.postDeploy), now: 1003)
        #expect(m.state.phase == .succeeded)
    }

    @Test func abortWhileAHookRunsBeforeTheSwitchStopsTheNewRelease() {
        var m = machine(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        let actions = m.handle(.abort(reason: "aborted by ann"), now: 1002)
        #expect(m.state.phase == .failed)
        #expect(actions.contains(.stopInstances(version: "v2")))
        // A late result of the killed hook changes nothing.
        #expect(m.handle(pass(.preDeploy), now: 1003).isEmpty)
    }

    @Test func aHookThatNeverReportsFailsAMinuteAfterItsTimeout() {
        var m = machine(all)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        #expect(m.handle(.tick, now: 1001 + 10 + BlueGreenMachine.hookReportGrace - 1).isEmpty)
        _ = m.handle(.tick, now: 1001 + 10 + BlueGreenMachine.hookReportGrace)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason?.contains("no result") == true)
    }

    @Test func previewAnalysisStartsAfterTheSmokeHook() {
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false,
                                   spec: BlueGreenSpec(previewAnalysis: "default"), now: 1000)
        state.gate = BlueGreenGate(spec: state.spec, policies: ["default": .default])
        state.hooks = HookProgress(hooks: HooksSpec(smoke: HookSpec(run: ["./smoke"])))
        var m = BlueGreenMachine(state: state)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        #expect(m.state.hooks?.running == .smoke)
        _ = m.handle(pass(.smoke), now: 1002)
        #expect(m.state.phase == .previewing)
    }
}
