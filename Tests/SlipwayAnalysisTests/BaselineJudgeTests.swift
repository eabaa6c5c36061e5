import SlipwayCore
import Testing

/// Baseline comparisons: canary against stable over the same window.
@Suite struct BaselineJudgeTests {
    static func latency(_ name: String, _ buckets: [(ms: UInt64, count: UInt64)]) -> VersionWindow {
        let total = buckets.reduce(0) { $0 + $1.count }
        return VersionWindow(version: name, requests: total, errors: 0, latency: buckets.map { LatencyBucket(valueMicroseconds: $0.ms * 1000, count: $0.count) })
    }

    static func errors(_ name: String, _ errors: UInt64, of requests: UInt64) -> VersionWindow {
        VersionWindow(version: name, requests: requests, errors: errors)
    }

    let latencyCheck = BaselineComparison(metric: .latency)
    let errorCheck = BaselineComparison(metric: .errorRate)
    let stableLatency = latency("v1", [(100, 200), (120, 300), (140, 300), (160, 150), (300, 50)])

    @Test func slowerCanaryFailsWithTheTestInTheEvidence() throws {
        let canary = Self.latency("v2", [(120, 100), (140, 200), (160, 300), (200, 150), (400, 50)])
        let v = CheckJudge.judge(latencyCheck, window: MetricWindow(seconds: 30, canary: canary, stable: stableLatency))
        let r = try #require(MannWhitney.test(canary.latencySamplesMs, greaterThan: stableLatency.latencySamplesMs))
        #expect(v.outcome == .fail)
        #expect(v.evidence.u == r.u && v.evidence.z == r.z && v.evidence.pValue == r.pValue)
        #expect(v.evidence.effectSize == r.effectSize && v.evidence.effectSize! >= 0.1)
        #expect(v.evidence.canaryValue == 160 && v.evidence.stableValue == 120)
        #expect(v.evidence.canarySamples == 800 && v.evidence.stableSamples == 1000)
        // scipy.stats.mannwhitneyu(canary, stable, alternative='greater', method='asymptotic')
        #expect(r.u == 620_000)
        #expect(isClose(r.pValue, 1.389449636893848e-94))
        #expect(v.summary == "canary latency is higher than stable (Mann–Whitney U=620000, p=1.4e-94 < 0.01; P(canary slower)=0.78, effect 0.28 ≥ 0.10), medians 160 ms vs 120 ms over 30 s (800 vs 1000 requests)")
    }

    @Test func significantButSmallDifferencePasses() throws {
        // 100k samples each; the canary moves 2 % of its samples one bucket up.
        let stable = Self.latency("v1", [(100, 50_000), (110, 50_000)])
        let canary = Self.latency("v2", [(100, 48_000), (110, 52_000)])
        let v = CheckJudge.judge(latencyCheck, window: MetricWindow(seconds: 30, canary: canary, stable: stable))
        #expect(v.outcome == .pass)
        #expect(try #require(v.evidence.pValue) < 0.01)
        #expect(try #require(v.evidence.effectSize) < 0.1)
        #expect(v.summary.hasPrefix("canary latency is higher than stable by less than the minimum effect"))
    }

    @Test func fasterOrEqualCanaryPasses() {
        let canary = Self.latency("v2", [(80, 500), (100, 400)])
        let v = CheckJudge.judge(latencyCheck, window: MetricWindow(seconds: 30, canary: canary, stable: stableLatency))
        #expect(v.outcome == .pass)
        #expect(v.summary.hasPrefix("canary latency is not significantly higher than stable"))
        let same = CheckJudge.judge(latencyCheck, window: MetricWindow(seconds: 30, canary: stableLatency, stable: stableLatency))
        #expect(same.outcome == .pass)
    }

    @Test func minEffectIsConfigurable() {
        let canary = Self.latency("v2", [(120, 100), (140, 200), (160, 300), (200, 150), (400, 50)])
        let strict = BaselineComparison(metric: .latency, minEffect: 0.45)
        #expect(CheckJudge.judge(strict, window: MetricWindow(seconds: 30, canary: canary, stable: stableLatency)).outcome == .pass)
    }

