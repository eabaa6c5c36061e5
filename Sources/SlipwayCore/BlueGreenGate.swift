/// Analysis around a blue-green switch: before it on preview traffic, after it during the
/// watch. Persisted with the rollout.
public struct BlueGreenGate: Codable, Sendable, Equatable {
    public var policies: [String: AnalysisPolicy]
    public var preview: String?
    public var watch: String
    public var watchSeconds: Double
    public var tracker: AnalysisTracker?
    public var nextAt: Double?
    public var watchUntil: Double?
    public var inconclusiveNoted = false
    public var lastSummary: String?
    /// Analysis windows do not reach back before this (the preview or the watch began).
    public var windowStart: Double?

    public init(spec: BlueGreenSpec, policies: [String: AnalysisPolicy]) {
        self.policies = policies
        self.preview = spec.previewAnalysis
        self.watch = spec.watchAnalysis ?? "default"
        self.watchSeconds = spec.watch.seconds
    }

    public func policy(_ name: String) -> AnalysisPolicy {
        policies[name] ?? .default
    }

    /// True when the spec asks for either gate.
    public static func wanted(_ spec: BlueGreenSpec) -> Bool {
        spec.previewAnalysis != nil || spec.watch > .zero
    }
}
