import Foundation
import GRDB
import SlipwayCore

/// Database backups of services (`backup:`): one row per backup file, newest last.
extension Store {
    /// Records a backup that was written, verified and moved into place.
    public func insertDatabaseBackup(_ record: DatabaseBackupRecord) throws(StoreError) -> DatabaseBackupRecord {
        try write { db in
            try db.execute(sql: """
                INSERT INTO database_backup (service, environment, rollout_id, stable_version, deploy_version, reason, engine, target,
                                             location, bytes, sha256, created_at, keep, status)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.service, record.environment, record.rolloutID, record.stableVersion, record.deployVersion,
                                 record.reason.rawValue, record.engine.rawValue, record.target, record.location, record.bytes,
                                 record.sha256, record.createdAt, record.keep, record.status])
            var stored = record
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    /// The unit's backups, newest first (`limit` nil: all).
    public func databaseBackups(service: String, limit: Int? = nil) throws(StoreError) -> [DatabaseBackupRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM database_backup WHERE service = ? ORDER BY id DESC LIMIT ?",
                             arguments: [service, limit ?? -1]).map(Self.databaseBackupRecord)
        }
    }

    public func databaseBackup(id: Int64) throws(StoreError) -> DatabaseBackupRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM database_backup WHERE id = ?", arguments: [id]).map(Self.databaseBackupRecord)
        }
    }

    /// The backup a rollout took before its pre_deploy hook (nil: it took none).
    public func databaseBackup(rolloutID: Int64) throws(StoreError) -> DatabaseBackupRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM database_backup WHERE rollout_id = ? AND reason = 'pre_deploy' ORDER BY id DESC LIMIT 1",
                             arguments: [rolloutID]).map(Self.databaseBackupRecord)
        }
    }

    /// Marks backups whose files retention deleted.
    public func markDatabaseBackupsDeleted(ids: [Int64]) throws(StoreError) {
        guard !ids.isEmpty else { return }
        try write { db in
            for id in ids {
                try db.execute(sql: "UPDATE database_backup SET status = 'deleted' WHERE id = ?", arguments: [id])
            }
        }
    }

    public func markDatabaseBackupRestored(id: Int64, by actor: String, at time: Double) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE database_backup SET restored_at = ?, restored_by = ? WHERE id = ?", arguments: [time, actor, id])
        }
    }

    static func databaseBackupRecord(_ row: Row) -> DatabaseBackupRecord {
        DatabaseBackupRecord(
            id: row["id"], service: row["service"], environment: row["environment"], rolloutID: row["rollout_id"],
            stableVersion: row["stable_version"], deployVersion: row["deploy_version"],
            reason: DatabaseBackupReason(rawValue: row["reason"] ?? "") ?? .preDeploy,
            engine: DatabaseBackupSpec.Engine(rawValue: row["engine"] ?? "") ?? .postgres,
            target: row["target"], location: row["location"], bytes: row["bytes"], sha256: row["sha256"],
            createdAt: row["created_at"], keep: row["keep"], status: row["status"],
            restoredAt: row["restored_at"], restoredBy: row["restored_by"])
    }
}
