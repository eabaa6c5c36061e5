/// A fleet rollout's progress through its waves, persisted with the rollout
/// (`BlueGreenState.waves`). Servers are named by their id (`host[:port]`).
public struct WavesProgress: Codable, Sendable, Equatable, AnalysisGated {
    public enum Wait: String, Codable, Sendable, CaseIterable, Equatable {
        /// The current wave's instances to pass health checks.
        case healthy
        /// The analysis after a wave to pass.
        case analysis
    }

    /// Every server of the fleet, in the order the waves take them.
    public var servers: [String]
    /// Servers switched once each wave is done (`WavesSpec.plan`).
    public var plan: [Int]
    /// Instances of the release on each server.
    public var perServer: Int
    /// Servers that may be left out (unreachable, or their instances not healthy in time)
    /// before the rollout stops for them.
    public var maxFailedServers: Int
    /// The wave being rolled out (0-based).
    public var wave: Int = 0
    public var wait: Wait = .healthy
    /// Servers whose router serves the target release.
    public var switched: [String] = []
    /// Servers left out under `max_failed_hosts`, with why. They keep the previous release
    /// until they are reconciled to the fleet's release.
    public var skipped: [String: String] = [:]
    /// Why the rollout is paused (nil: not paused): a server that does not answer, or a person.
    public var pausedFor: String?
    /// The server(s) the pause waits for; it ends by itself when they answer again.
    public var waitingFor: [String] = []
    /// The phase a pause returns to.
    public var resumePhase: RolloutPhase?
    /// Healthy target instances on each server at the last reading.
    public var lastHealth: [String: Int] = [:]
    public var deadline: Double?
    public var analysis: String?
    public var policies: [String: AnalysisPolicy]
    public var tracker: AnalysisTracker?
    public var nextAnalysisAt: Double?
    public var lastSummary: String?
    public var inconclusiveNoted = false

    /// The waves of `spec` over `servers`, taken in the order its selectors and sizes say.
    public init(spec: WavesSpec, servers: [ServerSpec], perServer: Int, maxFailedServers: Int, policies: [String: AnalysisPolicy]) {
        let layout = spec.layout(servers)
        self.init(spec: spec, servers: layout.order, perServer: perServer, maxFailedServers: maxFailedServers, policies: policies)
        self.plan = layout.plan
    }

    public init(spec: WavesSpec, servers: [String], perServer: Int, maxFailedServers: Int, policies: [String: AnalysisPolicy]) {
        self.servers = servers
        self.plan = spec.plan(servers: servers.count)
        self.perServer = perServer
        self.maxFailedServers = maxFailedServers
        self.analysis = spec.analysis
        self.policies = policies
    }

    public var isLastWave: Bool { wave >= plan.count - 1 }

    /// The servers the waves so far cover, without the ones left out.
    public var coveredServers: [String] {
        servers.prefix(plan[min(wave, plan.count - 1)]).filter { skipped[$0] == nil }
    }

    /// The current wave's own servers (covered, not yet switched).
    public var waveServers: [String] {
        coveredServers.filter { !switched.contains($0) }
    }

    /// Instances of the target the waves so far ask for.
    public var wantedInstances: Int { coveredServers.count * perServer }

    /// `wave 2 of 3: 4/10 servers switched` for status and messages.
    public var summary: String {
        "wave \(wave + 1) of \(plan.count): \(switched.count)/\(servers.count) server(s) switched"
            + (skipped.isEmpty ? "" : ", left out: \(skipped.keys.sorted().joined(separator: ", "))")
            + (pausedFor.map { "; paused: \($0)" } ?? "")
    }
}
