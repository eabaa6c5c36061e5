import Foundation
import GRDB
import SlipwayCore
import SlipwayEvidence

/// What a backup file holds, read from it without changing it.
public struct BackupSummary: Codable, Sendable, Equatable {
    public var path: String
    public var bytes: Int64
    public var sha256: String
    public var services: Int
    public var rollouts: Int
    public var events: Int
    public var auditEntries: Int
    /// The id of the master key its secrets are sealed with (nil: no secrets were ever set).
    public var masterKeyID: String?
    /// The newest schema migration it has.
    public var schema: String
}

extension Store {
    /// A consistent copy of the live database at `path`, made with SQLite's online backup
    /// API while writers go on (they wait for the copy's last step only). The copy goes to
    /// a temporary file beside `path` and is renamed over it when complete: a crash never
    /// leaves a half-written backup under the final name. Mode 0600.
    public func backup(to path: String) throws(StoreError) -> BackupSummary {
        let temporary = path + ".partial-\(getpid())"
        do {
            try? FileManager.default.removeItem(atPath: temporary)
            do {
                try PrivateFile.createEmpty(atPath: temporary)
            } catch {
                throw StoreError(.cannotOpen, error.description)
            }
            do {
                let destination = try DatabaseQueue(path: temporary)
                try db.backup(to: destination)
                // One self-contained file: no -wal beside it.
                try destination.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
                try destination.close()
            }
            guard rename(temporary, path) == 0 else {
                throw StoreError(.database, "cannot move the backup to \(path): \(String(cString: strerror(errno)))")
            }
        } catch let error as StoreError {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw StoreError(.database, "backup to \(path) failed: \(error)")
        }
        return try Self.inspectBackup(path)
    }

    /// Checks that `path` is a whole, uncorrupted Slipway state database this version can
    /// open, and says what it holds. Never writes to it. Errors name what is wrong:
    /// not SQLite, corrupt, another program's database, a newer Slipway's.
    public static func inspectBackup(_ path: String) throws(StoreError) -> BackupSummary {
        guard let header = SQLiteFileBackup.header(of: path) else {
            throw StoreError(.notFound, "\(path): no such readable file")
        }
        guard header.isSQLite else {
            throw StoreError(.corrupt, "\(path) is not a Slipway backup: not an SQLite database" + (header.isEmpty ? " (empty file)" : ""))
        }
        do {
            var config = Configuration()
            config.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db -> BackupSummary in
                let problems = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard problems == ["ok"] else {
                    throw StoreError(.corrupt, "\(path) is damaged (SQLite integrity check: \(problems.prefix(3).joined(separator: "; ")))")
                }
                guard try db.tableExists("grdb_migrations"), try db.tableExists("service"), try db.tableExists("audit") else {
                    throw StoreError(.corrupt, "\(path) is not a Slipway backup: an SQLite database without Slipway's tables")
                }
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
                let known = Set(migrator.migrations)
                if let unknown = applied.first(where: { !known.contains($0) }) {
                    throw StoreError(.conflict, "\(path) was made by a newer Slipway (schema step \(unknown) is unknown to this version); restore it with that version or newer")
                }
                let (sha256, bytes) = try EvidenceItem.digest(path)
                return BackupSummary(
                    path: path, bytes: bytes, sha256: sha256,
                    services: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM service") ?? 0,
                    rollouts: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rollout") ?? 0,
                    events: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0,
                    auditEntries: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit") ?? 0,
                    masterKeyID: try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'secrets.key_id'"),
                    schema: applied.last ?? "none")
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.corrupt, "\(path) cannot be read as a Slipway backup: \(error)")
        }
    }
}

extension Store {
    /// Closes the database for good after folding the write-ahead log into the main file,
    /// so the file alone holds everything and may be moved (a restore's copy).
    public func closeForMove(path: String) throws {
        try db.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        try db.close()
        for suffix in ["-wal", "-shm"] {
            let file = path + suffix
            guard FileManager.default.fileExists(atPath: file) else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? -1
            guard suffix == "-shm" || size == 0 else {
                throw StoreError(.database, "\(file) still holds \(size) bytes after the checkpoint; the copy is incomplete")
            }
            try FileManager.default.removeItem(atPath: file)
        }
    }

    /// Copies the database at `source` (opened read-only) into `destination` with SQLite's
    /// backup API.
    public static func copyDatabase(from source: String, to destination: String) throws {
        var config = Configuration()
        config.readonly = true
        let from = try DatabaseQueue(path: source, configuration: config)
        let to = try DatabaseQueue(path: destination)
        try from.backup(to: to)
        try from.close()
        try to.close()
    }
}
