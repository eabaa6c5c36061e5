import Foundation

/// What happens when analysis keeps lacking data.
public enum InconclusiveAction: String, Codable, Sendable, CaseIterable {
    /// Hold the rollout at its current step until someone promotes or aborts it.
    case pause
    /// Fail the rollout and roll back, as if analysis had failed.
    case fail
}

/// A named `analysis:` entry: the checks judged every `interval`, and how many failed or
/// inconclusive runs in a row end the rollout (see `AnalysisTracker`).
public struct AnalysisPolicy: Codable, Sendable, Equatable {
    public var interval: Duration
    public var checks: [AnalysisCheck]
    /// Consecutive failed runs that abort the rollout; 1 aborts on the first failure.
    /// (Argo Rollouts' `failureLimit` counts failures tolerated instead: its 0 is our 1.)
    public var failureLimit: Int
    /// Consecutive inconclusive runs after which `onInconclusive` applies.
    public var inconclusiveLimit: Int
    public var onInconclusive: InconclusiveAction

    public init(
        interval: Duration = AnalysisDefaults.interval,
        checks: [AnalysisCheck] = AnalysisPolicy.defaultChecks,
        failureLimit: Int = AnalysisDefaults.failureLimit,
        inconclusiveLimit: Int = AnalysisDefaults.inconclusiveLimit,
        onInconclusive: InconclusiveAction = AnalysisDefaults.onInconclusive
    ) {
        self.interval = interval
        self.checks = checks
        self.failureLimit = failureLimit
        self.inconclusiveLimit = inconclusiveLimit
        self.onInconclusive = onInconclusive
    }

    /// The requirement documents' rollback triggers: error rate above 5 % or p95 latency
    /// above 500 ms over the last 30 s, each judged once 20 requests are in the window.
    public static let defaultChecks: [AnalysisCheck] = [
        .threshold(ThresholdCheck(metric: .errorRate, .max(AnalysisDefaults.maxErrorRate))),
        .threshold(ThresholdCheck(metric: .latencyP95, .max(AnalysisDefaults.maxLatencyP95Ms))),
    ]

    /// The policy of a service that names none.
    public static let `default` = AnalysisPolicy()

    enum CodingKeys: String, CodingKey {
        case interval, checks, failureLimit = "failure_limit", inconclusiveLimit = "inconclusive_limit", onInconclusive = "on_inconclusive"
    }

    /// Missing keys take the defaults; missing `checks` take `defaultChecks`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            interval: try c.decodeIfPresent(TextDuration.self, forKey: .interval)?.value ?? AnalysisDefaults.interval,
            checks: try c.decodeIfPresent([AnalysisCheck].self, forKey: .checks) ?? AnalysisPolicy.defaultChecks,
            failureLimit: try c.decodeIfPresent(Int.self, forKey: .failureLimit) ?? AnalysisDefaults.failureLimit,
            inconclusiveLimit: try c.decodeIfPresent(Int.self, forKey: .inconclusiveLimit) ?? AnalysisDefaults.inconclusiveLimit,
            onInconclusive: try c.decodeIfPresent(InconclusiveAction.self, forKey: .onInconclusive) ?? AnalysisDefaults.onInconclusive
        )
        if interval <= .zero {
            throw DecodingError.dataCorruptedError(forKey: .interval, in: c, debugDescription: "interval must be longer than 0s")
        }
        if checks.isEmpty {
            throw DecodingError.dataCorruptedError(forKey: .checks, in: c, debugDescription: "checks must name at least one check")
        }
        if failureLimit < 1 {
            throw DecodingError.dataCorruptedError(forKey: .failureLimit, in: c, debugDescription: "failure_limit must be at least 1 (got \(failureLimit))")
        }
        if inconclusiveLimit < 1 {
            throw DecodingError.dataCorruptedError(forKey: .inconclusiveLimit, in: c, debugDescription: "inconclusive_limit must be at least 1 (got \(inconclusiveLimit))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(TextDuration(interval), forKey: .interval)
        try c.encode(checks, forKey: .checks)
        try c.encode(failureLimit, forKey: .failureLimit)
        try c.encode(inconclusiveLimit, forKey: .inconclusiveLimit)
        try c.encode(onInconclusive, forKey: .onInconclusive)
    }
}
