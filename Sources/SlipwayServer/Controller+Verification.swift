import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import SlipwayTargets

/// Post-deploy checks (`verify:`): when a deploy succeeds, one check per offset of its
/// release's `verify.after` is stored; the loop runs each when it is due (an analysis of
/// the serving release's numbers, a command, or both) in the background, records the
/// outcome with the rollout, notifies, and on a failure with `on_failure: rollback` rolls
/// back while the verified release still serves. Stored checks survive restarts: a check
/// that was running when the control plane stopped runs again.
extension Controller {
    /// Stores the checks of rollout `id` if it is a succeeded deploy whose release has
    /// `verify:` (once: a second call changes nothing).
    /// Checks of earlier rollouts still pending are skipped: their release no longer serves.
    func scheduleVerifications(rolloutID id: Int64, service: String, kind: RolloutKind, phase: RolloutPhase, version: String, fromVersion: String?, endedAt: Double?) throws {
        guard phase == .succeeded else { return }
        let skipped = try store.skipPendingVerifications(service: service, before: id, summary: "not run: rollout \(id) made \(version) the stable release", now: clock.now())
        if skipped > 0 {
            try recordEvent(service: service, rolloutID: id, kind: "verification_skipped",
                            message: "\(skipped) pending post-deploy check(s) of the release before \(version) will not run: \(version) serves now", time: clock.now())
        }
        guard kind == .deploy || kind == .initial,
              let release = try store.release(service: service, version: version, creatingWith: nil, now: clock.now()),
              let verify = release.spec.verify, !verify.after.isEmpty, !(try store.hasVerifications(rolloutID: id)) else { return }
        let succeededAt = endedAt ?? clock.now()
        try store.scheduleVerifications(verify.after.map { after in
            VerificationRecord(service: service, rolloutID: id, version: version, previousVersion: fromVersion,
                               afterSeconds: after.seconds, dueAt: succeededAt + after.seconds, onFailure: verify.onFailure)
        })
        let offsets = verify.after.map { "T+" + DurationText.format($0) }.joined(separator: ", ")
        let what = [verify.analysis.map { "analysis \($0)" }, verify.command.map { _ in "command" }].compactMap { $0 }.joined(separator: " and ")
        try recordEvent(service: service, rolloutID: id, kind: "verification_scheduled",
                        message: "post-deploy checks of \(version) (\(what)) scheduled at \(offsets); on failure: \(verify.onFailure.rawValue)",
                        time: clock.now())
    }

    /// At start: checks a crash kept from being stored are stored now (the latest succeeded
    /// deploy of each unit), and checks that were running run again.
    func recoverVerifications() throws {
        let requeued = try store.requeueRunningVerifications()
        if requeued > 0 {
            logger.info("post-deploy checks interrupted by a restart will run again", metadata: ["slipway.count": "\(requeued)"])
        }
        for name in try store.serviceNames() {
            guard let latest = try store.rollouts(service: name, limit: 1).first else { continue }
            try scheduleVerifications(rolloutID: latest.id, service: name, kind: latest.kind, phase: latest.phase,
                                      version: latest.toVersion, fromVersion: latest.fromVersion, endedAt: latest.endedAt)
        }
    }

    /// Starts every due check that is not running yet (looked at about once a second).
    func runDueVerifications(now: Double) throws {
        guard now - lastVerificationCheck >= 1 || now < lastVerificationCheck else { return }
        lastVerificationCheck = now
        for record in try store.dueVerifications(now: now) where verificationTasks[record.id] == nil {
            guard let service = try store.service(record.service) else {
                try store.finishVerification(id: record.id, status: .skipped, summary: "not run: the service was removed", now: now)
                continue
            }
            if service.stableVersion != record.version {
                let now = service.stableVersion.map { "\($0) serves now" } ?? "nothing serves now"
                try finish(record, .skipped, "not run: \(record.version) no longer serves (\(now))")
                continue
            }
            // A rollout under way decides first: the check runs after it, or is skipped if it replaced the release.
            if try store.activeRollout(service: record.service) != nil { continue }
            try launchVerification(record, spec: try store.release(service: record.service, version: record.version, creatingWith: nil, now: now)?.spec.verify)
        }
    }

