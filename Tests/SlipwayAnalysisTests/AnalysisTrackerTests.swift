import SlipwayCore
import Testing

/// Successive runs → continue, abort, pause or fail. No I/O.
@Suite struct AnalysisTrackerTests {
    @Test func byDefaultTheFirstFailureAborts() {
        var t = AnalysisTracker(policy: .default)
        #expect(t.record(.pass, summary: "ok") == .continue)
        #expect(t.record(.inconclusive, summary: "thin") == .continue)
        #expect(t.record(.fail, summary: "analysis failed: canary error rate 19.9 %") == .abort(reason: "analysis failed (failure_limit 1): analysis failed: canary error rate 19.9 %"))
        #expect(t.final?.isTerminal == true)
    }

    @Test func failureLimitCountsFailuresSinceTheLastPass() {
        var t = AnalysisTracker(failureLimit: 3)
        let outcomes: [AnalysisOutcome] = [.fail, .fail, .pass, .fail, .inconclusive, .fail]
        #expect(outcomes.map { t.record($0, summary: "x") }.allSatisfy { $0 == .continue })
        #expect(t.consecutiveFailures == 2)
        #expect(t.record(.fail, summary: "slow") == .abort(reason: "analysis failed 3 runs in a row (failure_limit 3): slow"))
    }

    @Test func afterAbortingItStaysAborted() {
        var t = AnalysisTracker(failureLimit: 1)
        let abort = t.record(.fail, summary: "bad")
        #expect(t.record(.pass, summary: "good") == abort)
        #expect(t.runs == 1)
    }

    @Test func inconclusiveRunsPauseAtTheLimit() {
        var t = AnalysisTracker(inconclusiveLimit: 3, onInconclusive: .pause)
        #expect(t.record(.inconclusive, summary: "a") == .continue)
        #expect(t.record(.inconclusive, summary: "b") == .continue)
        #expect(t.record(.inconclusive, summary: "c") == .pauseInconclusive(reason: "analysis was inconclusive 3 runs in a row (inconclusive_limit 3), pausing the rollout: c"))
        #expect(t.final == nil)
        t.resume()
        #expect(t.consecutiveInconclusive == 0)
        #expect(t.record(.inconclusive, summary: "d") == .continue)
    }

    @Test func conclusiveRunsEndTheInconclusiveStreak() {
        var t = AnalysisTracker(failureLimit: 5, inconclusiveLimit: 2, onInconclusive: .pause)
        for outcome in [AnalysisOutcome.inconclusive, .fail, .inconclusive, .pass, .inconclusive] {
            #expect(t.record(outcome, summary: "") == .continue)
        }
        #expect(t.consecutiveInconclusive == 1)
        #expect(t.consecutiveFailures == 0)
    }

    @Test func inconclusiveCanFailTheRolloutInstead() {
        var t = AnalysisTracker(inconclusiveLimit: 2, onInconclusive: .fail)
        _ = t.record(.inconclusive, summary: "a")
        let decision = t.record(.inconclusive, summary: "too few requests")
        #expect(decision == .failInconclusive(reason: "analysis was inconclusive 2 runs in a row (inconclusive_limit 2), failing the rollout: too few requests"))
        #expect(decision.isTerminal)
        #expect(t.record(.pass, summary: "") == decision)
    }

    @Test func recordsWholeRunVerdicts() {
        var t = AnalysisTracker()
        let window = MetricWindow(seconds: 30, canary: VersionWindow(version: "v2", requests: 412, errors: 82))
        let decision = t.record(CheckJudge.run(.default) { _ in window })
        guard case .abort(let reason) = decision else {
            Issue.record("expected abort, got \(decision)")
            return
        }
        #expect(reason.contains("canary error rate 19.9 % over 30 s (412 requests) exceeded 5 %"))
    }
}
