/// The rolling rollout as a pure state machine: inputs in, actions out, no I/O.
///
/// Each cycle first retires previous-release instances while at least
/// `replicas - max_unavailable` stay available (they leave the route table, drain, then
/// stop), then starts new instances up to `replicas + max_surge` live in all, and waits
/// for them to pass health checks (`deploy_timeout` per batch) and, with `analysis`, for
/// a passing analysis run. It succeeds when `replicas` new instances serve and no
/// previous one is left. Any failure stops the new instances and restores the previous
/// release to `replicas` instances with all traffic at once.
///
/// With hooks: when the first batch is healthy, it stays out of traffic (weight 0, reached
/// through the pin header) while pre_deploy and smoke run (running_hook); their failure
/// is a failure as above. post_deploy runs after the last batch and the switch. A failure
/// after a batch took traffic runs the new release's on_rollback once the previous release
/// is restored, then ends failed.
public struct RollingMachine: Sendable {
    public private(set) var state: BlueGreenState

    public init(state: BlueGreenState) {
        self.state = state
    }

    private var progress: RollingProgress {
        get { state.rolling! }
        set { state.rolling = newValue }
    }

    public mutating func handle(_ input: RolloutInput, now: Double) -> [RolloutAction] {
        guard !state.phase.isTerminal, state.rolling != nil else { return [] }
        if state.phase == .runningHook {
            switch state.runningHookInput(input, now: now) {
            case .handled(let actions):
                return actions
            case .beforeTrafficPassed(let note, let actions):
                return actions + batchReady(progress.newWanted, now: now, note: note)
            case .beforeTrafficFailed(let reason, let actions):
                return actions + fail(now: now, actor: nil, reason: reason)
            }
        }
        switch (progress.wait, input) {
        case (_, .begin):
            state.phase = .progressing
            let p = progress
            return [.record(kind: "starting", message: "rolling \(state.replicas) instance(s) to \(state.targetVersion): max_surge \(p.surge), max_unavailable \(p.unavailable)")]
                + cycle(now: now)
        case (_, .abort(let reason)):
            return fail(now: now, actor: nil, reason: reason)
        case (_, .targetRestarts(let crashes)):
            guard crashes >= state.spec.maxRestarts else { return [] }
            return fail(now: now, actor: "health", reason: "instances of \(state.targetVersion) crashed \(crashes) times (max_restarts \(state.spec.maxRestarts)): crash loop; \(progress.counts(replicas: state.replicas))")
        case (.healthy, .targetHealth(let healthy)):
            return batchHealth(healthy, now: now)
        case (.healthy, .tick):
            guard let deadline = progress.batchDeadline, now >= deadline else { return [] }
            return fail(now: now, actor: "health", reason: "batch \(progress.batches + 1): instances of \(state.targetVersion) did not become healthy within \(DurationText.format(state.spec.deployTimeout)) (deploy_timeout); \(progress.counts(replicas: state.replicas))")
        case (.drain, .previousInflight(let count)):
            guard count == 0 else { return [] }
            return drained(now: now, note: "retired instance(s) of \(state.fromVersion ?? "the previous release") drained")
        case (.drain, .tick):
            guard let deadline = progress.drainDeadline, now >= deadline else { return [] }
            return drained(now: now, note: "drain_timeout (\(DurationText.format(state.spec.drainTimeout))) reached with requests still in flight on retired instances")
        case (.analysis, .tick):
            guard let name = progress.analysis, let due = progress.nextAnalysisAt, now >= due else { return [] }
            progress.nextAnalysisAt = now + progress.policy(name).interval.seconds
            return [.analyze(policy: name, purpose: .step)]
        case (.analysis, .analysisResult(_, let verdict)):
            return analysisResult(verdict, now: now)
        case (.analysis, .command(let command, let by)) where command == .promote || command == .promoteFull:
            return [.decide(DecisionDraft(kind: .promoted, actor: by, summary: "\(by) went on after batch \(progress.batches) without waiting for analysis (latest: \(progress.lastSummary ?? "no run yet"))"))]
                + cycle(now: now)
        default:
            return []
        }
    }

    // MARK: the cycle

    /// Retire what may be retired, else start the next batch, else finish.
    private mutating func cycle(now: Double) -> [RolloutAction] {
        let replicas = state.replicas
        var p = progress
        let floor = replicas - p.unavailable
        let retire = max(0, min(p.oldRoutable, p.newReady + p.oldRoutable - floor))
        if retire > 0 {
            p.oldRoutable -= retire
            p.oldRetiring = retire
            p.wait = .drain
            p.drainDeadline = now + state.spec.drainTimeout.seconds
            progress = p
            return [
                .updateRoutes,
                .record(kind: "retiring", message: "retiring \(retire) instance(s) of \(state.fromVersion ?? "the previous release"): \(p.counts(replicas: replicas))"),
            ]
        }
        let wanted = min(replicas, replicas + p.surge - p.oldRoutable)
        if wanted > p.newWanted {
            let batch = wanted - p.newWanted
            p.newWanted = wanted
            p.wait = .healthy
            p.batchDeadline = now + state.spec.deployTimeout.seconds
            progress = p
            return [
                .record(kind: "batch_started", message: "batch \(p.batches + 1): starting \(batch) instance(s) of \(state.targetVersion) (\(wanted)/\(replicas) asked for)"),
                .startInstances(version: state.targetVersion, count: wanted),
            ]
        }
        if p.newReady >= replicas, p.oldRoutable == 0 {
            return succeed(now: now)
        }
        // Unreachable with surge + unavailable > 0; never hang silently.
        return fail(now: now, actor: nil, reason: "rolling cannot progress with max_surge \(p.surge) and max_unavailable \(p.unavailable) (\(p.counts(replicas: replicas)))")
    }

