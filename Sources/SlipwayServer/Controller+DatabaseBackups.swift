import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import SlipwayTargets

/// Service database backups (`backup:`): taken at the start of a deploy's pre_deploy stage,
/// restored when the deploy is undone (`restore_on_rollback`) or by a person
/// (`slipway backups restore ID`). Every restore is preceded by a backup of the database as
/// it is, so a restore can itself be undone.
extension Controller {
    /// The tools' environment and how `${NAME}` in the target resolves: the service's
    /// secrets, then its `env`, then the server's environment.
    func backupContext(unit spec: ServiceSpec, backup: DatabaseBackupSpec) throws -> (environment: [String: String], connection: DatabaseBackupRunner.PostgresConnection?) {
        let secrets = try secretEnvironment(service: spec.name)
        var environment = InstanceLaunch.baseEnvironment(inherited)
        // libpq settings (PGSSLMODE, PGSSLROOTCERT, …) from the service's env and secrets.
        for (key, value) in spec.env.merging(secrets, uniquingKeysWith: { _, s in s }) where key.hasPrefix("PG") {
            environment[key] = value
        }
        guard backup.engine == .postgres else { return (environment, nil) }
        let inherited = self.inherited
        let connection = try DatabaseBackupRunner.postgresConnection(backup.target) { name in
            secrets[name] ?? spec.env[name] ?? inherited[name]
        }
        return (environment, connection)
    }

    /// Takes a backup of the unit's database, records it and applies the retention.
    /// - Parameter protecting: a backup retention must not delete (the one about to be restored).
    func takeDatabaseBackup(unit spec: ServiceSpec, backup: DatabaseBackupSpec, reason: DatabaseBackupReason, rolloutID: Int64?,
                            stableVersion: String?, deployVersion: String?, protecting: Int64? = nil) async throws -> DatabaseBackupRecord {
        let unit = spec.name
        let context: (environment: [String: String], connection: DatabaseBackupRunner.PostgresConnection?)
        do { context = try backupContext(unit: spec, backup: backup) } catch {
            throw ControllerError(.invalid, "backup of \(backup.displayTarget) not taken: \(error)")
        }
        let directory = backup.directory ?? stateDirectory.databaseBackupsDirectory(unit: unit)
        let now = clock.now()
        let stem = "\(unit.replacing("@", with: "_"))-\(Timestamps.compact(now))-\(reason == .preDeploy ? "r\(rolloutID ?? 0)" : reason.rawValue.replacing("_", with: "-"))"
        let started = ContinuousClock.now
        let file: (location: String, bytes: Int64, sha256: String)
        do {
            file = try await DatabaseBackupRunner.take(engine: backup.engine, target: backup.target, connection: context.connection, directory: directory,
                                                       stem: stem, timeout: backup.timeout, environment: context.environment,
                                                       search: searchDirectories, redaction: redaction)
        } catch {
            throw ControllerError(.unavailable, "backup of \(backup.displayTarget) failed: \(error.description)")
        }
        let seconds = (ContinuousClock.now - started).seconds
        let record = try store.insertDatabaseBackup(DatabaseBackupRecord(
            id: 0, service: unit, environment: spec.environmentName, rolloutID: rolloutID, stableVersion: stableVersion, deployVersion: deployVersion,
            reason: reason, engine: backup.engine, target: backup.displayTarget, location: file.location, bytes: file.bytes, sha256: file.sha256,
            createdAt: clock.now(), keep: backup.keep, status: "ok"))
        try store.appendAudit(AuditDraft(principal: "slipway", action: "database.backup", target: "service/\(unit)", details: [
            "backup": String(record.id), "reason": reason.rawValue, "engine": backup.engine.rawValue, "database": record.target,
            "location": record.location, "bytes": String(record.bytes), "sha256": record.sha256, "rollout": rolloutID.map(String.init) ?? "",
        ]), time: clock.now())
        try recordEvent(service: unit, rolloutID: rolloutID, kind: "backup_taken",
                        message: "backup \(record.id) of \(record.target) (\(backup.engine.rawValue)) taken in \(String(format: "%.2f", seconds)) s: \(record.location), \(record.bytes) bytes, sha256 \(record.sha256.prefix(16))…; keeping the newest \(backup.keep)",
                        time: clock.now())
        logger.info("database backup taken", metadata: ["slipway.service": "\(unit)", "slipway.backup": "\(record.id)", "slipway.bytes": "\(record.bytes)"])
        try applyBackupRetention(unit: unit, keep: backup.keep, rolloutID: rolloutID, protecting: protecting)
        return record
    }

