/// The blue-green rollout as a pure state machine: inputs in, actions out, no I/O.
/// `now` is passed with every input (seconds since 1970) so tests use a manual clock.
///
/// waiting_healthy ──all replicas healthy──▶ draining ──in-flight 0 or drain timeout──▶ succeeded
///        │ deploy_timeout / abort                                           (previous kept warm)
///        ▼
///      failed (new instances stopped, traffic never left the stable release)
///
/// With a gate (`preview_analysis`, `watch`): healthy ─▶ previewing ─preview analysis
/// passed (or promote)─▶ draining ─drained─▶ watching ─watch over─▶ succeeded; failed
/// preview analysis fails the rollout before the switch, failed watch analysis switches
/// back to the still-warm previous release.
///
/// With hooks (`hooks:`, see `HookStage`): healthy ─▶ running_hook (pre_deploy, then
/// smoke) ─▶ previewing or draining as above; a failed hook fails the rollout before the
/// switch. At the end, instead of succeeded: running_hook (post_deploy, or on_rollback for
/// a rollback) ─▶ succeeded. A failed post_deploy fails the rollout with traffic left on the
/// new release; a failed on_rollback is recorded and the rollback still succeeds. A watch
/// that switches back by itself runs the target's on_rollback after the switch back
/// (running_hook), then fails with the watch's reason.
public struct BlueGreenMachine: Sendable {
    public private(set) var state: BlueGreenState

    public init(state: BlueGreenState) {
        self.state = state
    }

    public mutating func handle(_ input: RolloutInput, now: Double) -> [RolloutAction] {
        guard !state.phase.isTerminal else { return [] }
        switch (state.phase, input) {
        case (.waitingHealthy, .begin):
            if state.warm {
                return afterHealthy(now: now, note: "release \(state.targetVersion) is still warm; switching at once")
            }
            state.healthyDeadline = now + state.spec.deployTimeout.seconds
            return [
                .record(kind: "starting", message: "starting \(state.replicas) instance(s) of \(state.targetVersion)"),
                .startInstances(version: state.targetVersion, count: state.replicas),
            ]

        case (.waitingHealthy, .targetHealth(let healthy)):
            guard healthy >= state.replicas else { return [] }
            let note = "\(healthy)/\(state.replicas) instance(s) of \(state.targetVersion) passed health checks"
            return afterHealthy(now: now, note: note)

        case (.runningHook, _):
            switch state.runningHookInput(input, now: now) {
            case .handled(let actions):
                return actions
            case .beforeTrafficPassed(let note, let actions):
                if let name = state.gate?.preview {
                    return actions + startPreview(now: now, note: note, policy: name, announce: false)
                }
                return actions + switchTraffic(now: now, note: note, announce: false)
            case .beforeTrafficFailed(let reason, let actions):
                return actions + fail(now: now, reason: reason)
            }

        case (.previewing, .tick):
            guard let gate = state.gate, let name = gate.preview, let due = gate.nextAt, now >= due else { return [] }
            state.gate?.nextAt = now + gate.policy(name).interval.seconds
            return [.analyze(policy: name, purpose: .step)]

        case (.previewing, .analysisResult(_, let verdict)):
            return previewResult(verdict, now: now)

        case (.previewing, .command(let command, let by)) where command == .promote || command == .promoteFull:
            return [.decide(DecisionDraft(kind: .promoted, actor: by, summary: "\(by) switched to \(state.targetVersion) without waiting for the preview analysis (latest: \(state.gate?.lastSummary ?? "no run yet"))"))]
                + switchTraffic(now: now, note: "promoted by \(by)")

        case (.previewing, .abort(let reason)):
            return fail(now: now, reason: reason)

        case (.watching, .tick):
            guard let gate = state.gate else { return [] }
            if let until = gate.watchUntil, now >= until {
                let data = gate.lastSummary.map { "latest: \($0)" } ?? "no analysis run"
                return [.decide(DecisionDraft(kind: .stepCompleted, actor: "timer", summary: "watch of \(DurationText.format(.milliseconds(Int64(gate.watchSeconds * 1000)))) ended without a failed analysis (\(data))"))]
                    + succeed(now: now, note: "watch over", afterWatch: true)
            }
            guard let due = gate.nextAt, now >= due else { return [] }
            state.gate?.nextAt = now + gate.policy(gate.watch).interval.seconds
            return [.analyze(policy: gate.watch, purpose: .background)]

        case (.watching, .analysisResult(_, let verdict)):
            return watchResult(verdict, now: now)

        case (.watching, .abort(let reason)):
            // As while draining: traffic is on the target; a rollback moves it back.
            state.phase = .failed
            state.endedAt = now
            state.failureReason = reason
            return [.record(kind: "aborted", message: reason)]

        case (.waitingHealthy, .targetRestarts(let crashes)) where !state.warm:
            guard crashes >= state.spec.maxRestarts else { return [] }
            return fail(now: now, reason: "instances of \(state.targetVersion) crashed \(crashes) times before passing health checks (max_restarts \(state.spec.maxRestarts)): crash loop")

        case (.draining, .targetRestarts(let crashes)), (.watching, .targetRestarts(let crashes)):
            guard crashes >= state.spec.maxRestarts, let from = state.fromVersion else { return [] }
            let reason = "instances of \(state.targetVersion) crashed \(crashes) times after the switch (max_restarts \(state.spec.maxRestarts)): crash loop"
            // Back on the previous release (still running: draining or warm), then failed.
            return state.endFailed(reason: reason, now: now, undo: true, restore: [
                .decide(DecisionDraft(kind: .rolledBack, actor: "health", summary: "switched back to \(from): \(reason)")),
                .switchTraffic(to: from, from: state.targetVersion),
                .stopInstances(version: state.targetVersion),
            ], after: [
                .record(kind: "stable_kept", message: "all traffic back on \(from)"),
            ])

        case (.waitingHealthy, .tick):
            guard let deadline = state.healthyDeadline, now >= deadline else { return [] }
            return fail(now: now, reason: "instances of \(state.targetVersion) did not become healthy within \(DurationText.format(state.spec.deployTimeout)) (deploy_timeout)")

        case (.draining, .previousInflight(let count)):
            guard count == 0 else { return [] }
            return succeed(now: now, note: "previous release drained")

        case (.draining, .tick):
            guard let deadline = state.drainDeadline, now >= deadline else { return [] }
            return succeed(now: now, note: "drain_timeout (\(DurationText.format(state.spec.drainTimeout))) reached with requests still in flight on the previous release")

        case (.waitingHealthy, .abort(let reason)):
            return fail(now: now, reason: reason)

        case (.draining, .abort(let reason)):
            // Traffic is already on the target: the rollout ends here and the rollback
            // that asked for the abort moves traffic back as its own rollout. Nothing is
            // stopped: both releases are still needed.
            state.phase = .failed
            state.endedAt = now
            state.failureReason = reason
            return [.record(kind: "aborted", message: reason)]

        default:
            return []
        }
    }

