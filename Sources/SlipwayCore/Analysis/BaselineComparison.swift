import Foundation

/// What a baseline comparison compares.
public enum BaselineMetric: String, Codable, Sendable, CaseIterable {
    /// Mann–Whitney U on the latency samples: is the canary slower?
    case latency
    /// Two-proportion z-test on error rates: is the canary's error rate higher?
    case errorRate = "error_rate"

    /// The default `min_effect`: P(canary slower) − 0.5 for latency, the absolute rise in
    /// error rate for error rate.
    public var defaultMinEffect: Double {
        switch self {
        case .latency: AnalysisDefaults.latencyMinEffect
        case .errorRate: AnalysisDefaults.errorRateMinEffect
        }
    }
}

/// `{compare: baseline, metric, window, significance, min_effect, min_samples}`: the canary
/// against the stable release over the same window. It fails only when the canary is worse
/// with significance AND by at least `minEffect`.
public struct BaselineComparison: Codable, Sendable, Equatable {
    public var metric: BaselineMetric
    public var window: Duration
    /// One-sided significance level: p below this is significant.
    public var significance: Double
    /// See `BaselineMetric.defaultMinEffect` for the unit.
    public var minEffect: Double
    /// Samples (requests) needed in each group, canary and stable.
    public var minSamples: Int

    public init(
        metric: BaselineMetric,
        window: Duration = AnalysisDefaults.window,
        significance: Double = AnalysisDefaults.significance,
        minEffect: Double? = nil,
        minSamples: Int = AnalysisDefaults.baselineMinSamples
    ) {
        self.metric = metric
        self.window = window
        self.significance = significance
        self.minEffect = minEffect ?? metric.defaultMinEffect
        self.minSamples = minSamples
    }

    enum CodingKeys: String, CodingKey {
        case compare, metric, window, significance, minEffect = "min_effect", minSamples = "min_samples"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let compare = try c.decodeIfPresent(String.self, forKey: .compare) ?? "baseline"
        guard compare == "baseline" else {
            throw DecodingError.dataCorruptedError(forKey: .compare, in: c, debugDescription: "compare must be baseline (got \(compare))")
        }
        let metric = try c.decode(BaselineMetric.self, forKey: .metric)
        self.init(
            metric: metric,
            window: try c.decodeIfPresent(TextDuration.self, forKey: .window)?.value ?? AnalysisDefaults.window,
            significance: try c.decodeIfPresent(Double.self, forKey: .significance) ?? AnalysisDefaults.significance,
            minEffect: try c.decodeIfPresent(Double.self, forKey: .minEffect),
            minSamples: try c.decodeIfPresent(Int.self, forKey: .minSamples) ?? AnalysisDefaults.baselineMinSamples
        )
        if window <= .zero {
            throw DecodingError.dataCorruptedError(forKey: .window, in: c, debugDescription: "window must be longer than 0s")
        }
        if !(significance > 0 && significance < 1) {
            throw DecodingError.dataCorruptedError(forKey: .significance, in: c, debugDescription: "significance must be between 0 and 1 (got \(significance))")
        }
        if !(minEffect >= 0 && minEffect <= (metric == .latency ? 0.5 : 1)) {
            throw DecodingError.dataCorruptedError(forKey: .minEffect, in: c, debugDescription: "min_effect must be between 0 and \(metric == .latency ? "0.5" : "1") for \(metric.rawValue) (got \(minEffect))")
        }
        if minSamples < 1 {
            throw DecodingError.dataCorruptedError(forKey: .minSamples, in: c, debugDescription: "min_samples must be at least 1 (got \(minSamples))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("baseline", forKey: .compare)
        try c.encode(metric, forKey: .metric)
        try c.encode(TextDuration(window), forKey: .window)
        try c.encode(significance, forKey: .significance)
        try c.encode(minEffect, forKey: .minEffect)
        try c.encode(minSamples, forKey: .minSamples)
    }
}