    /// Deletes the files of the unit's backups beyond the newest `keep` (of those still on
    /// disk), never `protecting`.
    func applyBackupRetention(unit: String, keep: Int, rolloutID: Int64?, protecting: Int64? = nil) throws {
        let kept = try store.databaseBackups(service: unit).filter { $0.status == "ok" && $0.id != protecting }
        guard kept.count > keep else { return }
        var deleted: [Int64] = []
        for old in kept.dropFirst(keep) {
            do {
                if FileManager.default.fileExists(atPath: old.location) { try FileManager.default.removeItem(atPath: old.location) }
                deleted.append(old.id)
            } catch {
                logger.warning("cannot delete an old database backup", metadata: ["slipway.service": "\(unit)", "slipway.path": "\(old.location)", "slipway.error": "\(error)"])
            }
        }
        try store.markDatabaseBackupsDeleted(ids: deleted)
        if !deleted.isEmpty {
            try recordEvent(service: unit, rolloutID: rolloutID, kind: "backup_retention",
                            message: "deleted backup(s) \(deleted.map(String.init).joined(separator: ", ")) (keep: \(keep))", time: clock.now())
        }
    }

    /// The pre_deploy stage's backup for rollout `id`; nil when taken, else the failed outcome.
    func deployBackup(rolloutID id: Int64, service unit: String, state: BlueGreenState) async -> HookOutcome? {
        guard let backup = state.hooks?.backup else { return nil }
        do {
            guard let release = try store.release(service: unit, version: state.targetVersion, creatingWith: nil, now: clock.now()) else {
                throw ControllerError(.notFound, "release \(state.targetVersion) of \(unit) is not recorded")
            }
            _ = try await takeDatabaseBackup(unit: release.spec, backup: backup, reason: .preDeploy, rolloutID: id,
                                             stableVersion: state.fromVersion, deployVersion: state.targetVersion)
            return nil
        } catch {
            let message = redaction.redact((error as? ControllerError)?.message ?? "\(error)")
            try? recordEvent(service: unit, rolloutID: id, kind: "backup_failed", message: message, time: clock.now())
            return HookOutcome(stage: .preDeploy, passed: false, exit: "\(message) (the pre_deploy hook did not run)")
        }
    }

    // MARK: listing and restoring

    public func databaseBackups(service unit: String) throws -> [DatabaseBackupRecord] {
        guard try store.service(unit) != nil else {
            throw ControllerError(.notFound, "no service \(unit)")
        }
        return try store.databaseBackups(service: unit)
    }

    /// A person restores backup `id` (`slipway backups restore ID`): refused while a rollout
    /// of the unit runs or when the backup is not the unit's database as configured now.
    public func restoreDatabaseBackup(id: Int64, by actor: String) async throws -> DatabaseRestoreResult {
        guard let record = try store.databaseBackup(id: id) else {
            throw ControllerError(.notFound, "no database backup \(id); `slipway backups list SERVICE` shows them")
        }
        if let active = try store.activeRollouts().first(where: { $0.service == record.service }) {
            throw ControllerError(.conflict, "rollout \(active.id) of \(record.service) is running (\(active.state.phase.rawValue)); restore when it ended", rolloutID: active.id)
        }
        do {
            try reserveRestore(of: record.service)
            return try await restore(record, unit: record.service, rolloutID: nil, actor: actor, why: "requested by \(actor)")
        } catch let error as ControllerError {
            _ = try? store.appendAudit(AuditDraft(principal: actor, action: "database.restore_failed", target: "service/\(record.service)",
                                              details: ["backup": String(id), "reason": error.message]), time: clock.now())
            throw error
        }
    }

    /// Marks the unit's database as being restored (no rollout starts meanwhile); `restore`
    /// ends the mark.
    func reserveRestore(of unit: String) throws {
        guard databaseRestores.insert(unit).inserted else {
            throw ControllerError(.conflict, "the database of \(unit) is already being restored")
        }
    }