    /// A hook that has not reported this long after its timeout counts as failed.
    public static let hookReportGrace: Double = BlueGreenState.hookReportGrace

    /// The target is healthy: the hooks before the switch, then the preview or the switch.
    mutating func afterHealthy(now: Double, note: String) -> [RolloutAction] {
        if let stage = state.hooks?.nextBeforeSwitch() {
            return [.record(kind: "healthy", message: note)] + state.startHook(stage, now: now)
        }
        if let name = state.gate?.preview {
            return startPreview(now: now, note: note, policy: name)
        }
        return switchTraffic(now: now, note: note)
    }

    mutating func switchTraffic(now: Double, note: String, announce: Bool = true) -> [RolloutAction] {
        state.phase = .draining
        state.switchedAt = now
        state.drainDeadline = now + state.spec.drainTimeout.seconds
        var actions: [RolloutAction] = announce ? [.record(kind: "healthy", message: note)] : []
        actions += [
            .switchTraffic(to: state.targetVersion, from: state.fromVersion),
            .record(kind: "switched", message: "traffic switched to \(state.targetVersion)" + (state.fromVersion.map { " from \($0)" } ?? "")),
        ]
        if state.fromVersion == nil {
            actions += succeed(now: now, note: "first release of the service; nothing to drain")
        }
        return actions
    }

    private mutating func startPreview(now: Double, note: String, policy name: String, announce: Bool = true) -> [RolloutAction] {
        guard var gate = state.gate else { return [] }
        state.phase = .previewing
        let policy = gate.policy(name)
        gate.tracker = AnalysisTracker(policy: policy)
        gate.nextAt = now + policy.interval.seconds
        gate.windowStart = now
        state.gate = gate
        return (announce ? [.record(kind: "healthy", message: note)] : []) + [
            .decide(DecisionDraft(kind: .started, actor: "health", summary: "\(note); previewing: analysis `\(name)` judges the requests pinned to \(state.targetVersion) (pin header) every \(DurationText.format(policy.interval)) and switches when it passes")),
        ]
    }

