/// Deploy hooks (`hooks:` in slipway.yml): commands a rollout runs at fixed points, with
/// every strategy. The order, for a deploy:
///
///     blue-green: start new instances ─▶ healthy ─▶ pre_deploy ─▶ smoke ─▶ [preview analysis]
///         ─▶ switch ─▶ drain ─▶ [watch] ─▶ old release stopped / kept warm ─▶ post_deploy ─▶ succeeded
///     canary: start canary ─▶ healthy (routable at weight 0: the pin header reaches it)
///         ─▶ pre_deploy ─▶ smoke ─▶ first step's weight ─▶ steps ─▶ promoted ─▶ drain
///         ─▶ old release stopped / kept warm ─▶ post_deploy ─▶ succeeded
///     rolling: first batch healthy (weight 0) ─▶ pre_deploy ─▶ smoke ─▶ first batch takes
///         traffic ─▶ batches ─▶ last batch ─▶ post_deploy ─▶ succeeded
///
/// for a rollback (any strategy): switch back ─▶ drain ─▶ on_rollback ─▶ succeeded; and for
/// a deploy that fails after its new release got traffic (canary rolled back, rolling
/// batch failed, blue-green watch switched back by itself): traffic back on the previous
/// release ─▶ on_rollback ─▶ failed (with the original reason). The rollout is not terminal
/// while a hook runs, so the one-rollout-per-unit lock is held throughout. The shared
/// bookkeeping is in HookSteps.swift.
public enum HookStage: String, Codable, Sendable, CaseIterable {
    /// Once per deploy, after the new instances are healthy and before they get any traffic.
    case preDeploy = "pre_deploy"
    /// Against the new release through the pin header, before it gets traffic; failure aborts.
    case smoke
    /// After all traffic moved (switch, canary promotion, last batch), the drain (and
    /// watch) and the previous release stopped or kept warm.
    case postDeploy = "post_deploy"
    /// After a rollback's switch and drain; and after a deploy that had sent traffic to
    /// its release failed and traffic is back on the previous release.
    case onRollback = "on_rollback"

    /// Whether the hook runs before traffic moves (its failure stops the rollout with the
    /// stable release still serving).
    public var beforeSwitch: Bool { self == .preDeploy || self == .smoke }
}

/// One hook as configured.
public struct HookSpec: Codable, Sendable, Equatable {
    /// The argv; `run[0]` is looked up like an instance's program.
    public var run: [String]
    /// Working directory (nil: the service's `working_dir`).
    public var workingDirectory: String?
    /// Extra environment variables (over the service's `env` and secrets).
    public var env: [String: String]
    /// The hook and everything in its process group are killed when this passes.
    public var timeout: Duration

    public init(run: [String], workingDirectory: String? = nil, env: [String: String] = [:], timeout: Duration = Defaults.hookTimeout) {
        self.run = run
        self.workingDirectory = workingDirectory
        self.env = env
        self.timeout = timeout
    }

    enum CodingKeys: String, CodingKey { case run, workingDirectory, env, timeout }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        run = try c.decode([String].self, forKey: .run)
        workingDirectory = try c.decodeIfPresent(String.self, forKey: .workingDirectory)
        env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        timeout = try c.decodeIfPresent(TextDuration.self, forKey: .timeout)?.value ?? Defaults.hookTimeout
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(run, forKey: .run)
        try c.encodeIfPresent(workingDirectory, forKey: .workingDirectory)
        if !env.isEmpty { try c.encode(env, forKey: .env) }
        try c.encode(TextDuration(timeout), forKey: .timeout)
    }
}

/// The `hooks:` section: every hook is optional.
public struct HooksSpec: Codable, Sendable, Equatable {
    public var preDeploy: HookSpec?
    public var smoke: HookSpec?
    public var postDeploy: HookSpec?
    public var onRollback: HookSpec?