    /// Checks, takes a safety backup of the database as it is, restores, records. The unit
    /// was reserved with `reserveRestore`; the reservation ends here, however this ends.
    func restore(_ record: DatabaseBackupRecord, unit: String, rolloutID: Int64?, actor: String, why: String) async throws -> DatabaseRestoreResult {
        defer { databaseRestores.remove(unit) }
        guard let service = try store.service(unit) else { throw ControllerError(.notFound, "no service \(unit)") }
        guard let backup = service.spec.backup else {
            throw ControllerError(.conflict, "\(unit) has no `backup:` in its config any more; the database backup \(record.id) came from is unknown now")
        }
        guard backup.engine == record.engine, backup.displayTarget == record.target else {
            throw ControllerError(.conflict, "backup \(record.id) is of \(record.target) (\(record.engine.rawValue)) but \(unit)'s database is now \(backup.displayTarget) (\(backup.engine.rawValue)); restore it by hand if you mean it")
        }
        let context: (environment: [String: String], connection: DatabaseBackupRunner.PostgresConnection?)
        do { context = try backupContext(unit: service.spec, backup: backup) } catch {
            throw ControllerError(.invalid, "\(error)")
        }
        do {
            try await DatabaseBackupRunner.verify(record, connection: context.connection, timeout: backup.timeout,
                                                  environment: context.environment, search: searchDirectories, redaction: redaction)
        } catch {
            throw ControllerError(.conflict, "backup \(record.id) cannot be restored: \(error.description)")
        }
        let started = ContinuousClock.now
        try recordEvent(service: unit, rolloutID: rolloutID, kind: "restore_started",
                        message: "restoring backup \(record.id) (taken \(Timestamps.format(record.createdAt)) before deploying \(record.deployVersion ?? "?")) into \(record.target): \(why); first a backup of the database as it is", time: clock.now())
        let safety = try await takeDatabaseBackup(unit: service.spec, backup: backup, reason: .preRestore, rolloutID: rolloutID,
                                                  stableVersion: service.stableVersion, deployVersion: nil, protecting: record.id)
        do {
            try await DatabaseBackupRunner.restore(record, target: backup.target, connection: context.connection, timeout: backup.timeout,
                                                   environment: context.environment, search: searchDirectories, redaction: redaction)
        } catch {
            try? recordEvent(service: unit, rolloutID: rolloutID, kind: "restore_failed",
                             message: "restoring backup \(record.id) failed: \(error.description); the database is as it was (backup \(safety.id) holds it)", time: clock.now())
            throw ControllerError(.unavailable, "restoring backup \(record.id) failed: \(error.description); backup \(safety.id) holds the database as it was before")
        }
        let seconds = (ContinuousClock.now - started).seconds
        try store.markDatabaseBackupRestored(id: record.id, by: actor, at: clock.now())
        try store.appendAudit(AuditDraft(principal: actor, action: "database.restore", target: "service/\(unit)", details: [
            "backup": String(record.id), "database": record.target, "sha256": record.sha256, "safety_backup": String(safety.id),
            "rollout": rolloutID.map(String.init) ?? "", "why": why,
        ]), time: clock.now())
        try recordEvent(service: unit, rolloutID: rolloutID, kind: "restored",
                        message: "restored backup \(record.id) into \(record.target) in \(String(format: "%.2f", seconds)) s (\(why)); the database as it was before is backup \(safety.id)",
                        time: clock.now())
        logger.notice("database restored", metadata: ["slipway.service": "\(unit)", "slipway.backup": "\(record.id)", "slipway.actor": "\(actor)"])
        guard let restored = try store.databaseBackup(id: record.id) else { throw ControllerError(.notFound, "backup \(record.id) vanished") }
        return DatabaseRestoreResult(backup: restored, safetyBackup: safety, seconds: seconds)
    }

    // MARK: restore_on_rollback

    /// Called when rollout `id` ended: restores the database backup of the deploy it undid
    /// when the deploy asked for it (`restore_on_rollback`), or records in the audit log why
    /// that is not safe. Runs in the background; new rollouts of the unit wait for it.
    func restoreAfterRollout(id: Int64, service unit: String, state: BlueGreenState) {
        let decision: (backup: DatabaseBackupRecord, why: String)?
        do {
            decision = try restoreDecision(id: id, unit: unit, state: state)
        } catch {
            logger.error("restore_on_rollback not decided", metadata: ["slipway.service": "\(unit)", "slipway.rollout": "\(id)", "slipway.error": "\(error)"])
            return
        }
        guard let decision else { return }
        do {
            // Reserved now, not in the task: no rollout may slip in before it runs.
            try reserveRestore(of: unit)
        } catch {
            refuseRestore(unit: unit, rolloutID: id, backup: decision.backup.id, reason: (error as? ControllerError)?.message ?? "\(error)")
            return
        }
        Task {
            do {
                _ = try await self.restore(decision.backup, unit: unit, rolloutID: id, actor: "slipway", why: decision.why)
            } catch {
                self.refuseRestore(unit: unit, rolloutID: id, backup: decision.backup.id, reason: (error as? ControllerError)?.message ?? "\(error)")
            }
        }
    }