    private mutating func previewResult(_ verdict: AnalysisRunVerdict, now: Double) -> [RolloutAction] {
        guard var gate = state.gate, var tracker = gate.tracker, let name = gate.preview else { return [] }
        let decision = tracker.record(verdict)
        gate.tracker = tracker
        gate.lastSummary = verdict.summary
        state.gate = gate
        switch decision {
        case .continue:
            guard verdict.outcome == .pass else {
                return [.record(kind: "analysis_\(verdict.outcome.rawValue)", message: "`\(name)` on preview traffic: \(verdict.summary)")]
            }
            return [.decide(DecisionDraft(kind: .promoted, actor: "analysis", summary: "preview analysis `\(name)` passed; switching to \(state.targetVersion): \(verdict.summary)", verdict: verdict))]
                + switchTraffic(now: now, note: "preview analysis passed")
        case .abort(let reason), .failInconclusive(let reason):
            return [.decide(DecisionDraft(kind: .aborted, actor: "analysis", summary: "not switched: preview analysis `\(name)` \(reason)", verdict: verdict))]
                + fail(now: now, reason: "preview analysis `\(name)` \(reason)")
        case .pauseInconclusive(let reason):
            guard !gate.inconclusiveNoted else { return [] }
            state.gate?.inconclusiveNoted = true
            return [.decide(DecisionDraft(kind: .inconclusive, actor: "analysis", summary: "waiting: preview analysis `\(name)` \(reason); send requests with the pin header to \(state.targetVersion), or `slipway promote` / `slipway abort`", verdict: verdict))]
        }
    }

    private mutating func watchResult(_ verdict: AnalysisRunVerdict, now: Double) -> [RolloutAction] {
        guard var gate = state.gate, var tracker = gate.tracker else { return [] }
        let decision = tracker.record(verdict)
        gate.tracker = tracker
        gate.lastSummary = verdict.summary
        state.gate = gate
        switch decision {
        case .continue, .pauseInconclusive:
            return verdict.outcome == .pass ? [] : [.record(kind: "analysis_\(verdict.outcome.rawValue)", message: "`\(gate.watch)` during the watch: \(verdict.summary)")]
        case .abort(let reason), .failInconclusive(let reason):
            guard let from = state.fromVersion else { return [] }
            // Back on the previous release, then the target's on_rollback (if any), then failed.
            return state.endFailed(reason: "watch analysis `\(gate.watch)` \(reason)", now: now, undo: true, restore: [
                .decide(DecisionDraft(kind: .rolledBack, actor: "analysis", summary: "switched back to \(from) during the watch: `\(gate.watch)` \(reason)", verdict: verdict)),
                .switchTraffic(to: from, from: state.targetVersion),
                .stopInstances(version: state.targetVersion),
            ], after: [
                .record(kind: "stable_kept", message: "all traffic back on \(from)"),
            ])
        }
    }

    private mutating func succeed(now: Double, note: String, afterWatch: Bool = false) -> [RolloutAction] {
        if !afterWatch, var gate = state.gate, gate.watchSeconds > 0, state.fromVersion != nil {
            let policy = gate.policy(gate.watch)
            gate.tracker = AnalysisTracker(policy: policy)
            gate.watchUntil = (state.switchedAt ?? now) + gate.watchSeconds
            gate.nextAt = now + policy.interval.seconds
            gate.windowStart = state.switchedAt ?? now
            state.gate = gate
            state.phase = .watching
            return [.record(kind: "drained", message: note),
                    .record(kind: "watching", message: "watching \(state.targetVersion) with analysis `\(gate.watch)` until \(DurationText.format(.milliseconds(Int64(gate.watchSeconds * 1000)))) after the switch; \(state.fromVersion!) stays warm")]
        }
        var actions: [RolloutAction] = afterWatch ? [] : [.record(kind: "drained", message: note)]
        if let from = state.fromVersion, from != state.targetVersion {
            if state.spec.keepPrevious.milliseconds > 0 {
                let until = now + state.spec.keepPrevious.seconds
                actions.append(.keepWarm(version: from, until: until))
                actions.append(.record(kind: "keep_warm", message: "keeping \(from) warm for \(DurationText.format(state.spec.keepPrevious)) (keep_previous)"))
            } else {
                actions.append(.stopInstances(version: from))
            }
        }
        return actions + state.finishWithHooks(now: now)
    }

    mutating func fail(now: Double, reason: String) -> [RolloutAction] {
        state.phase = .failed
        state.endedAt = now
        state.failureReason = reason
        var actions: [RolloutAction] = [.record(kind: "failed", message: reason)]
        if !state.warm {
            actions.append(.stopInstances(version: state.targetVersion))
        }
        if let from = state.fromVersion {
            actions.append(.record(kind: "stable_kept", message: "traffic stays on \(from)"))
        }
        return actions
    }
}
