import SlipwayCore
import Testing

/// Blue-green with preview analysis and a post-switch watch, driven by a manual clock.
@Suite struct BlueGreenGateTests {
    static let quick = AnalysisPolicy(interval: .seconds(5), inconclusiveLimit: 2)

    func machine(preview: String? = nil, watch: Duration = .zero) -> BlueGreenMachine {
        let spec = BlueGreenSpec(keepPrevious: .seconds(600), deployTimeout: .seconds(60), drainTimeout: .seconds(30), previewAnalysis: preview, watch: watch)
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false, spec: spec, now: 1000)
        state.gate = BlueGreenGate(spec: spec, policies: ["default": Self.quick])
        return BlueGreenMachine(state: state)
    }

    func verdict(requests: UInt64, errors: UInt64 = 0) -> AnalysisRunVerdict {
        let window = MetricWindow(seconds: 30, canary: VersionWindow(version: "v2", requests: requests, errors: errors,
                                                                       latency: [LatencyBucket(valueMicroseconds: 5000, count: requests)]))
        return CheckJudge.run(Self.quick) { _ in window }
    }

    func kinds(_ actions: [RolloutAction]) -> [DecisionKind] {
        actions.compactMap { if case .decide(let d) = $0 { d.kind } else { nil } }
    }

    @Test func previewAnalysisGatesTheSwitch() {
        var m = machine(preview: "default")
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        #expect(m.state.phase == .previewing, "healthy is not enough: the preview must pass")
        #expect(m.handle(.tick, now: 1006) == [.analyze(policy: "default", purpose: .step)])
        _ = m.handle(.analysisResult(purpose: .step, verdict: verdict(requests: 3)), now: 1006)
        #expect(m.state.phase == .previewing, "too few preview requests is not a pass")
        let actions = m.handle(.analysisResult(purpose: .step, verdict: verdict(requests: 100)), now: 1011)
        #expect(m.state.phase == .draining)
        #expect(actions.contains(.switchTraffic(to: "v2", from: "v1")))
        #expect(kinds(actions) == [.promoted])
    }

    @Test func failedPreviewNeverSwitches() {
        var m = machine(preview: "default")
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        let actions = m.handle(.analysisResult(purpose: .step, verdict: verdict(requests: 100, errors: 30)), now: 1006)
        #expect(m.state.phase == .failed)
        #expect(actions.contains(.stopInstances(version: "v2")))
        #expect(!actions.contains { if case .switchTraffic = $0 { true } else { false } })
    }

    @Test func inconclusivePreviewWaitsForAPerson() {
        var m = machine(preview: "default")
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        _ = m.handle(.analysisResult(purpose: .step, verdict: verdict(requests: 0)), now: 1006)
        let second = m.handle(.analysisResult(purpose: .step, verdict: verdict(requests: 0)), now: 1011)
        #expect(kinds(second) == [.inconclusive])
        #expect(m.handle(.analysisResult(purpose: .step, verdict: verdict(requests: 0)), now: 1016).isEmpty, "noted once")
        #expect(m.state.phase == .previewing)
        let promoted = m.handle(.command(.promote, by: "dana"), now: 1020)
        #expect(m.state.phase == .draining)
        #expect(kinds(promoted) == [.promoted])
    }

    @Test func failedWatchSwitchesBackToTheWarmPrevious() {
        var m = machine(watch: .seconds(60))
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        let drained = m.handle(.previousInflight(0), now: 1002)
        #expect(m.state.phase == .watching)
        #expect(!drained.contains { if case .keepWarm = $0 { true } else if case .stopInstances = $0 { true } else { false } }, "the previous release stays as it is while watched")
        #expect(m.handle(.tick, now: 1007) == [.analyze(policy: "default", purpose: .background)])
        _ = m.handle(.analysisResult(purpose: .background, verdict: verdict(requests: 100)), now: 1007)
        #expect(m.state.phase == .watching)
        let actions = m.handle(.analysisResult(purpose: .background, verdict: verdict(requests: 100, errors: 40)), now: 1012)
        #expect(m.state.phase == .failed)
        #expect(actions.contains(.switchTraffic(to: "v1", from: "v2")))
        #expect(actions.contains(.stopInstances(version: "v2")))
        #expect(kinds(actions) == [.rolledBack])
    }

    @Test func watchEndsInSuccessAndKeepsPreviousWarm() {
        var m = machine(watch: .seconds(20))
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        _ = m.handle(.previousInflight(0), now: 1002)
        let actions = m.handle(.tick, now: 1021)
        #expect(m.state.phase == .succeeded)
        #expect(actions.contains(.keepWarm(version: "v1", until: 1621)))
    }

    @Test func noGateMeansPlainBlueGreen() {
        var m = machine()
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1001)
        _ = m.handle(.previousInflight(0), now: 1002)
        #expect(m.state.phase == .succeeded)
    }
}
