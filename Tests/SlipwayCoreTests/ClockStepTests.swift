import SlipwayCore
import Testing

/// Steps of the wall clock: a running rollout's timers moved with them so that each keeps
/// the time it had left (the controller's SteadyClock tells a step from time passing).
@Suite struct ClockStepTests {
    static let policy = AnalysisPolicy(interval: .seconds(5), inconclusiveLimit: 3)

    /// A passing run of the default checks (200 canary requests, no errors, 10 ms).
    static var pass: AnalysisRunVerdict {
        let window = MetricWindow(seconds: 30, canary: VersionWindow(version: "v2", requests: 200, errors: 0, latency: [LatencyBucket(valueMicroseconds: 10_000, count: 200)]),
                                  stable: VersionWindow(version: "v1", requests: 1000, errors: 1, latency: [LatencyBucket(valueMicroseconds: 10_000, count: 1000)]))
        return CheckJudge.run(policy) { _ in window }
    }

    /// A tick at `now` and, when it asks for analysis, a passing verdict.
    static func advance(_ m: inout CanaryMachine, to now: Double) {
        let actions = m.handle(.tick, now: now)
        if actions.contains(.analyze(policy: "default", purpose: .background)) {
            _ = m.handle(.analysisResult(purpose: .background, verdict: pass), now: now)
        }
    }

    /// A canary in a 60 s pause: a jump forward of 2 h does not end it, a jump back of 3 h
    /// does not stretch it; it ends 60 s (of real time) after it began.
    @Test func aPausedCanaryKeepsItsRemainingTimeAcrossSteps() {
        // Weight 0: the pause ends on its timer alone (no traffic to judge).
        let spec = CanarySpec(steps: [.weight(0), .pause(.seconds(60)), .weight(50), .pause(nil)], timing: BlueGreenSpec(keepPrevious: .seconds(600), deployTimeout: .seconds(60), drainTimeout: .seconds(30)))
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false, spec: spec.timing, now: 1000)
        state.canary = CanaryProgress(spec: spec, policies: ["default": Self.policy], backgroundPolicy: "default")
        var m = CanaryMachine(state: state)
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(.targetHealth(healthy: 1), now: 1000)
        #expect(m.state.canary?.stepIndex == 1)
        let before = m.state

        // 20 s into the pause the wall clock jumps 2 h forward.
        var moved = m.state
        moved.shiftTimes(by: 7_200)
        var forward = CanaryMachine(state: moved)
        Self.advance(&forward, to: 1_020 + 7_200)
        #expect(forward.state.canary?.stepIndex == 1, "the pause did not end at the jump")
        // Without moving the times, it would have.
        var unmoved = CanaryMachine(state: before)
        Self.advance(&unmoved, to: 1_020 + 7_200)
        #expect(unmoved.state.canary?.stepIndex == 3, "the test's premise: an unmoved pause ends at once")

        // 30 s later the clock jumps 3 h back: the pause ends 10 s after that, not 3 h later.
        var back = forward.state
        back.shiftTimes(by: -10_800)
        var m2 = CanaryMachine(state: back)
        Self.advance(&m2, to: 1_050 - 3_600)
        #expect(m2.state.canary?.stepIndex == 1, "50 s of 60 have passed")
        Self.advance(&m2, to: 1_061 - 3_600)
        #expect(m2.state.canary?.stepIndex == 3, "the pause ended on time: \(String(describing: m2.state.canary))")
    }

    @Test func everyTimerOfEveryStrategyMoves() {
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false, spec: BlueGreenSpec(), now: 100)
        state.healthyDeadline = 160
        state.drainDeadline = 170
        state.switchedAt = 150
        state.approval = ApprovalState(needed: 1, fourEyes: false, requestedBy: "a", requestedAt: 100, expiresAt: 200)
        state.shiftTimes(by: 50)
        #expect(state.startedAt == 150 && state.healthyDeadline == 210 && state.drainDeadline == 220 && state.switchedAt == 200)
        #expect(state.approval?.requestedAt == 150 && state.approval?.expiresAt == 250)
        #expect(state.endedAt == nil, "unset times stay unset")
    }
}
