import Foundation
import GRDB
import SlipwayCore

/// Backups of a service's SQLite database (`backup: { sqlite: FILE }`) with SQLite's online
/// backup API: the service keeps writing while the copy is made, and a restore writes the
/// copy into the live file under SQLite's own locking (the service's writers wait).
public enum SQLiteFileBackup {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Copies the live database `database` into a new file `destination` (one file, no -wal).
    public static func backup(database: String, to destination: String, busyTimeout: Duration) throws(Failure) {
        guard FileManager.default.fileExists(atPath: database) else {
            throw Failure(description: "the SQLite database \(database) does not exist")
        }
        do {
            try checkHeader(database)
            let source = try DatabaseQueue(path: database, configuration: configuration(busyTimeout: busyTimeout, readonly: true))
            defer { try? source.close() }
            do {
                try PrivateFile.createEmpty(atPath: destination)
            } catch {
                throw Failure(description: error.description)
            }
            let copy = try DatabaseQueue(path: destination)
            try source.backup(to: copy)
            try copy.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try copy.close()
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "SQLite backup of \(database) failed: \(error)")
        }
    }

    /// Checks that `path` is a whole SQLite database (header and integrity check).
    public static func check(_ path: String) throws(Failure) {
        do {
            try checkHeader(path)
            let queue = try DatabaseQueue(path: path, configuration: configuration(busyTimeout: .seconds(5), readonly: true))
            defer { try? queue.close() }
            let problems = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            guard problems == ["ok"] else {
                throw Failure(description: "\(path) is damaged (SQLite integrity check: \(problems.prefix(3).joined(separator: "; ")))")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "\(path) cannot be read as an SQLite database: \(error)")
        }
    }

    /// Writes the backup `backup` into the live database `database`, replacing its content.
    public static func restore(from backup: String, into database: String, busyTimeout: Duration) throws(Failure) {
        try check(backup)
        do {
            let source = try DatabaseQueue(path: backup, configuration: configuration(busyTimeout: busyTimeout, readonly: true))
            defer { try? source.close() }
            let live = try DatabaseQueue(path: database, configuration: configuration(busyTimeout: busyTimeout, readonly: false))
            defer { try? live.close() }
            try source.backup(to: live)
        } catch {
            throw Failure(description: "restoring \(backup) into \(database) failed: \(error)")
        }
    }

    private static func checkHeader(_ path: String) throws(Failure) {
        guard let header = header(of: path) else {
            throw Failure(description: "\(path): no such readable file")
        }
        guard header.isSQLite else {
            throw Failure(description: "\(path) is not an SQLite database" + (header.isEmpty ? " (empty file)" : ""))
        }
    }

    /// Whether the file starts with SQLite's magic string, and whether it is empty; nil when
    /// it cannot be read.
    static func header(of path: String) -> (isSQLite: Bool, isEmpty: Bool)? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        let bytes = (try? handle.read(upToCount: 16)) ?? Data()
        try? handle.close()
        return (bytes == Data("SQLite format 3\0".utf8), bytes.isEmpty)
    }

    private static func configuration(busyTimeout: Duration, readonly: Bool) -> Configuration {
        var config = Configuration()
        config.readonly = readonly
        config.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds))
        return config
    }
}
