import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import SlipwayTargets

/// A rollout begins once its release's exact bytes are ready: the driver records them the
/// first time (hashes the executable, resolves the image to its digest, pulling it when
/// `pull:` says so) and checks them every other time. Until then the rollout waits in
/// `waiting_healthy` with no deadline running and no instance started; a failure fails it
/// before any instance starts, so traffic never moves.
extension Controller {
    /// How long a deploy or rollback request waits for its release to be made ready before
    /// it returns with the rollout still preparing (a long pull goes on in the background;
    /// `deploy --wait` shows its progress).
    static let prepareWaitInRequest: Duration = .seconds(3)

    /// Begins the rollout's machine: at once when the release is warm (its instances are
    /// running), otherwise after the release is prepared.
    func beginRollout(id: Int64, unit: String, state: BlueGreenState) async throws {
        if state.warm {
            var machine = RolloutMachine(state: state)
            try await step(id: id, service: unit, machine: &machine, input: .begin)
            return
        }
        let task = Task { await self.prepareThenBegin(id: id, unit: unit) }
        prepareTasks[id] = task
        // A release that needs no download begins before the request returns.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task.value }
            group.addTask { try? await Task.sleep(for: Self.prepareWaitInRequest) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Prepares the rollout's release, records its artifacts (once), then begins the
    /// machine; on failure the rollout fails with the driver's reason.
    func prepareThenBegin(id: Int64, unit: String) async {
        defer { prepareTasks[id] = nil }
        do {
            guard let rollout = try pendingBegin(id), let release = try store.release(service: unit, version: rollout.state.targetVersion, creatingWith: nil, now: clock.now()) else { return }
            fleet.sync([release.spec])
            let driver: any InstanceDriver = release.spec.servers.isEmpty ? drivers(release.spec.target) : FleetPrepare(fleet: fleet, servers: release.spec.servers.map(\.id), drivers: drivers)
            let values = try referenceValues(unit: unit, spec: release.spec)
            let artifacts: [ReleaseArtifact]
            do {
                artifacts = try await driver.prepare(release, secrets: values) { [weak self] line in
                    await self?.recordProgress(unit: unit, rolloutID: id, line: line)
                }
            } catch {
                guard try pendingBegin(id) != nil else { return }
                try recordEvent(service: unit, rolloutID: id, kind: "artifact_failed", message: redaction.redact(error.message), time: clock.now())
                try await abort(rolloutID: id, reason: "release \(release.version) cannot start: \(redaction.redact(error.message))")
                return
            }
            if release.artifacts.isEmpty {
                try store.recordArtifacts(service: unit, version: release.version, artifacts)
                try recordEvent(service: unit, rolloutID: id, kind: "artifact_pinned",
                                message: "release \(release.version) runs " + artifacts.map(\.summary).joined(separator: ", "), time: clock.now())
            }
            // An abort may have ended the rollout while the release was prepared.
            guard let current = try pendingBegin(id) else { return }
            var machine = RolloutMachine(state: current.state)
            try await step(id: id, service: unit, machine: &machine, input: .begin)
        } catch {
            logger.error("rollout could not begin", metadata: ["slipway.rollout": "\(id)", "slipway.error": "\(error)"])
        }
    }

    /// The rollout when it is still waiting to begin (not ended, not begun), else nil.
    func pendingBegin(_ id: Int64) throws -> (id: Int64, service: String, state: BlueGreenState)? {
        guard let active = try store.activeRollouts().first(where: { $0.id == id }),
              active.state.phase == .waitingHealthy, active.state.healthyDeadline == nil else { return nil }
        return active
    }

    /// Progress of a preparation (pull lines) as events of the rollout, secrets redacted.
    func recordProgress(unit: String, rolloutID: Int64, line: String) {
        try? recordEvent(service: unit, rolloutID: rolloutID, kind: "artifact_progress", message: redaction.redact(line), time: clock.now())
    }

    /// What `${NAME}` references of the unit resolve to: its secrets, else its `env`, else
    /// the server's environment (as for backups and notifications).
    func referenceValues(unit: String, spec: ServiceSpec) throws -> [String: String] {
        var values = inherited
        values.merge(spec.env) { _, own in own }
        values.merge(try secretEnvironment(service: unit)) { _, secret in secret }
        return values
    }
}

extension InstanceRecord {
    /// Takes where a driver started the instance.
    mutating func apply(_ started: StartedInstance) {
        pid = started.pid
        pidStartTime = started.pidStartTime
        containerID = started.containerID
        host = started.host
        port = started.port
    }
}
