import Foundation
import SlipwayCore
import SlipwayStore

/// People's commands on a running rollout: promote, pause, resume, abort, retry; and the
/// decisions behind a rollout (`slipway why`).
extension Controller {
    /// The running rollout of a service, or a precise error naming what the last one did;
    /// read once no step of it is applying an action (`waitForAppliedActions`).
    func requireActiveRollout(service name: String, for verb: String) async throws -> (id: Int64, service: String, state: BlueGreenState) {
        _ = try requireService(name)
        if let running = try store.activeRollouts().first(where: { $0.service == name }) {
            await waitForAppliedActions(of: running.id)
        }
        guard let active = try store.activeRollouts().first(where: { $0.service == name }) else {
            let last = try store.rollouts(service: name, limit: 1).first
            let tail = last.map { "; the last rollout (\($0.id), \($0.kind.rawValue) to \($0.toVersion)) \($0.phase.rawValue)" } ?? ""
            throw ControllerError(.conflict, "no rollout of \(name) is running, so there is nothing to \(verb)\(tail)")
        }
        return active
    }

    /// promote, promote --full, pause, resume.
    public func command(service name: String, _ command: RolloutCommand, by: String) async throws -> RolloutRecord {
        let active = try await requireActiveRollout(service: name, for: command == .promoteFull ? "promote" : command.rawValue)
        if active.state.phase == .awaitingApproval, let approval = active.state.approval {
            throw ControllerError(.conflict, "rollout \(active.id) of \(name) is awaiting approval (\(approval.approvals) of \(approval.needed)); nothing runs yet: an approver runs `slipway approve`, or abort it", rolloutID: active.id)
        }
        if active.state.phase == .previewing, command == .promote || command == .promoteFull {
            return try await stepCommand(command, by: by, on: active)
        }
        if let rolling = active.state.rolling {
            guard rolling.wait == .analysis, command == .promote || command == .promoteFull else {
                throw ControllerError(.conflict, "rollout \(active.id) of \(name) is a rolling rollout (\(rolling.counts(replicas: active.state.replicas))); promote applies only while it waits for analysis between batches, pause and resume not at all (abort and rollback apply)", rolloutID: active.id)
            }
            return try await stepCommand(command, by: by, on: active)
        }
        if let waves = active.state.waves, active.state.switchedAt == nil, [.waitingHealthy, .progressing, .paused].contains(active.state.phase) {
            // A fleet's waves: pause and resume act on every server at once (no next wave
            // starts, nothing switches), promote skips the analysis between waves.
            switch (command, active.state.phase) {
            case (.pause, .paused):
                throw ControllerError(.conflict, "rollout \(active.id) of \(name) is already paused: \(waves.pausedFor ?? "")", rolloutID: active.id)
            case (.resume, .waitingHealthy), (.resume, .progressing):
                throw ControllerError(.conflict, "rollout \(active.id) of \(name) is not paused (\(waves.summary))", rolloutID: active.id)
            case (.promote, _), (.promoteFull, _):
                guard active.state.phase == .progressing, waves.wait == .analysis else {
                    throw ControllerError(.conflict, "rollout \(active.id) of \(name) is at \(waves.summary); promote applies only while it waits for analysis between waves", rolloutID: active.id)
                }
            default:
                break
            }
            return try await stepCommand(command, by: by, on: active)
        }
        guard let progress = active.state.canary else {
            throw ControllerError(.conflict, "rollout \(active.id) of \(name) is a \(active.state.kind == .deploy ? "blue-green" : active.state.kind.rawValue) rollout (\(active.state.phase.rawValue)); pause and resume apply to canary rollouts and to fleet rollouts before their last switch, promote to canaries, to blue-green previews and to waves waiting for analysis (abort and rollback apply to every rollout)", rolloutID: active.id)
        }
        switch (command, active.state.phase) {
        case (_, .waitingHealthy):
            throw ControllerError(.conflict, "canary \(active.state.targetVersion) of \(name) is still starting (waiting for health checks); it takes no traffic yet", rolloutID: active.id)
        case (_, .draining):
            throw ControllerError(.conflict, "canary \(active.state.targetVersion) of \(name) was already promoted; the previous release is draining", rolloutID: active.id)
        case (.pause, .paused):
            throw ControllerError(.conflict, "rollout \(active.id) of \(name) is already paused: \(progress.pauseReason ?? "")", rolloutID: active.id)
        case (.resume, .progressing):
            throw ControllerError(.conflict, "rollout \(active.id) of \(name) is not paused (it is at \(progress.position))", rolloutID: active.id)
        default:
            break
        }
        return try await stepCommand(command, by: by, on: active)
    }