    public init(preDeploy: HookSpec? = nil, smoke: HookSpec? = nil, postDeploy: HookSpec? = nil, onRollback: HookSpec? = nil) {
        self.preDeploy = preDeploy
        self.smoke = smoke
        self.postDeploy = postDeploy
        self.onRollback = onRollback
    }

    public subscript(stage: HookStage) -> HookSpec? {
        get {
            switch stage {
            case .preDeploy: preDeploy
            case .smoke: smoke
            case .postDeploy: postDeploy
            case .onRollback: onRollback
            }
        }
        set {
            switch stage {
            case .preDeploy: preDeploy = newValue
            case .smoke: smoke = newValue
            case .postDeploy: postDeploy = newValue
            case .onRollback: onRollback = newValue
            }
        }
    }

    public var isEmpty: Bool { HookStage.allCases.allSatisfy { self[$0] == nil } }
}

/// How one hook run ended, as the controller reports it to the machine.
public struct HookOutcome: Sendable, Equatable {
    public var stage: HookStage
    public var passed: Bool
    /// `exit 0`, `exit 3`, `killed by signal 9`, `timed out after 5s (killed with its process group)`,
    /// `not started: …`, `interrupted: …`.
    public var exit: String
    /// The last lines of its output (stderr then stdout), secrets redacted.
    public var tail: String

    public init(stage: HookStage, passed: Bool, exit: String, tail: String = "") {
        self.stage = stage
        self.passed = passed
        self.exit = exit
        self.tail = tail
    }

    /// One line for events and failure reasons.
    public var summary: String {
        "\(stage.rawValue) hook " + (passed ? "passed (\(exit))" : "failed: \(exit)") + (tail.isEmpty ? "" : "; output: \(tail)")
    }
}

/// A rollout's hooks (persisted with its state): which to run and which is running.
public struct HookProgress: Codable, Sendable, Equatable {
    public var hooks: HooksSpec
    /// The hook running now (phase `running_hook`).
    public var running: HookStage?
    public var startedAt: Double?
    /// Hooks that finished, in order.
    public var done: [HookStage] = []
    /// Blue-green with `preview_analysis`: the gate to start once the hooks before the switch passed.
    public var thenPreview = false
    /// Deploys of a service with `backup:`: the database backup the pre_deploy stage takes
    /// before its hook (the stage runs for the backup alone when there is no hook).
    public var backup: DatabaseBackupSpec?

    public init(hooks: HooksSpec, backup: DatabaseBackupSpec? = nil) {
        self.hooks = hooks
        self.backup = backup
    }

    /// Whether the stage has anything to run: its hook, or for pre_deploy the backup.
    public func runs(_ stage: HookStage) -> Bool {
        hooks[stage] != nil || (stage == .preDeploy && backup != nil)
    }

    /// The next hook before the switch that has not run yet: the one place deciding
    /// which hooks run before traffic, for every strategy.
    public func nextBeforeSwitch() -> HookStage? {
        [HookStage.preDeploy, .smoke].first { runs($0) && !done.contains($0) }
    }

    /// How long the stage may take in all (the backup's timeout plus the hook's).
    public func timeout(of stage: HookStage) -> Duration? {
        guard runs(stage) else { return nil }
        let backupPart = stage == .preDeploy ? (backup?.timeout ?? .zero) : .zero
        return (hooks[stage]?.timeout ?? .zero) + backupPart
    }

    /// What the stage runs, for its `hook_started` event.
    public func describe(_ stage: HookStage) -> String {
        let hook = hooks[stage].map { "the \(stage.rawValue) hook `\($0.run.joined(separator: " "))` (timeout \(DurationText.format($0.timeout)))" }
        guard stage == .preDeploy, let backup else { return hook ?? "the \(stage.rawValue) hook" }
        let taking = "a \(backup.engine.rawValue) backup of \(backup.displayTarget) (timeout \(DurationText.format(backup.timeout)))"
        return hook.map { "\(taking), then \($0)" } ?? taking
    }
}
