import SlipwayCore
import Testing

/// The rolling machine driven by a manual clock: surge and unavailability arithmetic,
/// health gating, analysis between batches, and the failure that restores the previous
/// release. No I/O: the test plays the controller and counts instances.
@Suite struct RollingMachineTests {
    static let quick = AnalysisPolicy(interval: .seconds(5), inconclusiveLimit: 3)

    func machine(replicas: Int, surge: Int, unavailable: Int, analysis: String? = nil) -> RollingMachine {
        let spec = RollingSpec(maxSurge: surge, maxUnavailable: unavailable, analysis: analysis,
                               timing: BlueGreenSpec(deployTimeout: .seconds(60), drainTimeout: .seconds(30)))
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: replicas, warm: false, spec: spec.timing, now: 1000)
        state.rolling = RollingProgress(spec: spec, replicas: replicas, policies: ["default": Self.quick])
        return RollingMachine(state: state)
    }

    func verdict(requests: UInt64, errors: UInt64 = 0) -> AnalysisRunVerdict {
        let window = MetricWindow(seconds: 30, canary: VersionWindow(version: "v2", requests: requests, errors: errors,
                                                                       latency: [LatencyBucket(valueMicroseconds: 10_000, count: requests)]),
                                  stable: VersionWindow(version: "v1", requests: 1000, errors: 1, latency: [LatencyBucket(valueMicroseconds: 10_000, count: 1000)]))
        return CheckJudge.run(Self.quick) { _ in window }
    }

    var pass: AnalysisRunVerdict { verdict(requests: 200) }
    var bad: AnalysisRunVerdict { verdict(requests: 400, errors: 80) }

    func decisions(_ actions: [RolloutAction]) -> [DecisionDraft] {
        actions.compactMap { if case .decide(let d) = $0 { return d } else { return nil } }
    }

    /// Instance counts after one input: (new live, new serving, previous serving, previous draining).
    struct Snapshot: Equatable, CustomStringConvertible {
        var newLive: Int, newReady: Int, oldServing: Int, oldDraining: Int
        var description: String { "new \(newReady)/\(newLive) old \(oldServing)+\(oldDraining)" }
    }

    /// Plays a healthy rollout to its end (every batch healthy 5 s after it starts, every
    /// drain done 1 s after it starts, every analysis passing) and checks the bounds after
    /// each input. Returns the snapshots and the actions.
    func run(_ m: inout RollingMachine, replicas: Int, surge: Int, unavailable: Int) -> (snapshots: [Snapshot], actions: [RolloutAction]) {
        var now = 1000.0
        var actions = m.handle(.begin, now: now)
        var snapshots: [Snapshot] = []
        func snap() {
            let p = m.state.rolling!
            let s = Snapshot(newLive: p.newWanted, newReady: p.newReady, oldServing: p.oldRoutable, oldDraining: p.oldRetiring)
            #expect(s.newLive + s.oldServing + s.oldDraining <= replicas + surge, "more than replicas + max_surge live: \(s)")
            #expect(s.newReady + s.oldServing >= replicas - unavailable, "fewer than replicas - max_unavailable serving: \(s)")
            if snapshots.last != s { snapshots.append(s) }
        }
        snap()
        var guardRail = 0
        while !m.state.phase.isTerminal, guardRail < 200 {
            guardRail += 1
            let p = m.state.rolling!
            switch p.wait {
            case .healthy:
                now += 5
                actions += m.handle(.targetHealth(healthy: p.newWanted), now: now)
            case .drain:
                now += 1
                actions += m.handle(.previousInflight(0), now: now)
            case .analysis:
                now = p.nextAnalysisAt!
                let asked = m.handle(.tick, now: now)
                #expect(asked == [.analyze(policy: "default", purpose: .step)])
                actions += asked + m.handle(.analysisResult(purpose: .step, verdict: pass), now: now)
            }
            snap()
        }
        return (snapshots, actions)
    }

    func started(_ actions: [RolloutAction]) -> [Int] {
        actions.compactMap { if case .startInstances("v2", let n) = $0 { return n } else { return nil } }
    }

    func stopKeeps(_ actions: [RolloutAction]) -> [Int] {
        actions.compactMap { if case .stopExtraInstances("v1", let keep) = $0 { return keep } else { return nil } }
    }

    @Test func fourReplicasSurgeOneUnavailableZeroReplacesOneAtATime() {
        var m = machine(replicas: 4, surge: 1, unavailable: 0)
        let (snapshots, actions) = run(&m, replicas: 4, surge: 1, unavailable: 0)
        #expect(m.state.phase == .succeeded)
        #expect(started(actions) == [1, 2, 3, 4])
        #expect(stopKeeps(actions) == [3, 2, 1, 0])
        #expect(snapshots.first == Snapshot(newLive: 1, newReady: 0, oldServing: 4, oldDraining: 0), "a new instance starts before any old one leaves")
        #expect(snapshots.last == Snapshot(newLive: 4, newReady: 4, oldServing: 0, oldDraining: 0))
        #expect(m.state.rolling?.batches == 4)
        #expect(actions.contains(.switchTraffic(to: "v2", from: "v1")))
        let switched = actions.firstIndex(of: .switchTraffic(to: "v2", from: "v1"))!
        #expect(actions.firstIndex(of: .stopExtraInstances(version: "v1", keep: 0))! > switched, "the last old instances stop after the new release became stable")
        #expect(decisions(actions).filter { $0.kind == .stepCompleted }.count == 4)
    }

    @Test func fourReplicasSurgeZeroUnavailableOneRetiresFirst() {
        var m = machine(replicas: 4, surge: 0, unavailable: 1)
        let (snapshots, actions) = run(&m, replicas: 4, surge: 0, unavailable: 1)
        #expect(m.state.phase == .succeeded)
        #expect(snapshots.first == Snapshot(newLive: 0, newReady: 0, oldServing: 3, oldDraining: 1), "no surge: an old instance drains before the first new one starts")
        #expect(started(actions) == [1, 2, 3, 4])
        #expect(stopKeeps(actions) == [3, 2, 1, 0])
        #expect(snapshots.allSatisfy { $0.newLive + $0.oldServing + $0.oldDraining <= 4 })
    }

    @Test func threeReplicasSurgeTwoFinishesInTwoBatches() {
        var m = machine(replicas: 3, surge: 2, unavailable: 0)
        let (snapshots, actions) = run(&m, replicas: 3, surge: 2, unavailable: 0)
        #expect(m.state.phase == .succeeded)
        #expect(started(actions) == [2, 3])
        #expect(stopKeeps(actions) == [1, 0])
        #expect(m.state.rolling?.batches == 2)
        #expect(snapshots.contains(Snapshot(newLive: 2, newReady: 2, oldServing: 1, oldDraining: 2)))
    }

    @Test func surgeAboveReplicasActsAsReplicas() {
        var m = machine(replicas: 2, surge: 5, unavailable: 0)
        let (_, actions) = run(&m, replicas: 2, surge: 2, unavailable: 0)
        #expect(started(actions) == [2])
        #expect(m.state.phase == .succeeded)
    }

    @Test func aBatchWaitsForEveryNewInstanceAndFailsAtTheDeployTimeout() {
        var m = machine(replicas: 3, surge: 1, unavailable: 0)
        _ = m.handle(.begin, now: 1000)
        #expect(m.handle(.targetHealth(healthy: 0), now: 1010).isEmpty)
        #expect(m.handle(.tick, now: 1059).isEmpty, "deploy_timeout is 60 s")
        #expect(m.state.rolling?.newReady == 0)
        let failed = m.handle(.tick, now: 1060)
        #expect(m.state.phase == .failed)
        #expect(m.state.failureReason?.contains("did not become healthy within 1m") == true)
        #expect(failed.contains(.stopInstances(version: "v2")))
        #expect(failed.contains(.startInstances(version: "v1", count: 3)))
        #expect(decisions(failed).map(\.kind) == [.rolledBack])
        #expect(m.state.rolling?.oldRoutable == 3)
    }

    @Test func aLaterBatchThatStaysUnhealthyRestoresThePreviousRelease() {
        var m = machine(replicas: 3, surge: 1, unavailable: 0)
        _ = m.handle(.begin, now: 1000)
        let first = m.handle(.targetHealth(healthy: 1), now: 1005)
        #expect(first.first == .updateRoutes)
        #expect(m.state.rolling?.wait == .drain)
        _ = m.handle(.previousInflight(2), now: 1006)
        #expect(m.state.rolling?.wait == .drain, "retired instances drain until their in-flight requests end")
        let next = m.handle(.previousInflight(0), now: 1007)
        #expect(next.contains(.stopExtraInstances(version: "v1", keep: 2)))
        #expect(next.contains(.startInstances(version: "v2", count: 2)))
        // The second batch: one of two healthy is not enough.
        #expect(m.handle(.targetHealth(healthy: 1), now: 1010).isEmpty)
        let failed = m.handle(.tick, now: 1067)
        #expect(m.state.phase == .failed)
        #expect(failed.contains(.startInstances(version: "v1", count: 3)))
        #expect(decisions(failed).first?.summary.contains("1/3 new ready, 2 previous serving") == true)
    }

    @Test func drainTimeoutStopsRetiredInstancesAnyway() {
        var m = machine(replicas: 2, surge: 1, unavailable: 0)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1005)
        #expect(m.handle(.tick, now: 1034).isEmpty)
        let after = m.handle(.tick, now: 1035)
        #expect(after.contains(.stopExtraInstances(version: "v1", keep: 1)))
        #expect(after.contains { if case .record("retired", let message) = $0 { message.contains("drain_timeout") } else { false } })
    }

    @Test func analysisBetweenBatchesGatesTheNextBatch() {
        var m = machine(replicas: 2, surge: 1, unavailable: 0, analysis: "default")
        _ = m.handle(.begin, now: 1000)
        let healthy = m.handle(.targetHealth(healthy: 1), now: 1005)
        #expect(m.state.rolling?.wait == .analysis)
        #expect(!healthy.contains { if case .record("retiring", _) = $0 { true } else { false } }, "nothing retires before the analysis passed")
        #expect(m.handle(.tick, now: 1009).isEmpty)
        #expect(m.handle(.tick, now: 1010) == [.analyze(policy: "default", purpose: .step)])
        let passed = m.handle(.analysisResult(purpose: .step, verdict: pass), now: 1010)
        #expect(decisions(passed).map(\.kind) == [.analysisPassed])
        #expect(m.state.rolling?.wait == .drain)
        #expect(m.state.rolling?.oldRoutable == 1)
    }

    @Test func failedAnalysisRollsBackAtOnce() {
        var m = machine(replicas: 3, surge: 1, unavailable: 0, analysis: "default")
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1005)
        _ = m.handle(.tick, now: 1010)
        let failed = m.handle(.analysisResult(purpose: .step, verdict: bad), now: 1010)
        #expect(m.state.phase == .failed)
        #expect(decisions(failed).map(\.kind) == [.rolledBack])
        #expect(decisions(failed).first?.actor == "analysis")
        #expect(decisions(failed).first?.verdict != nil)
        #expect(failed.contains(.stopInstances(version: "v2")))
        #expect(failed.contains(.startInstances(version: "v1", count: 3)))
    }

    @Test func abortWhileDrainingRestoresTheRetiredInstances() {
        var m = machine(replicas: 3, surge: 1, unavailable: 0)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1005)
        #expect(m.state.rolling?.oldRetiring == 1)
        let aborted = m.handle(.abort(reason: "aborted by alice"), now: 1006)
        #expect(m.state.phase == .failed)
        #expect(m.state.rolling?.oldRoutable == 3)
        #expect(m.state.rolling?.oldRetiring == 0)
        #expect(aborted.contains(.startInstances(version: "v1", count: 3)))
        #expect(m.handle(.tick, now: 2000).isEmpty, "a failed rollout takes no more input")
    }

    @Test func theDispatcherRunsTheRollingMachine() {
        var state = machine(replicas: 2, surge: 1, unavailable: 0).state
        state.canary = nil
        var m = RolloutMachine(state: state)
        let begun = m.handle(.begin, now: 1000)
        #expect(m.state.phase == .progressing)
        #expect(begun.contains(.startInstances(version: "v2", count: 1)))
    }
}