    /// Which backup to restore after rollout `id` ended, if any (nil: none; a refusal is
    /// recorded here).
    func restoreDecision(id: Int64, unit: String, state: BlueGreenState) throws -> (backup: DatabaseBackupRecord, why: String)? {
        switch (state.kind, state.phase) {
        case (.deploy, .failed), (.initial, .failed):
            guard let backup = state.hooks?.backup, backup.restoreOnRollback,
                  let record = try store.databaseBackup(rolloutID: id) else { return nil }
            let stable = try store.service(unit)?.stableVersion
            if state.switchedAt != nil, stable == state.targetVersion {
                try recordEvent(service: unit, rolloutID: id, kind: "restore_deferred",
                                message: "backup \(record.id) not restored: traffic is still on \(state.targetVersion), which ran pre_deploy against the database; `slipway rollback` moves traffic back and restores it", time: clock.now())
                return nil
            }
            return try checked(record, unit: unit, rolloutID: id, why: "deploy of \(state.targetVersion) failed: \(state.failureReason ?? "?")")
        case (.rollback, .succeeded):
            guard let leaving = state.fromVersion,
                  let release = try store.release(service: unit, version: leaving, creatingWith: nil, now: clock.now()),
                  let backup = release.spec.backup, backup.restoreOnRollback else { return nil }
            // The deploy that brought the release being left.
            guard let deploy = try store.rollouts(service: unit, limit: 500).first(where: { $0.id < id && $0.kind != .rollback && $0.toVersion == leaving }) else {
                return nil
            }
            guard let record = try store.databaseBackup(rolloutID: deploy.id) else {
                refuseRestore(unit: unit, rolloutID: id, backup: nil,
                              reason: "the deploy of \(leaving) (rollout \(deploy.id)) took no database backup (its backup failed or `backup:` was added later)")
                return nil
            }
            return try checked(record, unit: unit, rolloutID: id, why: "rolled back from \(leaving) to \(state.targetVersion)")
        default:
            return nil
        }
    }

    /// The safety rules every automatic restore passes; a refusal is audited.
    private func checked(_ record: DatabaseBackupRecord, unit: String, rolloutID: Int64, why: String) throws -> (backup: DatabaseBackupRecord, why: String)? {
        if let restoredAt = record.restoredAt {
            refuseRestore(unit: unit, rolloutID: rolloutID, backup: record.id,
                          reason: "backup \(record.id) was already restored \(Timestamps.format(restoredAt)) by \(record.restoredBy ?? "?"); restoring it again would discard what was written since")
            return nil
        }
        let newer = try store.databaseBackups(service: unit).filter { $0.id > record.id && $0.reason == .preDeploy }
        if let newest = newer.first {
            refuseRestore(unit: unit, rolloutID: rolloutID, backup: record.id,
                          reason: "a newer deploy backup exists (backup \(newest.id), before deploying \(newest.deployVersion ?? "?")): later deploys ran against the database since backup \(record.id); restoring it would discard their changes — `slipway backups restore \(record.id)` if you mean it")
            return nil
        }
        // The file itself (retention, size, SHA-256, archive) is checked by `restore`.
        return (record, why)
    }

    func refuseRestore(unit: String, rolloutID: Int64?, backup: Int64?, reason: String) {
        logger.warning("database restore refused", metadata: ["slipway.service": "\(unit)", "slipway.reason": "\(reason)"])
        var details = ["reason": reason, "rollout": rolloutID.map(String.init) ?? ""]
        details["backup"] = backup.map(String.init)
        _ = try? store.appendAudit(AuditDraft(principal: "slipway", action: "database.restore_refused", target: "service/\(unit)", details: details), time: clock.now())
        try? recordEvent(service: unit, rolloutID: rolloutID, kind: "restore_refused", message: "database not restored (restore_on_rollback): \(reason)", time: clock.now())
    }
}