    /// Feeds a person's command to the rollout's machine and returns the rollout as stored after it.
    func stepCommand(_ command: RolloutCommand, by: String, on active: (id: Int64, service: String, state: BlueGreenState)) async throws -> RolloutRecord {
        var machine = RolloutMachine(state: active.state)
        try await step(id: active.id, service: active.service, machine: &machine, input: .command(command, by: by))
        return try storedRollout(active.id)
    }

    /// The rollout as stored; a rollout that vanished meanwhile is an error.
    func storedRollout(_ id: Int64) throws -> RolloutRecord {
        guard let record = try store.rollout(id: id) else { throw ControllerError(.notFound, "rollout \(id) vanished") }
        return record
    }

    /// `slipway abort`: the running rollout of the service stops; traffic stays on (or goes
    /// back to) the stable release at once.
    public func abortRollout(service name: String, by: String) async throws -> RolloutRecord {
        let active = try await requireActiveRollout(service: name, for: "abort")
        if active.state.phase == .draining || active.state.phase == .watching || (active.state.phase == .runningHook && active.state.switchedAt != nil) {
            throw ControllerError(.conflict, "rollout \(active.id) of \(name) already moved all traffic to \(active.state.targetVersion); use `slipway rollback \(name)` to go back", rolloutID: active.id)
        }
        try await abort(rolloutID: active.id, reason: "aborted by \(by)", by: by)
        return try storedRollout(active.id)
    }

    /// `slipway retry`: deploys the version of the service's last rollout again when that
    /// rollout failed.
    public func retry(service name: String, by: String) async throws -> RolloutRecord {
        let service = try requireService(name)
        if let active = try store.activeRollout(service: name) {
            throw ControllerError(.conflict, "rollout \(active.id) of \(name) (to \(active.toVersion)) is still running; there is nothing to retry", rolloutID: active.id)
        }
        guard let last = try store.rollouts(service: name, limit: 1).first else {
            throw ControllerError(.conflict, "\(name) has no rollout to retry")
        }
        guard last.phase == .failed, last.kind == .deploy else {
            throw ControllerError(.conflict, "the last rollout of \(name) (\(last.id), \(last.kind.rawValue) to \(last.toVersion)) \(last.phase.rawValue); only a failed deploy can be retried", rolloutID: last.id)
        }
        guard last.toVersion != service.stableVersion,
              let release = try store.release(service: name, version: last.toVersion, creatingWith: nil, now: clock.now()) else {
            throw ControllerError(.conflict, "\(last.toVersion) is already the stable release of \(name)")
        }
        return try await begin(kind: .deploy, service: service, release: release, retriedBy: by, retriedFrom: last.id)
    }

    /// The decisions of a rollout (default: the service's latest rollout).
    public func why(service name: String, rolloutID: Int64?) throws -> RolloutExplanation {
        _ = try requireService(name)
        let id: Int64
        if let rolloutID {
            id = rolloutID
        } else if let latest = try store.rollouts(service: name, limit: 1).first {
            id = latest.id
        } else {
            throw ControllerError(.notFound, "\(name) has no rollouts yet")
        }
        guard let rollout = try store.rollout(id: id, withEvents: false), rollout.service == name else {
            throw ControllerError(.notFound, "\(name) has no rollout \(id)")
        }
        let checks = try store.verifications(rolloutID: id)
        return RolloutExplanation(rollout: rollout, decisions: try store.decisions(rolloutID: id), verifications: checks.isEmpty ? nil : checks)
    }

    /// The unit's post-deploy checks (`verify:`), newest rollout first.
    public func verifications(service name: String, limit: Int) throws -> [VerificationRecord] {
        _ = try requireService(name)
        return try store.verifications(service: name, limit: limit)
    }
}