    private mutating func batchHealth(_ healthy: Int, now: Double) -> [RolloutAction] {
        guard healthy >= progress.newWanted, progress.newWanted > progress.newReady else { return [] }
        if progress.batches == 0, let stage = state.hooks?.nextBeforeSwitch() {
            // The first batch is healthy but not yet routable (weight 0, reachable with the
            // pin header): pre_deploy and smoke run now, once per rollout.
            progress.batchDeadline = nil
            return [.record(kind: "healthy", message: "batch 1: \(healthy) instance(s) of \(state.targetVersion) passed health checks; no traffic until the hooks passed")]
                + state.startHook(stage, now: now)
        }
        return batchReady(healthy, now: now)
    }

    /// The current batch takes traffic; then analysis, or the next cycle.
    private mutating func batchReady(_ healthy: Int, now: Double, note: String? = nil) -> [RolloutAction] {
        state.phase = .progressing
        progress.newReady = progress.newWanted
        progress.batches += 1
        progress.batchDeadline = nil
        if progress.trafficSince == nil { progress.trafficSince = now }
        let p = progress
        var actions: [RolloutAction] = [
            .updateRoutes,
            .decide(DecisionDraft(kind: .stepCompleted, actor: "health", summary: "batch \(p.batches) healthy\(note.map { " and \($0)" } ?? ""): \(healthy) instance(s) of \(state.targetVersion) passed health checks and take traffic; \(p.counts(replicas: state.replicas))", step: p.batches)),
        ]
        if let name = p.analysis {
            let policy = p.policy(name)
            progress.wait = .analysis
            progress.tracker = AnalysisTracker(policy: policy)
            progress.nextAnalysisAt = now + policy.interval.seconds
            progress.inconclusiveNoted = false
            actions.append(.record(kind: "batch_analysis", message: "after batch \(p.batches): judging analysis `\(name)` every \(DurationText.format(policy.interval)) before going on"))
            return actions
        }
        return actions + cycle(now: now)
    }

    private mutating func drained(now: Double, note: String) -> [RolloutAction] {
        let retired = progress.oldRetiring
        progress.oldRetiring = 0
        progress.drainDeadline = nil
        let record = RolloutAction.record(kind: "retired", message: "\(note); stopping \(retired) instance(s)")
        guard let from = state.fromVersion else { return [record] + cycle(now: now) }
        let stop = RolloutAction.stopExtraInstances(version: from, keep: progress.oldRoutable)
        var next = cycle(now: now)
        // The last old instances stop only after the switch made the new release stable:
        // once the rollout ended, the route table follows the stable release alone. A
        // post_deploy (or on_rollback) hook starts after that: `runHook` stays last.
        guard state.switchedAt != nil else { return [record, stop] + next }
        if case .runHook = next.last {
            let hook = next.removeLast()
            return [record] + next + [stop, hook]
        }
        return [record] + next + [stop]
    }

    private mutating func analysisResult(_ verdict: AnalysisRunVerdict, now: Double) -> [RolloutAction] {
        switch progress.judge(verdict, after: "batch \(progress.batches)", step: progress.batches, abortHint: "`slipway abort` rolls back") {
        case .ignored, .paused(nil): return []
        case .noted(let action): return [action]
        case .passed(let decision):
            progress.tracker = nil
            progress.nextAnalysisAt = nil
            return [.decide(decision)] + cycle(now: now)
        case .failed(let reason, let verdict): return fail(now: now, actor: "analysis", reason: reason, verdict: verdict)
        case .paused(let decision?): return [.decide(decision)]
        }
    }

    // MARK: endings

    /// Every instance replaced: the switch, then post_deploy (or a rollback's on_rollback)
    /// when configured, else succeeded.
    private mutating func succeed(now: Double) -> [RolloutAction] {
        state.switchedAt = now
        progress.wait = .healthy
        let summary = "all \(state.replicas) instance(s) run \(state.targetVersion) after \(progress.batches) batch(es)" + (state.fromVersion.map { "; no instance of \($0) is left" } ?? "")
        var actions: [RolloutAction] = [.switchTraffic(to: state.targetVersion, from: state.fromVersion)]
        let end = state.finishWithHooks(now: now, message: summary)
        if state.phase == .runningHook {
            actions.append(.record(kind: "replaced", message: summary))
        }
        return actions + end
    }

    /// New instances stopped, the previous release back to `replicas` instances with all
    /// traffic (retired ones still running rejoin the route table at once). When new
    /// instances had taken traffic, the new release's on_rollback runs after that and the
    /// rollout ends failed with `reason` when it is over.
    private mutating func fail(now: Double, actor: String?, reason: String, verdict: AnalysisRunVerdict? = nil) -> [RolloutAction] {
        let before = progress.counts(replicas: state.replicas)
        var p = progress
        p.newReady = 0
        p.newWanted = 0
        p.oldRoutable = state.replicas
        p.oldRetiring = 0
        progress = p
        var restore: [RolloutAction] = []
        if let actor {
            restore.append(.decide(DecisionDraft(kind: .rolledBack, actor: actor, summary: "rolled back at once (\(before)): \(reason)", verdict: verdict, step: p.batches)))
        }
        var after: [RolloutAction] = [.stopInstances(version: state.targetVersion)]
        if let from = state.fromVersion {
            after.append(.startInstances(version: from, count: state.replicas))
            after.append(.record(kind: "stable_kept", message: "\(from) restored to \(state.replicas) instance(s) with all traffic"))
        }
        return state.endFailed(reason: reason, now: now, undo: p.trafficSince != nil, restore: restore, after: after)
    }
}
