/// Hook bookkeeping shared by the blue-green, canary and rolling machines: starting a
/// hook, judging its report (or its silence, or an abort while it runs), and the hooks at
/// the two ends of a rollout (post_deploy or on_rollback after success, on_rollback after
/// a failure that had already sent traffic to the new release). What each machine does
/// when the hooks before traffic passed or failed is its own: see `HookContinuation`.
///
/// on_rollback after a failure: when a deploy (not a rollback) fails after its new
/// release got traffic (a canary rolled back by analysis, a crash loop or a person; a
/// rolling update failing after a batch took traffic; a blue-green watch switching back
/// by itself), the machine first puts all traffic back on the previous release, then the
/// rollout stays in `running_hook` (so it keeps its lock) while the new release's
/// on_rollback runs, then ends failed with the original failure reason. A failed
/// on_rollback is recorded and does not change that outcome.
enum HookContinuation: Equatable {
    /// The hooks before traffic all passed: after `actions`, the machine sends traffic its own way.
    case beforeTrafficPassed(note: String, actions: [RolloutAction])
    /// A hook before traffic failed, or the rollout was aborted while it ran: after
    /// `actions`, the machine fails its own way with `reason` (no traffic ever moved).
    case beforeTrafficFailed(reason: String, actions: [RolloutAction])
    /// Decided here; nothing left for the machine.
    case handled([RolloutAction])
}

extension BlueGreenState {
    /// A hook that has not reported this long after its timeout counts as failed.
    static let hookReportGrace: Double = 60

    /// Whether a deploy that failed now would run its on_rollback (it has one, not yet run).
    var undoesOnFailure: Bool {
        kind != .rollback && hooks?.hooks.onRollback != nil && hooks?.done.contains(.onRollback) == false
    }

    /// Phase `running_hook` with `stage` running; the actions record and start it.
    mutating func startHook(_ stage: HookStage, now: Double) -> [RolloutAction] {
        guard let progress = hooks, progress.runs(stage) else { return [] }
        phase = .runningHook
        hooks?.running = stage
        hooks?.startedAt = now
        let when = switch stage {
        case .preDeploy: "before \(targetVersion) gets any traffic"
        case .smoke: "against \(targetVersion) through the pin header, before it gets any traffic"
        case .postDeploy: "after the switch to \(targetVersion)"
        case .onRollback where failureReason != nil: "after traffic went back to \(fromVersion ?? "the previous release") from the failed \(targetVersion)"
        case .onRollback: "after the rollback to \(targetVersion)"
        }
        return [
            .record(kind: "hook_started", message: "running \(progress.describe(stage)) \(when)"),
            .runHook(stage),
        ]
    }

    /// An input in phase `running_hook`: the running hook's report, a tick (a report that
    /// never came counts as failed `hookReportGrace` after the hook's timeout), or an abort.
    /// Anything else (health, another hook's report) changes nothing.
    mutating func runningHookInput(_ input: RolloutInput, now: Double) -> HookContinuation {
        switch input {
        case .hookResult(let outcome):
            guard let hooks, hooks.running == outcome.stage else { return .handled([]) }
            return hookEnded(outcome, now: now)
        case .tick:
            // The controller kills a hook at its timeout and always reports; this only
            // catches a report that never came.
            guard let hooks, let stage = hooks.running, let started = hooks.startedAt,
                  let timeout = hooks.timeout(of: stage), now >= started + timeout.seconds + Self.hookReportGrace else { return .handled([]) }
            return hookEnded(HookOutcome(stage: stage, passed: false, exit: "no result \(Int(Self.hookReportGrace)) s after its timeout of \(DurationText.format(timeout))"), now: now)
        case .abort(let reason):
            hooks?.running = nil
            hooks?.startedAt = nil
            if let original = failureReason {
                // on_rollback after a failure: traffic is already back; the outcome stands.
                phase = .failed
                endedAt = now
                return .handled([.record(kind: "aborted", message: "\(reason) while the on_rollback hook ran"), .record(kind: "failed", message: original)])
            }
            if switchedAt == nil {
                return .beforeTrafficFailed(reason: reason, actions: [])
            }
            // Traffic is on the target: the rollout ends here; a rollback moves it back.
            phase = .failed
            endedAt = now
            failureReason = reason
            return .handled([.record(kind: "aborted", message: reason)])
        default:
            return .handled([])
        }
    }