    @Test func tooFewSamplesInEitherGroupAreInconclusive() {
        let canary = Self.latency("v2", [(900, 49)])
        let v = CheckJudge.judge(latencyCheck, window: MetricWindow(seconds: 30, canary: canary, stable: stableLatency))
        #expect(v.outcome == .inconclusive)
        #expect(v.summary == "canary vs stable latency over 30 s is inconclusive: 49 canary and 1000 stable requests, fewer than the 50 needed in each")
        let stableShort = CheckJudge.judge(errorCheck, window: MetricWindow(seconds: 30, canary: Self.errors("v2", 0, of: 500), stable: Self.errors("v1", 0, of: 10)))
        #expect(stableShort.outcome == .inconclusive)
    }

    @Test func noStableOrNoWindowIsInconclusive() {
        let v = CheckJudge.judge(latencyCheck, window: MetricWindow(seconds: 30, canary: stableLatency))
        #expect(v.outcome == .inconclusive)
        #expect(v.summary.contains("no stable release"))
        #expect(CheckJudge.judge(errorCheck, window: nil).outcome == .inconclusive)
    }

    @Test func identicalConstantLatenciesPass() {
        let v = CheckJudge.judge(latencyCheck, window: MetricWindow(seconds: 30, canary: Self.latency("v2", [(250, 60)]), stable: Self.latency("v1", [(250, 90)])))
        #expect(v.outcome == .pass)
        #expect(v.evidence.z == nil && v.evidence.pValue == 1)
        #expect(v.summary == "canary and stable latencies are all 250 ms over 30 s (60 vs 90 requests): no difference to test")
    }

    @Test func higherErrorRateFails() throws {
        let v = CheckJudge.judge(errorCheck, window: MetricWindow(seconds: 30, canary: Self.errors("v2", 82, of: 412), stable: Self.errors("v1", 4, of: 3981)))
        let r = try #require(TwoProportionTest.test(82, of: 412, greaterThan: 4, of: 3981))
        #expect(v.outcome == .fail)
        #expect(v.evidence.z == r.z && v.evidence.pValue == r.pValue && v.evidence.effectSize == r.difference)
        #expect(v.summary == "canary error rate is higher than stable: 19.9 % vs 0.1 % over 30 s (82/412 vs 4/3981 requests; z=27.62, p=3.3e-168 < 0.01; difference 19.8 points ≥ 1 point)")
    }

    @Test func noErrorsAnywherePasses() {
        let v = CheckJudge.judge(errorCheck, window: MetricWindow(seconds: 30, canary: Self.errors("v2", 0, of: 412), stable: Self.errors("v1", 0, of: 3981)))
        #expect(v.outcome == .pass)
        #expect(v.evidence.z == nil && v.evidence.pValue == nil && v.evidence.effectSize == 0)
        #expect(v.summary == "canary and stable error rates are both 0 % over 30 s (0/412 vs 0/3981 requests): no difference to test")
    }

    @Test func errorRateEffectMustReachTheMinimum() {
        // 3 % vs 2 % over 100k requests each: significant, and exactly the 1-point minimum.
        let window = MetricWindow(seconds: 30, canary: Self.errors("v2", 3_000, of: 100_000), stable: Self.errors("v1", 2_000, of: 100_000))
        #expect(CheckJudge.judge(errorCheck, window: window).outcome == .fail)
        let lenient = BaselineComparison(metric: .errorRate, minEffect: 0.02)
        let v = CheckJudge.judge(lenient, window: window)
        #expect(v.outcome == .pass)
        #expect(v.summary.hasPrefix("canary error rate is higher than stable by less than the minimum effect"))
    }

    @Test func insignificantErrorRateRisePasses() {
        let v = CheckJudge.judge(errorCheck, window: MetricWindow(seconds: 30, canary: Self.errors("v2", 3, of: 100), stable: Self.errors("v1", 1, of: 100)))
        #expect(v.outcome == .pass)
        #expect(v.summary.hasPrefix("canary error rate is not significantly higher than stable"))
    }
}
