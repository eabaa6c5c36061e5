import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore
#if canImport(Glibc)
import Glibc
#endif

/// Backups of Slipway's own state: restore into a state directory, and the scheduled
/// backups `slipway server --backup-every` takes.
public enum StateBackup {
    public struct RestoreResult: Sendable {
        public var summary: BackupSummary
        /// Where the database that was in the state directory went (nothing is deleted).
        public var keptPrevious: String?
        public var auditEntries: Int
        public var auditSignatureChecked: Bool
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Restores `backup` into the state directory `directory`: checks the file (SQLite,
    /// integrity, Slipway's schema, not a newer version's), refuses a directory a running
    /// server or data plane uses, checks the master key opens its secrets and the audit
    /// chain is intact on a copy, then moves the current database aside and puts the copy
    /// in its place. Any failure before the last step leaves the directory as it was.
    /// - Parameter dryRun: every check, nothing changed.
    public static func restore(backup: String, into directory: String, masterKeyFile: String?, dryRun: Bool,
                               environment: [String: String] = ProcessInfo.processInfo.environment, now: Date = Date()) throws -> RestoreResult {
        let summary: BackupSummary
        do { summary = try Store.inspectBackup(backup) } catch { throw Failure(description: "\(error)") }
        let state = try StateDirectory(directory)
        // Holding the server's lock for the whole restore: no server starts meanwhile.
        let lock = try ServerRuntime.lockStateDirectory(state)
        defer { close(lock) }
        if let pid = livePID(file: state.routerPIDFile, mentioning: "router") {
            throw Failure(description: "the data plane of \(state.path) is running (pid \(pid)); stop it first (`slipway down`, or kill \(pid))")
        }

        // The key its secrets are sealed with must be at hand, or the restored store is locked.
        var key: MasterKey?
        do {
            if let text = environment[MasterKey.environmentVariable] {
                key = try MasterKey.parse(text, source: .environment)
            } else if let masterKeyFile {
                key = try MasterKeyFile.read(masterKeyFile)
            } else if FileManager.default.fileExists(atPath: state.masterKey) {
                key = try MasterKeyFile.read(state.masterKey)
            }
        } catch {
            throw Failure(description: "the master key cannot be read: \(error)")
        }
        if let id = summary.masterKeyID, key == nil {
            throw Failure(description: "the backup's secrets are sealed with master key \(id): pass its key file with --master-key-file FILE, put it at \(state.masterKey), or set \(MasterKey.environmentVariable)")
        }

        let restoring = state.database + ".restoring"
        removeDatabaseFiles(restoring)
        var verification: AuditVerification
        do {
            try copyDatabase(from: backup, to: restoring)
            let store = try Store(path: restoring)  // brings an older schema up to date
            if let key, summary.masterKeyID != nil {
                do { try store.verifyMasterKey(key) } catch {
                    throw Failure(description: "the master key at hand does not open the backup's secrets: \(error)")
                }
            }
            if let key { store.signAuditHead(with: key) }
            verification = try store.verifyAudit()
            try store.closeForMove(path: restoring)
            if let problem = verification.problem {
                throw Failure(description: "the backup's audit log is broken at entry \(verification.firstBadSeq.map(String.init) ?? "?"): \(problem); refusing to restore it")
            }
        } catch {
            removeDatabaseFiles(restoring)
            if let failure = error as? Failure { throw failure }
            throw Failure(description: "\(backup) could not be restored: \(error)")
        }
        if dryRun {
            removeDatabaseFiles(restoring)
            return RestoreResult(summary: summary, keptPrevious: nil, auditEntries: verification.entries, auditSignatureChecked: verification.signatureChecked)
        }

        var kept: String?
        if FileManager.default.fileExists(atPath: state.database) {
            let stamp = ISO8601DateFormatter().string(from: now).replacingOccurrences(of: ":", with: "")
            let aside = state.database + ".replaced-" + stamp
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: state.database + suffix) {
                guard rename(state.database + suffix, aside + suffix) == 0 else {
                    throw Failure(description: "cannot move \(state.database + suffix) aside: \(String(cString: strerror(errno))); nothing was restored")
                }
            }
            kept = aside
        }
        guard rename(restoring, state.database) == 0 else {
            throw Failure(description: "cannot move the restored database into place: \(String(cString: strerror(errno)))" + (kept.map { "; the previous one is at \($0)" } ?? ""))
        }
        if let masterKeyFile, !FileManager.default.fileExists(atPath: state.masterKey), environment[MasterKey.environmentVariable] == nil {
            try? FileManager.default.copyItem(atPath: masterKeyFile, toPath: state.masterKey)
            chmod(state.masterKey, 0o600)
        }
        try state.makeDatabasePrivate()
        return RestoreResult(summary: summary, keptPrevious: kept, auditEntries: verification.entries, auditSignatureChecked: verification.signatureChecked)
    }

    /// A consistent copy through SQLite's backup API (the source is opened read-only).
    static func copyDatabase(from source: String, to destination: String) throws {
        try PrivateFile.createEmpty(atPath: destination)
        try Store.copyDatabase(from: source, to: destination)
    }

    static func removeDatabaseFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// The pid in `file` when that process is alive and its command line mentions `word`.
    static func livePID(file: String, mentioning word: String) -> Int32? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let pid = text.split(separator: "\n").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespaces)) }), pid > 0,
              kill(pid, 0) == 0 || errno == EPERM else { return nil }
        let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.replacingOccurrences(of: "\0", with: " ") ?? ""
        return command.contains(word) ? pid : nil
    }

    /// Names of scheduled backups sort by time: `slipway-20261123T050000Z.sqlite`.
    static func scheduledName(_ date: Date) -> String {
        "slipway-" + Timestamps.compact(date.timeIntervalSince1970) + ".sqlite"
    }

    /// Deletes the oldest scheduled backups in `directory` beyond `keep` (only files named
    /// like ours); returns what it deleted.
    static func prune(_ directory: String, keep: Int) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("slipway-") && $0.hasSuffix(".sqlite") && !$0.contains(".partial") }
            .sorted()
        guard names.count > keep else { return [] }
        let old = names.prefix(names.count - keep)
        for name in old { try? FileManager.default.removeItem(atPath: directory + "/" + name) }
        return Array(old)
    }
}

/// `slipway server --backup-every D`: a backup at start, then every D, into the backup
/// directory, keeping the newest `keep`.
struct ScheduledBackupService: Service {
    let store: Store
    let directory: String
    let every: Duration
    let keep: Int
    let metrics: ControlPlaneMetrics
    let ledger: StateBackupLedger
    let logger: Logger

    func run() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let now = Date()
                let path = directory + "/" + StateBackup.scheduledName(now)
                do {
                    let summary = try store.backup(to: path)
                    metrics.backupLastSuccess.set(now.timeIntervalSince1970)
                    ledger.succeeded(at: now.timeIntervalSince1970, file: path)
                    let pruned = StateBackup.prune(directory, keep: keep)
                    logger.info("state backed up", metadata: ["slipway.path": "\(path)", "slipway.bytes": "\(summary.bytes)", "slipway.pruned": "\(pruned.count)"])
                } catch {
                    metrics.backupFailures.increment()
                    ledger.failed(at: now.timeIntervalSince1970, error: "\(error)")
                    logger.error("state backup failed", metadata: ["slipway.path": "\(path)", "slipway.error": "\(error)"])
                }
                try? await Task.sleep(for: every)
            }
        }
    }
}
