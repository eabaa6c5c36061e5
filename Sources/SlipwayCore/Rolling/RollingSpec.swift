/// `strategy: { rolling: {...} }`: the release's replicas are replaced in batches; at most
/// `max_surge` instances above `replicas` run at a time and at most `max_unavailable`
/// below `replicas` are out of service. Every batch waits for health checks (and, when
/// asked, an analysis) before the next one.
/// How `slipway rollback` brings back the previous release after a rolling deploy.
public enum RollingRollback: String, Codable, Sendable, CaseIterable {
    /// Start all its instances, switch once they are healthy (blue-green; the default).
    case atOnce = "at_once"
    /// Replace the instances batch by batch, like the deploy (same surge and unavailability).
    case batches
}

public struct RollingSpec: Codable, Sendable, Equatable {
    public var maxSurge: Int
    public var maxUnavailable: Int
    /// Run this analysis after each batch became healthy; the next batch waits for a pass.
    public var analysis: String?
    /// How a rollback to this release after a rolling deploy runs.
    public var rollback: RollingRollback
    /// Deploy timeout (per batch) and drain timeout (per retired batch); keep_previous is
    /// unused: a rolling deploy leaves no previous instances running.
    public var timing: BlueGreenSpec

    public init(maxSurge: Int = Defaults.rollingMaxSurge, maxUnavailable: Int = Defaults.rollingMaxUnavailable, analysis: String? = nil, rollback: RollingRollback = .atOnce, timing: BlueGreenSpec = BlueGreenSpec()) {
        self.maxSurge = maxSurge
        self.maxUnavailable = maxUnavailable
        self.analysis = analysis
        self.rollback = rollback
        self.timing = timing
    }

    enum CodingKeys: String, CodingKey { case maxSurge = "max_surge", maxUnavailable = "max_unavailable", analysis, rollback, timing }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxSurge = try c.decodeIfPresent(Int.self, forKey: .maxSurge) ?? Defaults.rollingMaxSurge
        maxUnavailable = try c.decodeIfPresent(Int.self, forKey: .maxUnavailable) ?? Defaults.rollingMaxUnavailable
        analysis = try c.decodeIfPresent(String.self, forKey: .analysis)
        rollback = try c.decodeIfPresent(RollingRollback.self, forKey: .rollback) ?? .atOnce
        timing = try c.decodeIfPresent(BlueGreenSpec.self, forKey: .timing) ?? BlueGreenSpec()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(maxSurge, forKey: .maxSurge)
        try c.encode(maxUnavailable, forKey: .maxUnavailable)
        try c.encodeIfPresent(analysis, forKey: .analysis)
        try c.encode(rollback, forKey: .rollback)
        try c.encode(timing, forKey: .timing)
    }

    /// Surge and unavailability for `replicas`: values above `replicas` act as `replicas`;
    /// both 0 (rejected by the config loader) acts as a surge of 1 so a rollout still moves.
    public func effective(replicas: Int) -> (surge: Int, unavailable: Int) {
        let surge = min(max(0, maxSurge), replicas)
        let unavailable = min(max(0, maxUnavailable), replicas)
        return surge == 0 && unavailable == 0 ? (1, 0) : (surge, unavailable)
    }
}
