import SlipwayCore
import Testing

/// Threshold checks: the canary's own numbers against a limit.
@Suite struct ThresholdJudgeTests {
    static func version(_ name: String, requests: UInt64, errors: UInt64 = 0, latency: [(ms: UInt64, count: UInt64)] = []) -> VersionWindow {
        VersionWindow(version: name, requests: requests, errors: errors, latency: latency.map { LatencyBucket(valueMicroseconds: $0.ms * 1000, count: $0.count) })
    }

    let errorRate = ThresholdCheck(metric: .errorRate, .max(0.05))
    let p95 = ThresholdCheck(metric: .latencyP95, .max(500))

    @Test func errorRateAboveTheLimitFailsAndSaysWhy() {
        let window = MetricWindow(seconds: 30, canary: Self.version("v2", requests: 412, errors: 82), stable: Self.version("v1", requests: 3981, errors: 4))
        let v = CheckJudge.judge(errorRate, window: window)
        #expect(v.outcome == .fail)
        #expect(v.summary == "canary error rate 19.9 % over 30 s (412 requests) exceeded 5 % (stable 0.1 %)")
        #expect(v.evidence.canaryValue == 82.0 / 412)
        #expect(v.evidence.stableValue == 4.0 / 3981)
        #expect(v.evidence.threshold == 0.05 && v.evidence.bound == "max")
        #expect(v.evidence.canarySamples == 412 && v.evidence.stableSamples == 3981 && v.evidence.minSamples == 20)
        #expect(v.evidence.windowSeconds == 30)
    }

    @Test func exactlyAtTheLimitPasses() {
        let v = CheckJudge.judge(errorRate, window: MetricWindow(seconds: 30, canary: Self.version("v2", requests: 20, errors: 1)))
        #expect(v.outcome == .pass)
        #expect(v.summary == "canary error rate 5 % over 30 s (20 requests) is within the 5 % maximum")
    }

    @Test func valuesJustOverTheLimitReadDifferentlyFromIt() {
        let v = CheckJudge.judge(errorRate, window: MetricWindow(seconds: 30, canary: Self.version("v2", requests: 10_000, errors: 504)))
        #expect(v.outcome == .fail)
        #expect(v.summary.contains("5.04 % over 30 s (10000 requests) exceeded 5 %"))
    }

    @Test func tooFewRequestsAreInconclusiveNeverAPass() {
        let v = CheckJudge.judge(errorRate, window: MetricWindow(seconds: 30, canary: Self.version("v2", requests: 19)))
        #expect(v.outcome == .inconclusive)
        #expect(v.summary == "canary error rate over 30 s is inconclusive: 19 requests, fewer than the 20 needed")
        #expect(v.evidence.canaryValue == nil)
    }

    @Test func noRequestsAreInconclusiveEvenWithoutAMinimum() {
        let check = ThresholdCheck(metric: .errorRate, .max(0.05), minSamples: 0)
        #expect(CheckJudge.judge(check, window: MetricWindow(seconds: 30, canary: Self.version("v2", requests: 0))).outcome == .inconclusive)
    }

    @Test func emptyOrMissingWindowsAreInconclusive() {
        let empty = CheckJudge.judge(errorRate, window: MetricWindow(seconds: 0, canary: Self.version("v2", requests: 500)))
        #expect(empty.outcome == .inconclusive)
        #expect(empty.summary == "canary error rate is inconclusive: the 30 s window is empty")
        #expect(CheckJudge.judge(p95, window: nil).outcome == .inconclusive)
    }

    @Test func p95ComesFromTheLatencyBuckets() {
        let fast = Self.version("v2", requests: 100, latency: [(100, 95), (900, 5)])
        let slow = Self.version("v2", requests: 100, latency: [(100, 94), (900, 6)])
        let pass = CheckJudge.judge(p95, window: MetricWindow(seconds: 30, canary: fast))
        #expect(pass.outcome == .pass)
        #expect(pass.evidence.canaryValue == 100)
        let fail = CheckJudge.judge(p95, window: MetricWindow(seconds: 30, canary: slow, stable: fast))
        #expect(fail.outcome == .fail)
        #expect(fail.summary == "canary p95 latency 900 ms over 30 s (100 requests) exceeded 500 ms (stable 100 ms)")
    }

    @Test func latencyCountsLatencySamplesNotRequests() {
        let v = CheckJudge.judge(p95, window: MetricWindow(seconds: 30, canary: Self.version("v2", requests: 400, latency: [(20, 10)])))
        #expect(v.outcome == .inconclusive)
        #expect(v.evidence.canarySamples == 10)
    }

    @Test func requestRateMinimum() {
        let check = ThresholdCheck(metric: .requestRate, .min(1))
        let low = CheckJudge.judge(check, window: MetricWindow(seconds: 30, canary: Self.version("v2", requests: 6)))
        #expect(low.outcome == .fail)
        #expect(low.summary == "canary request rate 0.2 req/s over 30 s (6 requests) is below the 1 req/s minimum")
        let enough = CheckJudge.judge(check, window: MetricWindow(seconds: 30, canary: Self.version("v2", requests: 102)))
        #expect(enough.outcome == .pass)
        #expect(enough.evidence.canaryValue == 3.4)
    }

    @Test(arguments: [(0.5, 100.0), (0.95, 100.0), (0.951, 900.0), (0.99, 900.0), (0.0, 100.0), (1.0, 900.0)])
    func quantilesByNearestRank(q: Double, ms: Double) {
        let v = Self.version("v2", requests: 20, latency: [(900, 1), (100, 19)])
        #expect(v.latencyMs(quantile: q) == ms)
    }
}
