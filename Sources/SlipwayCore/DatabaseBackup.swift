/// `backup:` in slipway.yml: the service's database is backed up before every deploy's
/// `pre_deploy` hook (the place for migrations) and, with `restore_on_rollback`, restored
/// when that deploy is undone.
///
/// The order, for a deploy: new instances healthy ─▶ backup ─▶ pre_deploy ─▶ smoke ─▶ switch.
/// A backup that fails (the database cannot be reached, the directory cannot be written)
/// fails the rollout before `pre_deploy` runs, with the stable release still serving.
public struct DatabaseBackupSpec: Codable, Sendable, Equatable {
    /// What is backed up.
    public enum Engine: String, Codable, Sendable, CaseIterable {
        /// `pg_dump --format=custom`, restored with `pg_restore --clean --single-transaction`.
        case postgres
        /// SQLite's online backup API, restored with the same API into the live file.
        case sqlite
    }

    public var engine: Engine
    /// PostgreSQL: a `postgres://` (or `postgresql://`) URL; `${NAME}` references are
    /// resolved from the service's secrets, then its `env`, then the server's environment
    /// when the backup runs. SQLite: the database file (absolute after loading).
    public var target: String
    /// Where backup files go (nil: `STATE/backups/UNIT/`). Absolute after loading.
    public var directory: String?
    /// How many of this unit's backups are kept; older files are deleted after a new
    /// backup succeeded.
    public var keep: Int
    /// How long one backup or restore may run before it is killed and fails.
    public var timeout: Duration
    /// Restore the deploy's backup when the deploy is undone (a failure after the backup,
    /// a watch switch-back, or a rollback to the previous release), unless that is unsafe.
    public var restoreOnRollback: Bool

    public init(engine: Engine, target: String, directory: String? = nil, keep: Int = Defaults.backupKeep,
                timeout: Duration = Defaults.backupTimeout, restoreOnRollback: Bool = false) {
        self.engine = engine
        self.target = target
        self.directory = directory
        self.keep = keep
        self.timeout = timeout
        self.restoreOnRollback = restoreOnRollback
    }

    enum CodingKeys: String, CodingKey { case engine, target, directory, keep, timeout, restoreOnRollback }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        engine = try c.decode(Engine.self, forKey: .engine)
        target = try c.decode(String.self, forKey: .target)
        directory = try c.decodeIfPresent(String.self, forKey: .directory)
        keep = try c.decodeIfPresent(Int.self, forKey: .keep) ?? Defaults.backupKeep
        timeout = try c.decodeIfPresent(TextDuration.self, forKey: .timeout)?.value ?? Defaults.backupTimeout
        restoreOnRollback = try c.decodeIfPresent(Bool.self, forKey: .restoreOnRollback) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(engine, forKey: .engine)
        try c.encode(target, forKey: .target)
        try c.encodeIfPresent(directory, forKey: .directory)
        try c.encode(keep, forKey: .keep)
        try c.encode(TextDuration(timeout), forKey: .timeout)
        try c.encode(restoreOnRollback, forKey: .restoreOnRollback)
    }

    /// The target as it may be shown: a PostgreSQL URL without its password.
    public var displayTarget: String { Self.splittingPassword(target).url }

    /// `postgres://user:secret@host/db` → (`postgres://user@host/db`, `secret`); a URL
    /// without a password (or anything else) as is, with nil.
    public static func splittingPassword(_ url: String) -> (url: String, password: String?) {
        guard let scheme = url.range(of: "://") else { return (url, nil) }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") else { return (url, nil) }
        return (String(url[..<colon]) + String(url[at...]), String(rest[rest.index(after: colon)..<at]))
    }
}

/// Why a database backup was taken.
public enum DatabaseBackupReason: String, Codable, Sendable, CaseIterable {
    /// Before a deploy's `pre_deploy` hook.
    case preDeploy = "pre_deploy"
    /// Of the database as it was just before a restore overwrote it (a restore is undoable).
    case preRestore = "pre_restore"
}

/// One database backup as recorded in the state database (`slipway backups list`).
public struct DatabaseBackupRecord: Codable, Sendable, Equatable {
    public var id: Int64
    /// The deployment unit (`SERVICE` or `SERVICE@ENV`).
    public var service: String
    public var environment: String?
    /// The rollout that took it (nil for none).
    public var rolloutID: Int64?
    /// The release that was stable when it was taken (what the data belonged to).
    public var stableVersion: String?
    /// The release being deployed when it was taken.
    public var deployVersion: String?
    public var reason: DatabaseBackupReason
    public var engine: DatabaseBackupSpec.Engine
    /// The database, password removed.
    public var target: String
    /// The backup file.
    public var location: String
    public var bytes: Int64
    public var sha256: String
    public var createdAt: Double
    /// How many of the unit's backups the retention keeps (`keep:` when it was taken).
    public var keep: Int
    /// `ok`, or `deleted` once retention removed its file.
    public var status: String
    /// The last time it was restored, and by whom.
    public var restoredAt: Double?
    public var restoredBy: String?

    public init(id: Int64, service: String, environment: String?, rolloutID: Int64?, stableVersion: String?, deployVersion: String?,
                reason: DatabaseBackupReason, engine: DatabaseBackupSpec.Engine, target: String, location: String,
                bytes: Int64, sha256: String, createdAt: Double, keep: Int, status: String,
                restoredAt: Double? = nil, restoredBy: String? = nil) {
        self.id = id
        self.service = service
        self.environment = environment
        self.rolloutID = rolloutID
        self.stableVersion = stableVersion
        self.deployVersion = deployVersion
        self.reason = reason
        self.engine = engine
        self.target = target
        self.location = location
        self.bytes = bytes
        self.sha256 = sha256
        self.createdAt = createdAt
        self.keep = keep
        self.status = status
        self.restoredAt = restoredAt
        self.restoredBy = restoredBy
    }
}

/// What a restore did (`slipway backups restore`, or a rollback's automatic restore).
public struct DatabaseRestoreResult: Codable, Sendable, Equatable {
    public var backup: DatabaseBackupRecord
    /// The backup of the database as it was just before the restore.
    public var safetyBackup: DatabaseBackupRecord?
    public var seconds: Double

    public init(backup: DatabaseBackupRecord, safetyBackup: DatabaseBackupRecord?, seconds: Double) {
        self.backup = backup
        self.safetyBackup = safetyBackup
        self.seconds = seconds
    }
}
