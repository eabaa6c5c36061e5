/// Rollout vocabulary shared by the controller, the store, the API and the CLI.

public enum RolloutKind: String, Codable, Sendable, CaseIterable {
    /// A new (or re-deployed) release replaces the stable one.
    case deploy
    /// Traffic goes back to an earlier release, skipping gates and steps but never health checks.
    case rollback
    /// The first release of a service: nothing to switch from.
    case initial
}

public enum RolloutPhase: String, Codable, Sendable, CaseIterable {
    /// The environment needs approvals: nothing starts until enough approvers said yes.
    case awaitingApproval = "awaiting_approval"
    /// Instances of the target release are starting; waiting for health checks to pass.
    case waitingHealthy = "waiting_healthy"
    /// Blue-green with `preview_analysis`: the new release is healthy and reachable with the
    /// pin header; the switch waits for the preview analysis to pass.
    case previewing
    /// Canary: going through the steps with part of the traffic on the canary.
    /// Rolling: replacing instances batch by batch.
    case progressing
    /// Canary: held at the current step (a `pause: {}` step, `slipway pause`, or
    /// analysis that stayed inconclusive) until promoted or resumed.
    case paused
    /// A deploy hook runs (`hooks:`); the rollout holds its lock until it reports.
    /// Which hook is in `BlueGreenState.hooks.running`. With `failureReason` set, it is
    /// the on_rollback of a failed deploy: the rollout ends failed when it is over.
    case runningHook = "running_hook"
    /// Traffic is on the target release; old instances finish in-flight requests.
    case draining
    /// Blue-green with `watch`: traffic is on the new release; analysis during the watch
    /// switches back to the still-warm previous release on failure.
    case watching
    case succeeded
    case failed

    public var isTerminal: Bool { self == .succeeded || self == .failed }
}

/// One rollout's persisted progress: the input and output of `BlueGreenMachine`.
/// Times are seconds since 1970 so the state survives a control-plane restart.
public struct BlueGreenState: Codable, Sendable, Equatable {
    public var kind: RolloutKind
    public var phase: RolloutPhase
    public var targetVersion: String
    /// The stable release when the rollout began (nil for a first deploy).
    public var fromVersion: String?
    public var replicas: Int
    /// The target's instances were already running and healthy (a warm rollback).
    public var warm: Bool
    public var spec: BlueGreenSpec
    public var startedAt: Double
    public var healthyDeadline: Double?
    public var drainDeadline: Double?
    public var switchedAt: Double?
    public var endedAt: Double?
    /// Why the rollout failed, in words.
    public var failureReason: String?
    /// Canary rollouts only: the steps and analysis progress.
    public var canary: CanaryProgress?
    /// Blue-green deploys with preview analysis or a post-switch watch.
    public var gate: BlueGreenGate?
    /// Rolling rollouts only: batch progress and instance counts.
    public var rolling: RollingProgress?
    /// Environments with `approvals:`: the votes so far (kept after the start as a record).
    public var approval: ApprovalState?
    /// Rollouts with `hooks:` (any strategy): what to run and what ran.
    public var hooks: HookProgress?
    /// Blue-green rollouts of a service on `servers:`: the waves of servers.
    public var waves: WavesProgress?

    public init(kind: RolloutKind, targetVersion: String, fromVersion: String?, replicas: Int, warm: Bool, spec: BlueGreenSpec, now: Double) {
        self.kind = kind
        self.phase = .waitingHealthy
        self.targetVersion = targetVersion
        self.fromVersion = fromVersion
        self.replicas = replicas
        self.warm = warm
        self.spec = spec
        self.startedAt = now
    }
}

/// What the machine asks the controller to do. The controller performs these in order.
public enum RolloutAction: Sendable, Equatable {
    /// Start `count` instances of `version` and put them in the route table with weight 0
    /// so the router health-checks them.
    case startInstances(version: String, count: Int)
    /// Atomically send all traffic to `version`; `from` keeps its instances (weight 0).
    case switchTraffic(to: String, from: String?)
    /// Stop every instance of `version` (after removing it from the route table).
    case stopInstances(version: String)
    /// Rolling: stop the instances of `version` beyond the first `keep` by id (the ones
    /// already out of the route table).
    case stopExtraInstances(version: String, keep: Int)
    /// Keep `version` running with no traffic until `at` (seconds since 1970), then stop it.
    case keepWarm(version: String, until: Double)
    /// Append an event to the rollout's history.
    case record(kind: String, message: String)
    /// The canary's weight changed: send the router a new table.
    case updateRoutes
    /// Run the analysis `policy` now and feed its verdict back as `.analysisResult`.
    case analyze(policy: String, purpose: AnalysisPurpose)
    /// Store a decision with its evidence (`slipway why`).
    case decide(DecisionDraft)
    /// Start the hook of `stage` (from `BlueGreenState.hooks`) and feed how it ended back
    /// as `.hookResult`. Always the last action of a batch.
    case runHook(HookStage)
}

/// Which analysis of a canary a run belongs to.
public enum AnalysisPurpose: String, Codable, Sendable, CaseIterable, Equatable {
    /// The analysis that runs across every step (and gates the final promotion).
    case background
    /// The analysis of the current `analysis:` step.
    case step
}

/// A command from a person (CLI or API).
public enum RolloutCommand: String, Codable, Sendable, CaseIterable, Equatable {
    /// Complete the current step (ends a pause, skips a running analysis step).
    case promote
    /// Skip every remaining step and analysis and send all traffic to the canary.
    case promoteFull = "promote_full"
    /// Hold at the current step.
    case pause
    /// Go on after a pause.
    case resume
}

/// What happened, as the machine sees it.
public enum RolloutInput: Sendable, Equatable {
    /// The rollout was created and may begin.
    case begin
    /// Router health of the target release: how many of its instances pass health checks.
    case targetHealth(healthy: Int)
    /// Requests still in flight on the previous release's instances.
    case previousInflight(Int)
    /// Time passed (deadlines).
    case tick
    /// A person or the system stops the rollout.
    case abort(reason: String)
    /// The verdict of an analysis run the machine asked for.
    case analysisResult(purpose: AnalysisPurpose, verdict: AnalysisRunVerdict)
    /// How many times the target's instances crashed since the rollout began.
    case targetRestarts(Int)
    /// A person's command; `by` says who (recorded with the decision).
    case command(RolloutCommand, by: String)
    /// How a hook the machine asked for ended.
    case hookResult(HookOutcome)
    /// Fleet rollouts: the servers that do not answer, with why (sent every tick, empty
    /// when all answer).
    case serversUnreachable([String: String])
    /// Fleet rollouts: healthy instances of the target on each server.
    case serverHealth([String: Int])
}
