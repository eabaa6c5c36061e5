/// A rolling rollout's progress, persisted with the rollout (`BlueGreenState.rolling`).
public struct RollingProgress: Codable, Sendable, Equatable, AnalysisGated {
    /// What the machine waits for inside the `progressing` phase.
    public enum Wait: String, Codable, Sendable, CaseIterable, Equatable {
        /// The current batch of new instances to pass health checks.
        case healthy
        /// Retired previous-release instances to finish their in-flight requests.
        case drain
        /// The analysis between batches to pass.
        case analysis
    }

    public var surge: Int
    public var unavailable: Int
    /// Live instances of the new release asked for so far ("ensure this many").
    public var newWanted: Int = 0
    /// New instances that passed health checks and take traffic.
    public var newReady: Int = 0
    /// Previous-release instances still in the route table (the first ones by id).
    public var oldRoutable: Int
    /// Previous-release instances out of the route table, finishing in-flight requests.
    public var oldRetiring: Int = 0
    public var wait: Wait = .healthy
    /// Batches whose new instances became healthy.
    public var batches: Int = 0
    public var batchDeadline: Double?
    public var drainDeadline: Double?
    /// When the new release first took traffic (analysis windows start there).
    public var trafficSince: Double?
    public var analysis: String?
    public var policies: [String: AnalysisPolicy]
    public var tracker: AnalysisTracker?
    public var nextAnalysisAt: Double?
    public var lastSummary: String?
    public var inconclusiveNoted = false

    public init(spec: RollingSpec, replicas: Int, policies: [String: AnalysisPolicy]) {
        let effective = spec.effective(replicas: replicas)
        self.surge = effective.surge
        self.unavailable = effective.unavailable
        self.oldRoutable = replicas
        self.analysis = spec.analysis
        self.policies = policies
    }

    public func policy(_ name: String) -> AnalysisPolicy {
        policies[name] ?? .default
    }

    /// `batch 2 of v2 starting: 1/3 new ready, 2 previous serving` for `slipway status`.
    public func summary(replicas: Int) -> String {
        let doing = switch wait {
        case .healthy: newWanted > newReady ? "batch \(batches + 1) starting" : "\(batches) batch(es) done"
        case .drain: "retired instances draining"
        case .analysis: "analysis after batch \(batches)"
        }
        return "\(doing): \(counts(replicas: replicas))"
    }

    /// `3/4 new, 1 previous` for messages.
    public func counts(replicas: Int) -> String {
        "\(newReady)/\(replicas) new ready, \(oldRoutable) previous serving" + (oldRetiring > 0 ? ", \(oldRetiring) draining" : "")
    }
}
