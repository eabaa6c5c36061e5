/// Every default of canary analysis, in one place (the config parser, the JSON Schema and
/// the CLI help read these, as they read `Defaults`).
public enum AnalysisDefaults {
    /// How often an analysis run is judged.
    public static let interval: Duration = .seconds(5)
    /// The window each check looks back over.
    public static let window: Duration = .seconds(30)
    /// Threshold checks on error rate and latency need at least this many requests.
    public static let minSamples = 20
    /// Baseline comparisons need at least this many samples in each group.
    public static let baselineMinSamples = 50
    /// Baseline comparisons call a difference significant below this p-value (one-sided).
    /// Conservative because the same rollout is tested again every interval.
    public static let significance = 0.01
    /// Latency comparison: the smallest P(canary slower) − 0.5 that fails a canary
    /// (0.10 means P(canary slower) ≥ 0.60, between a small and a medium effect).
    public static let latencyMinEffect = 0.10
    /// Error-rate comparison: the smallest absolute rise in error rate (0.01 = 1 point) that fails a canary.
    public static let errorRateMinEffect = 0.01
    /// Consecutive failed runs that abort the rollout: the first failure rolls back.
    public static let failureLimit = 1
    /// Consecutive inconclusive runs before `onInconclusive` applies (one minute at a 5 s interval).
    public static let inconclusiveLimit = 12
    public static let onInconclusive = InconclusiveAction.pause
    /// The requirement documents' rollback triggers.
    public static let maxErrorRate = 0.05
    public static let maxLatencyP95Ms = 500.0
    /// How long a provider check's Prometheus, URL or command may take to answer.
    public static let providerTimeout: Duration = .seconds(5)
}
