import SlipwayCore
import Testing

/// A run's verdict from its checks, and judging a whole policy.
@Suite struct AnalysisRunTests {
    static func check(_ outcome: AnalysisOutcome, _ summary: String) -> CheckVerdict {
        CheckVerdict(check: .threshold(ThresholdCheck(metric: .errorRate, .max(0.05))), outcome: outcome, evidence: CheckEvidence(metric: "error_rate", minSamples: 20), summary: summary)
    }

    @Test(arguments: [
        ([AnalysisOutcome.pass, .pass], AnalysisOutcome.pass),
        ([.pass, .inconclusive], .inconclusive),
        ([.inconclusive, .fail, .pass], .fail),
        ([.fail, .fail], .fail),
        ([], .inconclusive),
    ])
    func anyFailFailsElseAnyInconclusive(outcomes: [AnalysisOutcome], expected: AnalysisOutcome) {
        #expect(AnalysisRunVerdict(checks: outcomes.map { Self.check($0, $0.rawValue) }).outcome == expected)
    }

    @Test func summaryNamesTheDecidingChecks() {
        let run = AnalysisRunVerdict(checks: [Self.check(.pass, "a"), Self.check(.fail, "b"), Self.check(.inconclusive, "c"), Self.check(.fail, "d")])
        #expect(run.reasons == ["b", "d"])
        #expect(run.summary == "analysis failed: b; d")
    }

    @Test func defaultPolicyJudgesEachCheckOverItsWindow() {
        var asked: [Duration] = []
        let canary = VersionWindow(version: "v2", requests: 400, errors: 2, latency: [LatencyBucket(valueMicroseconds: 620_000, count: 400)])
        let run = CheckJudge.run(.default) { window in
            asked.append(window)
            return MetricWindow(seconds: window.seconds, canary: canary)
        }
        #expect(asked == [.seconds(30), .seconds(30)])
        #expect(run.outcome == .fail)
        #expect(run.checks.map(\.outcome) == [.pass, .fail])
        #expect(run.summary == "analysis failed: canary p95 latency 620 ms over 30 s (400 requests) exceeded 500 ms")
    }

    @Test func missingWindowsMakeTheRunInconclusive() {
        let run = CheckJudge.run(.default) { _ in nil }
        #expect(run.outcome == .inconclusive)
        #expect(run.checks.allSatisfy { $0.outcome == .inconclusive })
    }
}
