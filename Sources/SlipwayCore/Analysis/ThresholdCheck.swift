import Foundation

/// A metric the router measures per version.
public enum AnalysisMetric: String, Codable, Sendable, CaseIterable {
    /// Share of requests answered 5xx, as a fraction (0.05 = 5 %).
    case errorRate = "error_rate"
    /// Latency percentiles in milliseconds.
    case latencyP50 = "latency_p50"
    case latencyP95 = "latency_p95"
    case latencyP99 = "latency_p99"
    /// Requests per second over the window.
    case requestRate = "request_rate"

    /// The quantile of latency metrics; nil for the others.
    public var latencyQuantile: Double? {
        switch self {
        case .latencyP50: 0.50
        case .latencyP95: 0.95
        case .latencyP99: 0.99
        case .errorRate, .requestRate: nil
        }
    }

    /// Too little data makes a check inconclusive below this many requests, unless the
    /// check names its own `min_samples`. Request rate counts its requests as its value,
    /// so any number of requests in a non-empty window judges it.
    public var defaultMinSamples: Int {
        self == .requestRate ? 0 : AnalysisDefaults.minSamples
    }
}

/// The limit of a threshold check: the metric must stay at most `max` or at least `min`.
public enum ThresholdBound: Sendable, Equatable, Hashable {
    case max(Double)
    case min(Double)

    public var limit: Double {
        switch self { case .max(let v), .min(let v): v }
    }

    /// True when `value` is on the wrong side of the limit (equal to the limit is fine).
    public func isViolated(by value: Double) -> Bool {
        switch self {
        case .max(let limit): value > limit
        case .min(let limit): value < limit
        }
    }
}

/// `{metric, max|min, window, min_samples}`: the canary's own numbers against a limit.
public struct ThresholdCheck: Codable, Sendable, Equatable {
    public var metric: AnalysisMetric
    /// In the metric's unit: a fraction for error rate, milliseconds for latency, requests
    /// per second for request rate.
    public var bound: ThresholdBound
    public var window: Duration
    /// Fewer requests than this in the window make the check inconclusive; nil takes
    /// `metric.defaultMinSamples`.
    public var minSamples: Int?

    public init(metric: AnalysisMetric, _ bound: ThresholdBound, window: Duration = AnalysisDefaults.window, minSamples: Int? = nil) {
        self.metric = metric
        self.bound = bound
        self.window = window
        self.minSamples = minSamples
    }

    public var effectiveMinSamples: Int { minSamples ?? metric.defaultMinSamples }

    enum CodingKeys: String, CodingKey { case metric, max, min, window, minSamples = "min_samples" }

    /// Limits are numbers; latency limits may also be durations (`500ms`) and error-rate
    /// limits percentages (`5%`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metric = try c.decode(AnalysisMetric.self, forKey: .metric)
        let key: CodingKeys
        switch (c.contains(.max), c.contains(.min)) {
        case (true, false): key = .max
        case (false, true): key = .min
        default:
            throw DecodingError.dataCorruptedError(forKey: .max, in: c, debugDescription: "a threshold check needs exactly one of max or min")
        }
        let limit = try Self.decodeLimit(c, key: key, metric: metric)
        bound = key == .max ? .max(limit) : .min(limit)
        window = try c.decodeIfPresent(TextDuration.self, forKey: .window)?.value ?? AnalysisDefaults.window
        minSamples = try c.decodeIfPresent(Int.self, forKey: .minSamples)
        if window <= .zero {
            throw DecodingError.dataCorruptedError(forKey: .window, in: c, debugDescription: "window must be longer than 0s")
        }
        if let minSamples, minSamples < 0 {
            throw DecodingError.dataCorruptedError(forKey: .minSamples, in: c, debugDescription: "min_samples must be 0 or more (got \(minSamples))")
        }
    }

    private static func decodeLimit(_ c: KeyedDecodingContainer<CodingKeys>, key: CodingKeys, metric: AnalysisMetric) throws -> Double {
        let value: Double
        if let number = try? c.decode(Double.self, forKey: key) {
            value = number
        } else {
            let text = try c.decode(String.self, forKey: key).trimmingCharacters(in: .whitespaces)
            if metric.latencyQuantile != nil, let d = DurationText.parse(text) {
                value = Double(d.milliseconds)
            } else if metric == .errorRate, text.hasSuffix("%"),
                      let percent = Double(text.dropLast().trimmingCharacters(in: .whitespaces)) {
                value = percent / 100
            } else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a limit for \(metric.rawValue): \(text)")
            }
        }
        guard value.isFinite, value >= 0, metric != .errorRate || value <= 1 else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(metric.rawValue) limit out of range (got \(value))")
        }
        return value
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(metric, forKey: .metric)
        switch bound {
        case .max(let v): try c.encode(v, forKey: .max)
        case .min(let v): try c.encode(v, forKey: .min)
        }
        try c.encode(TextDuration(window), forKey: .window)
        try c.encodeIfPresent(minSamples, forKey: .minSamples)
    }
}
