/// Judges analysis checks against measured windows. Pure: numbers in, verdicts out.
public enum CheckJudge {
    /// Runs every check of `policy`; `windowFor` gives the numbers over a check's window
    /// (nil when the router has none), `providerResult` the request and reading of the
    /// provider check at an index of `policy.checks` (nil when it was not fetched). The
    /// controller owns fetching both.
    public static func run(_ policy: AnalysisPolicy, windowFor: (Duration) -> MetricWindow?,
                           providerResult: (Int) -> (ProviderRequest, ProviderReading)? = { _ in nil }) -> AnalysisRunVerdict {
        AnalysisRunVerdict(checks: policy.checks.enumerated().map { index, check in
            if case .provider(let p) = check {
                let result = providerResult(index)
                return judge(p, request: result?.0, reading: result?.1)
            }
            return judge(check, window: windowFor(check.window))
        })
    }

    /// Built-in checks on `window`; a provider check given no reading is inconclusive.
    public static func judge(_ check: AnalysisCheck, window: MetricWindow?) -> CheckVerdict {
        switch check {
        case .threshold(let t): judge(t, window: window)
        case .baseline(let b): judge(b, window: window)
        case .provider(let p): judge(p, request: nil, reading: nil)
        }
    }

    /// Pass when the canary's value is within the bound, fail when outside it, and
    /// inconclusive on an empty window or fewer than `min_samples` requests.
    public static func judge(_ check: ThresholdCheck, window: MetricWindow?) -> CheckVerdict {
        let metric = check.metric
        let label = "canary \(AnalysisText.name(metric))"
        let boundName = switch check.bound { case .max: "max"; case .min: "min" }
        var evidence = CheckEvidence(metric: metric.rawValue, bound: boundName, threshold: check.bound.limit, minSamples: check.effectiveMinSamples)
        func verdict(_ outcome: AnalysisOutcome, _ summary: String) -> CheckVerdict {
            CheckVerdict(check: .threshold(check), outcome: outcome, evidence: evidence, summary: summary)
        }

        guard let window, window.seconds > 0 else {
            return verdict(.inconclusive, "\(label) is inconclusive: the \(AnalysisText.seconds(check.window.seconds)) window is empty")
        }
        let over = "over \(AnalysisText.seconds(window.seconds))"
        evidence.windowSeconds = window.seconds
        let samples = samples(of: metric, in: window.canary)
        evidence.canarySamples = samples
        evidence.stableSamples = window.stable.map { Self.samples(of: metric, in: $0) }
        evidence.stableValue = window.stable.flatMap { value(of: metric, in: $0, seconds: window.seconds) }

        if samples < UInt64(check.effectiveMinSamples) {
            return verdict(.inconclusive, "\(label) \(over) is inconclusive: \(AnalysisText.requests(samples)), fewer than the \(check.effectiveMinSamples) needed")
        }
        guard let value = value(of: metric, in: window.canary, seconds: window.seconds) else {
            return verdict(.inconclusive, "\(label) \(over) is inconclusive: no requests")
        }
        evidence.canaryValue = value

        let (shown, limit) = AnalysisText.distinct(value, check.bound.limit, of: metric)
        let stable = evidence.stableValue.map { " (stable \(AnalysisText.value($0, of: metric)))" } ?? ""
        let observed = "\(label) \(shown) \(over) (\(AnalysisText.requests(samples)))"
        switch (check.bound, check.bound.isViolated(by: value)) {
        case (.max, true): return verdict(.fail, "\(observed) exceeded \(limit)\(stable)")
        case (.max, false): return verdict(.pass, "\(observed) is within the \(limit) maximum\(stable)")
        case (.min, true): return verdict(.fail, "\(observed) is below the \(limit) minimum\(stable)")
        case (.min, false): return verdict(.pass, "\(observed) meets the \(limit) minimum\(stable)")
        }
    }

    /// Requests behind a metric: latency samples for latency, requests otherwise.
    static func samples(of metric: AnalysisMetric, in version: VersionWindow) -> UInt64 {
        metric.latencyQuantile == nil ? version.requests : version.latencySamples
    }

    static func value(of metric: AnalysisMetric, in version: VersionWindow, seconds: Double) -> Double? {
        switch metric {
        case .errorRate: version.errorRate
        case .latencyP50, .latencyP95, .latencyP99: version.latencyMs(quantile: metric.latencyQuantile ?? 0.5)
        case .requestRate: seconds > 0 ? Double(version.requests) / seconds : nil
        }
    }
}