    private mutating func hookEnded(_ outcome: HookOutcome, now: Double) -> HookContinuation {
        let stage = outcome.stage
        hooks?.running = nil
        hooks?.startedAt = nil
        hooks?.done.append(stage)
        if outcome.passed {
            let passed: [RolloutAction] = [.record(kind: "hook_passed", message: outcome.summary)]
            switch stage {
            case .preDeploy, .smoke:
                if let next = hooks?.nextBeforeSwitch() {
                    return .handled(passed + startHook(next, now: now))
                }
                return .beforeTrafficPassed(note: "\(stage.rawValue) hook passed", actions: passed)
            case .postDeploy:
                return .handled(passed + finish(now: now))
            case .onRollback:
                return .handled(passed + afterOnRollback(now: now))
            }
        }
        switch stage {
        case .preDeploy, .smoke:
            return .beforeTrafficFailed(reason: outcome.summary, actions: [
                .record(kind: "hook_failed", message: outcome.summary),
                .decide(DecisionDraft(kind: .aborted, actor: "hook", summary: "not switched to \(targetVersion): \(outcome.summary)")),
            ])
        case .postDeploy:
            phase = .failed
            endedAt = now
            let back = fromVersion.map { "; `slipway rollback` moves it back to \($0)" } ?? ""
            failureReason = "\(outcome.summary) (traffic stays on \(targetVersion), switched before the hook ran\(back))"
            return .handled([.record(kind: "hook_failed", message: outcome.summary), .record(kind: "failed", message: failureReason!)])
        case .onRollback where failureReason != nil:
            return .handled([.record(kind: "hook_failed", message: "\(outcome.summary); traffic stays on \(fromVersion ?? "the previous release")")] + afterOnRollback(now: now))
        case .onRollback:
            return .handled([.record(kind: "hook_failed", message: "\(outcome.summary); the rollback to \(targetVersion) stands")] + finish(now: now))
        }
    }

    /// on_rollback is over: a failed deploy ends failed with its original reason; a
    /// rollback succeeded.
    private mutating func afterOnRollback(now: Double) -> [RolloutAction] {
        guard let reason = failureReason else { return finish(now: now) }
        phase = .failed
        endedAt = now
        return [.record(kind: "failed", message: reason)]
    }

    /// Traffic is on the target for good: its post_deploy (a deploy) or on_rollback (a
    /// rollback) when it has one not yet run, else succeeded (`message` is the event's).
    mutating func finishWithHooks(now: Double, message: String? = nil) -> [RolloutAction] {
        let last: HookStage = kind == .rollback ? .onRollback : .postDeploy
        if let hooks, hooks.hooks[last] != nil, !hooks.done.contains(last) {
            return startHook(last, now: now)
        }
        return finish(now: now, message: message)
    }

    /// The rollout is over and nothing failed.
    mutating func finish(now: Double, message: String? = nil) -> [RolloutAction] {
        phase = .succeeded
        endedAt = now
        return [.record(kind: "succeeded", message: message ?? "rollout to \(targetVersion) succeeded")]
    }

    /// The rollout fails with `reason`. `restore` (putting traffic back), a `failed` event,
    /// then `after`; with `undo` (the target had traffic) and an on_rollback to run, the
    /// `failed` event waits for the hook, which runs last, the rollout in `running_hook`.
    mutating func endFailed(reason: String, now: Double, undo: Bool, restore: [RolloutAction], after: [RolloutAction]) -> [RolloutAction] {
        failureReason = reason
        if undo, undoesOnFailure {
            endedAt = nil
            return restore + after + startHook(.onRollback, now: now)
        }
        phase = .failed
        endedAt = now
        return restore + [.record(kind: "failed", message: reason)] + after
    }
}
