/// Baseline comparisons: the canary against the stable release over the same window.
///
/// Fail needs both: p below `significance` AND an effect of at least `min_effect`.
/// Inconclusive: no window, no stable release, or fewer than `min_samples` in either group.
/// When every sample of both groups is the same (one latency value; no errors at all; only
/// errors) the test is undefined but the groups were observed equal, so the canary is not
/// worse: that passes, with the evidence saying so. (Calling it inconclusive would stall
/// every healthy canary whose stable release also served no errors.)
extension CheckJudge {
    /// Effects this close to the minimum count as reaching it, so 0.03 − 0.02 meets 0.01.
    static let effectTolerance = 1e-12

    public static func judge(_ check: BaselineComparison, window: MetricWindow?) -> CheckVerdict {
        let what = check.metric == .latency ? "latency" : "error rate"
        var evidence = CheckEvidence(metric: check.metric.rawValue, minSamples: check.minSamples, significance: check.significance, minEffect: check.minEffect)
        func verdict(_ outcome: AnalysisOutcome, _ summary: String) -> CheckVerdict {
            CheckVerdict(check: .baseline(check), outcome: outcome, evidence: evidence, summary: summary)
        }

        guard let window, window.seconds > 0 else {
            return verdict(.inconclusive, "canary vs stable \(what) is inconclusive: the \(AnalysisText.seconds(check.window.seconds)) window is empty")
        }
        evidence.windowSeconds = window.seconds
        guard let stable = window.stable else {
            return verdict(.inconclusive, "canary vs stable \(what) is inconclusive: there is no stable release to compare with")
        }
        let canary = window.canary
        let n1 = check.metric == .latency ? canary.latencySamples : canary.requests
        let n2 = check.metric == .latency ? stable.latencySamples : stable.requests
        evidence.canarySamples = n1
        evidence.stableSamples = n2
        let over = "over \(AnalysisText.seconds(window.seconds))"
        if n1 < UInt64(check.minSamples) || n2 < UInt64(check.minSamples) {
            return verdict(.inconclusive, "canary vs stable \(what) \(over) is inconclusive: \(n1) canary and \(n2) stable requests, fewer than the \(check.minSamples) needed in each")
        }
        let (outcome, summary) = switch check.metric {
        case .latency: judgeLatency(check, canary: canary, stable: stable, over: over, evidence: &evidence)
        case .errorRate: judgeErrorRate(check, canary: canary, stable: stable, over: over, evidence: &evidence)
        }
        return verdict(outcome, summary)
    }

    /// Mann–Whitney U, one-sided "canary slower"; effect = P(canary slower) + ½·P(equal) − 0.5.
    private static func judgeLatency(_ check: BaselineComparison, canary: VersionWindow, stable: VersionWindow, over: String, evidence: inout CheckEvidence) -> (AnalysisOutcome, String) {
        evidence.canaryValue = canary.latencyMs(quantile: 0.5)
        evidence.stableValue = stable.latencyMs(quantile: 0.5)
        guard let r = MannWhitney.test(canary.latencySamplesMs, greaterThan: stable.latencySamplesMs) else {
            return (.inconclusive, "canary vs stable latency \(over) is inconclusive: the Mann–Whitney test could not be computed")
        }
        evidence.u = r.u
        evidence.z = r.z
        evidence.pValue = r.pValue
        evidence.probabilityOfSuperiority = r.probabilityOfSuperiority
        evidence.effectSize = r.effectSize
        let groups = "(\(r.n1) vs \(r.n2) requests)"
        if r.isDegenerate {
            let v = evidence.canaryValue.map { AnalysisText.milliseconds($0) } ?? "equal"
            return (.pass, "canary and stable latencies are all \(v) \(over) \(groups): no difference to test")
        }
        let significant = r.pValue < check.significance
        let large = r.effectSize >= check.minEffect - effectTolerance
        let test = "Mann–Whitney U=\(AnalysisText.statistic(r.u)), p=\(AnalysisText.pValue(r.pValue)) \(significant ? "<" : "≥") \(AnalysisText.pValue(check.significance))"
        let effect = "P(canary slower)=\(AnalysisText.effect(r.probabilityOfSuperiority)), effect \(AnalysisText.effect(r.effectSize)) \(large ? "≥" : "<") \(AnalysisText.effect(check.minEffect))"
        let medians = evidence.canaryValue.flatMap { c in evidence.stableValue.map { s in
            ", medians \(AnalysisText.milliseconds(c)) vs \(AnalysisText.milliseconds(s)) \(over) \(groups)"
        } } ?? ""
        let details = "(\(test); \(effect))\(medians)"
        switch (significant, large) {
        case (true, true): return (.fail, "canary latency is higher than stable \(details)")
        case (true, false): return (.pass, "canary latency is higher than stable by less than the minimum effect \(details)")
        case (false, _): return (.pass, "canary latency is not significantly higher than stable \(details)")
        }
    }

    /// Two-proportion z-test, one-sided "canary error rate higher"; effect = the absolute difference.
    private static func judgeErrorRate(_ check: BaselineComparison, canary: VersionWindow, stable: VersionWindow, over: String, evidence: inout CheckEvidence) -> (AnalysisOutcome, String) {
        guard let r = TwoProportionTest.test(Int(clamping: canary.errors), of: Int(clamping: canary.requests),
                                             greaterThan: Int(clamping: stable.errors), of: Int(clamping: stable.requests)) else {
            return (.inconclusive, "canary vs stable error rate \(over) is inconclusive: more errors than requests were reported")
        }
        evidence.canaryValue = r.proportion1
        evidence.stableValue = r.proportion2
        evidence.z = r.z
        evidence.pValue = r.pValue
        evidence.effectSize = r.difference
        let counts = "(\(r.successes1)/\(r.trials1) vs \(r.successes2)/\(r.trials2) requests"
        guard let z = r.z, let p = r.pValue else {
            return (.pass, "canary and stable error rates are both \(AnalysisText.percent(r.proportion1)) \(over) \(counts)): no difference to test")
        }
        let significant = p < check.significance
        let large = r.difference >= check.minEffect - effectTolerance
        let rates = "\(AnalysisText.percent(r.proportion1)) vs \(AnalysisText.percent(r.proportion2)) \(over)"
        let points = { (d: Double) in
            let text = AnalysisText.number(d * 100, decimals: 2)
            return text == "1" ? "1 point" : "\(text) points"
        }
        let details = "\(counts); z=\(AnalysisText.number(z, decimals: 2)), p=\(AnalysisText.pValue(p)) \(significant ? "<" : "≥") \(AnalysisText.pValue(check.significance)); difference \(points(r.difference)) \(large ? "≥" : "<") \(points(check.minEffect)))"
        switch (significant, large) {
        case (true, true): return (.fail, "canary error rate is higher than stable: \(rates) \(details)")
        case (true, false): return (.pass, "canary error rate is higher than stable by less than the minimum effect: \(rates) \(details)")
        case (false, _): return (.pass, "canary error rate is not significantly higher than stable: \(rates) \(details)")
        }
    }
}