    private func launchVerification(_ record: VerificationRecord, spec: VerifySpec?) throws {
        let now = clock.now()
        guard let spec else {
            try finish(record, .skipped, "not run: release \(record.version) has no `verify:` any more")
            return
        }
        try store.markVerificationRunning(id: record.id, now: now)
        logger.info("post-deploy check started", metadata: ["slipway.service": "\(record.service)", "slipway.version": "\(record.version)", "slipway.check": "\(record.label)"])
        var command: (executable: String, environment: [String: String], workingDirectory: String?, spec: HookSpec)?
        var notStarted: String?
        if let hook = spec.command {
            do {
                let prepared = try prepareCommand(hook, what: "the verify command", rolloutID: record.rolloutID, service: record.service,
                                                  version: record.version, fromVersion: record.previousVersion)
                var env = prepared.environment
                env["SLIPWAY_VERIFY_AFTER"] = DurationText.format(.milliseconds(Int64(record.afterSeconds * 1000)))
                env["SLIPWAY_URL"] = Self.previewRoute(spec: prepared.unit, version: record.version).url
                command = (prepared.executable, env, prepared.workingDirectory, hook)
            } catch let error as ControllerError {
                notStarted = error.message
            }
        }
        var policy: AnalysisPolicy?
        if let name = spec.analysis {
            let release = try store.release(service: record.service, version: record.version, creatingWith: nil, now: now)
            policy = release?.spec.analysis[name] ?? (name == "default" ? .default : nil)
            if policy == nil { notStarted = "the analysis \(name) is not defined in release \(record.version)'s config" }
        }
        let redaction = self.redaction
        let startedAt = now
        verificationTasks[record.id] = Task {
            var parts: [(VerificationStatus, String)] = []
            if let notStarted {
                parts.append((.failed, "not started: \(redaction.redact(notStarted))"))
            } else {
                if let policy {
                    let age = max(0, self.clock.now() - (record.dueAt - record.afterSeconds))
                    let verdict = await self.judge(policy, service: record.service, version: record.version, stable: nil, age: age)
                    let status: VerificationStatus = switch verdict.outcome {
                    case .pass: .passed
                    case .fail: .failed
                    case .inconclusive: .inconclusive
                    }
                    parts.append((status, verdict.summary))
                }
                if let command {
                    parts.append(await Self.runVerifyCommand(command, redaction: redaction))
                }
            }
            // Failed beats inconclusive beats passed.
            let status: VerificationStatus = parts.contains { $0.0 == .failed } ? .failed : parts.contains { $0.0 == .inconclusive } ? .inconclusive : .passed
            await self.verificationFinished(record, status: status, summary: parts.map(\.1).joined(separator: "; "), started: startedAt)
        }
    }

    nonisolated static func runVerifyCommand(_ command: (executable: String, environment: [String: String], workingDirectory: String?, spec: HookSpec),
                                             redaction: SecretRedaction) async -> (VerificationStatus, String) {
        do {
            let run = try await CheckCommand.run(executable: command.executable, arguments: command.spec.run, environment: command.environment,
                                                 workingDirectory: command.workingDirectory, timeout: command.spec.timeout)
            let lines = redaction.redact((run.stdout + run.stderr).split(separator: "\n", omittingEmptySubsequences: true).map(String.init))
            let tail = String(lines.suffix(3).joined(separator: " | ").suffix(300))
            let said = tail.isEmpty ? "" : ": \(tail)"
            switch run.exit {
            case .status(0): return (.passed, "command passed (exit 0)\(said)")
            case .status(let code): return (.failed, "command failed (exit \(code))\(said)")
            case .signal(let signal): return (.failed, "command killed by signal \(signal)\(said)")
            case .timedOut: return (.failed, "command timed out after \(DurationText.format(command.spec.timeout)) and was killed with its process group\(said)")
            }
        } catch {
            return (.failed, "command not started: \(redaction.redact("\(error)"))")
        }
    }

    /// Records the outcome, notifies, and acts on a failure.
    func verificationFinished(_ record: VerificationRecord, status: VerificationStatus, summary: String, started: Double) async {
        verificationTasks[record.id] = nil
        do {
            try finish(record, status, summary)
            guard status == .failed else {
                traces.verification(record, status: status, summary: summary, action: nil, started: started, ended: clock.now())
                return
            }
            let action = await actOnFailure(record)
            traces.verification(record, status: status, summary: summary, action: action, started: started, ended: clock.now())
            try store.setVerificationAction(id: record.id, action: action)
            try recordEvent(service: record.service, rolloutID: record.rolloutID, kind: "verification_action",
                            message: "after the failed \(record.label) check of \(record.version): \(action)", time: clock.now())
        } catch {
            logger.error("post-deploy check result not recorded", metadata: ["slipway.service": "\(record.service)", "slipway.error": "\(error)"])
        }
    }

    private func finish(_ record: VerificationRecord, _ status: VerificationStatus, _ summary: String) throws {
        let now = clock.now()
        try store.finishVerification(id: record.id, status: status, summary: summary, now: now)
        let kind = switch status {
        case .passed: "verification_passed"
        case .failed: "verification_failed"
        case .inconclusive: "verification_inconclusive"
        default: "verification_skipped"
        }
        let line = "\(record.label) check of \(record.version) \(status.rawValue): \(summary)"
        logger.log(level: status == .passed || status == .skipped ? .info : .warning, "post-deploy check finished", metadata: [
            "slipway.service": "\(record.service)", "slipway.version": "\(record.version)", "slipway.check": "\(record.label)", "slipway.outcome": "\(status.rawValue)",
        ])
        try recordEvent(service: record.service, rolloutID: record.rolloutID, kind: kind, message: line, time: now, version: record.version)
    }

    /// What a failed check does: nothing more with `on_failure: alert`; with `rollback`, a
    /// rollback to the release the verified one replaced, if it still serves and nothing
    /// else is under way. Returns what happened, in words.
    private func actOnFailure(_ record: VerificationRecord) async -> String {
        guard record.onFailure == .rollback else { return "alerted only (on_failure: alert)" }
        guard let previous = record.previousVersion else { return "no rollback: \(record.version) was the first release" }
        do {
            guard let service = try store.service(record.service), service.stableVersion == record.version else {
                return "no rollback: \(record.version) no longer serves"
            }
            if let active = try store.activeRollout(service: record.service) {
                return "no rollback: rollout \(active.id) (to \(active.toVersion)) is under way"
            }
            let rollout = try await rollback(service: record.service, to: previous)
            return "rolling back to \(previous) (rollout \(rollout.id))"
        } catch let error as ControllerError {
            return "no rollback: \(error.message)"
        } catch {
            return "no rollback: \(error)"
        }
    }
}
