import Foundation
import SlipwayCore

/// The files under a state directory. One place names them all.
public struct StateDirectory: Sendable {
    public let path: String

    public init(_ path: String) throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        self.path = (absolute as NSString).standardizingPath
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: logsDirectory, withIntermediateDirectories: true)
    }

    public var database: String { path + "/slipway.sqlite" }
    /// The data plane's admin socket (control plane → router).
    public var routerSocket: String { path + "/router.sock" }
    public var routerPIDFile: String { path + "/router.pid" }
    /// Where the running router hands its listening sockets to its successor.
    public var routerHandOverSocket: String { path + "/router-handover.sock" }
    /// The last route table the router applied, reloaded when the router restarts.
    public var routerTable: String { path + "/router-table.json" }
    public var routerLog: String { logsDirectory + "/router.log" }
    public var serverPIDFile: String { path + "/server.pid" }
    public var logsDirectory: String { path + "/logs" }
    /// The content-addressed copies of what local releases run (`ArtifactStore`).
    public var artifactsDirectory: String { path + "/artifacts" }
    /// The running hook of rollout `id`: "PID START-TIME", so a restarted control plane can
    /// kill what a dead one left running.
    public func hookPIDFile(rolloutID id: Int64) -> String { path + "/hooks/\(id).pid" }
    /// Scheduled backups of the database (`slipway server --backup-every`).
    public var backupsDirectory: String { path + "/backups" }
    /// Database backups of unit `unit` (`backup:` without `dir:`).
    public func databaseBackupsDirectory(unit: String) -> String { path + "/database-backups/" + unit }
    /// The first admin token, written once when the state directory is created (mode 0600).
    public var adminTokenFile: String { path + "/admin.token" }

    /// A warning when other users may enter the directory (it holds token hashes, the
    /// audit log and the master key).
    public func exposure() -> String? {
        guard let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue,
              mode & 0o077 != 0 else { return nil }
        return "the state directory \(path) is open to other users (mode \(String(mode, radix: 8))); it holds API token hashes, the audit log and secrets: run `chmod 700 \(path)`"
    }

    /// Creates the database file (or tightens an existing one) with mode 0600; SQLite
    /// gives its -wal and -shm files the database file's mode. Throws, naming the file,
    /// when it cannot be created: SQLite would otherwise create it with the umask's mode.
    public func makeDatabasePrivate() throws(PrivateFile.Failure) {
        let fm = FileManager.default
        if !fm.fileExists(atPath: database) {
            try PrivateFile.createEmpty(atPath: database)
        }
        for file in [database, database + "-wal", database + "-shm"] where fm.fileExists(atPath: file) {
            chmod(file, 0o600)
        }
    }
    /// The master key (base64, mode 0600) unless `SLIPWAY_MASTER_KEY` is set.
    public var masterKey: String { path + "/master.key" }
    /// A rotation's new key, written before its commit and renamed over `masterKey` after.
    public var masterKeyPending: String { path + "/master.key.new" }

    public func instanceLog(service: String, instanceID: String) -> String {
        "\(logsDirectory)/\(service)/\(instanceID).log"
    }
}
