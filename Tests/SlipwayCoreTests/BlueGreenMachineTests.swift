import SlipwayCore
import Testing

/// The blue-green machine driven by a manual clock: every transition, no I/O.
@Suite struct BlueGreenMachineTests {
    let spec = BlueGreenSpec(keepPrevious: .seconds(600), deployTimeout: .seconds(60), drainTimeout: .seconds(30))

    func machine(from: String? = "v1", warm: Bool = false, replicas: Int = 2) -> BlueGreenMachine {
        BlueGreenMachine(state: BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: from, replicas: replicas, warm: warm, spec: spec, now: 1000))
    }

    @Test func beginStartsReplicasAndSetsDeployDeadline() {
        var m = machine()
        let actions = m.handle(.begin, now: 1000)
        #expect(actions.contains(.startInstances(version: "v2", count: 2)))
        #expect(m.state.phase == .waitingHealthy)
        #expect(m.state.healthyDeadline == 1060)
    }

    @Test func switchesOnlyWhenEveryReplicaIsHealthy() {
        var m = machine()
        _ = m.handle(.begin, now: 1000)
        #expect(m.handle(.targetHealth(healthy: 1), now: 1001).isEmpty)
        #expect(m.state.phase == .waitingHealthy)
        let actions = m.handle(.targetHealth(healthy: 2), now: 1002)
        #expect(actions.contains(.switchTraffic(to: "v2", from: "v1")))
        #expect(m.state.phase == .draining)
        #expect(m.state.switchedAt == 1002)
        #expect(m.state.drainDeadline == 1032)
    }

    @Test func aCrashLoopFailsBeforeTheSwitchAndSwitchesBackAfterIt() {
        var m = machine()
        _ = m.handle(.begin, now: 1000)
        #expect(m.handle(.targetRestarts(2), now: 1001).isEmpty, "below max_restarts (3)")
        _ = m.handle(.targetRestarts(3), now: 1002)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason?.contains("crashed 3 times before passing health checks (max_restarts 3): crash loop") == true, "\(m.state.failureReason ?? "")")

        var after = machine()
        _ = after.handle(.begin, now: 1000)
        _ = after.handle(.targetHealth(healthy: 2), now: 1002)
        #expect(after.state.phase == .draining)
        let actions = after.handle(.targetRestarts(3), now: 1003)
        #expect(actions.contains(.switchTraffic(to: "v1", from: "v2")) && actions.contains(.stopInstances(version: "v2")), "\(actions)")
        #expect(after.state.phase == .failed)

        // A warm rollback's old restarts are the controller's to discount; the machine never
        // fails a warm release before its switch.
        var warm = machine(warm: true)
        _ = warm.handle(.targetRestarts(9), now: 1000)
        #expect(warm.state.phase == .waitingHealthy)
    }

    @Test func drainEndsWhenInflightReachesZeroAndKeepsPreviousWarm() {
        var m = machine()
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 2), now: 1002)
        #expect(m.handle(.previousInflight(3), now: 1003).isEmpty)
        let actions = m.handle(.previousInflight(0), now: 1004)
        #expect(m.state.phase == .succeeded)
        #expect(actions.contains(.keepWarm(version: "v1", until: 1604)))
        #expect(!actions.contains(.stopInstances(version: "v1")))
    }

    @Test func drainTimeoutEndsTheRolloutAnyway() {
        var m = machine()
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 2), now: 1002)
        #expect(m.handle(.tick, now: 1031).isEmpty)
        let actions = m.handle(.tick, now: 1032)
        #expect(m.state.phase == .succeeded)
        #expect(actions.contains { if case .record(let kind, let message) = $0 { kind == "drained" && message.contains("drain_timeout") } else { false } })
    }

    @Test func zeroKeepPreviousStopsTheOldReleaseAfterDrain() {
        var m = BlueGreenMachine(state: BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false,
                                                       spec: BlueGreenSpec(keepPrevious: .zero), now: 0))
        _ = m.handle(.begin, now: 0)
        _ = m.handle(.targetHealth(healthy: 1), now: 1)
        let actions = m.handle(.previousInflight(0), now: 2)
        #expect(actions.contains(.stopInstances(version: "v1")))
    }

    @Test func deployTimeoutFailsStopsNewInstancesAndNeverSwitches() {
        var m = machine()
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1030)
        #expect(m.handle(.tick, now: 1059.9).isEmpty)
        let actions = m.handle(.tick, now: 1060)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason?.contains("deploy_timeout") == true)
        #expect(actions.contains(.stopInstances(version: "v2")))
        #expect(!actions.contains { if case .switchTraffic = $0 { true } else { false } })
        // A terminal machine ignores everything.
        #expect(m.handle(.targetHealth(healthy: 2), now: 1061).isEmpty)
        #expect(m.state.phase == .failed)
    }

    @Test func warmTargetSwitchesAtBegin() {
        var m = machine(warm: true)
        let actions = m.handle(.begin, now: 1000)
        #expect(!actions.contains { if case .startInstances = $0 { true } else { false } })
        #expect(actions.contains(.switchTraffic(to: "v2", from: "v1")))
        #expect(m.state.phase == .draining)
    }

    @Test func firstReleaseSucceedsAtTheSwitch() {
        var m = machine(from: nil, replicas: 1)
        _ = m.handle(.begin, now: 0)
        let actions = m.handle(.targetHealth(healthy: 1), now: 1)
        #expect(m.state.phase == .succeeded)
        #expect(actions.contains(.switchTraffic(to: "v2", from: nil)))
        #expect(!actions.contains { if case .keepWarm = $0 { true } else { false } })
    }

    @Test func abortBeforeSwitchStopsTheNewRelease() {
        var m = machine()
        _ = m.handle(.begin, now: 0)
        let actions = m.handle(.abort(reason: "aborted by a rollback request"), now: 1)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason == "aborted by a rollback request")
        #expect(actions.contains(.stopInstances(version: "v2")))
    }

    @Test func abortWhileDrainingEndsWithoutStoppingAnything() {
        var m = machine()
        _ = m.handle(.begin, now: 0)
        _ = m.handle(.targetHealth(healthy: 2), now: 1)
        let actions = m.handle(.abort(reason: "rolled back"), now: 2)
        #expect(m.state.phase == .failed)
        #expect(!actions.contains { if case .stopInstances = $0 { true } else { false } })
    }
}
