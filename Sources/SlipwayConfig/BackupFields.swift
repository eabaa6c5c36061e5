import SlipwayCore

/// `backup:` in slipway.yml: the database backed up before each deploy's pre_deploy hook.
extension ServiceFields {
    static var backup: ObjectType<DatabaseBackupSpec> {
        ObjectType(
            doc: "The service's database, backed up before every deploy's pre_deploy hook (migrations) and recorded with the rollout; with restore_on_rollback it is restored when the deploy is undone. Give exactly one of postgres and sqlite.",
            initial: DatabaseBackupSpec(engine: .postgres, target: ""),
            fields: [
                Field("postgres", postgresURL, \.postgresURL,
                      doc: "A PostgreSQL database as a postgres:// URL (pg_dump custom format, restored with pg_restore); write the password as `${NAME}` (a secret or env variable), resolved when the backup runs."),
                Field("sqlite", ValueType<String>.string.checked { $0.isEmpty ? "must not be empty" : nil }, \.sqlitePath,
                      doc: "An SQLite database file, relative to the config file's directory (SQLite's online backup API, while the service writes)."),
                Field("dir", ValueType<String>.string.checked { $0.isEmpty ? "must not be empty" : nil }, \.directory,
                      doc: "Where backup files go, relative to the config file's directory (default: the state directory's backups/UNIT/)."),
                Field("keep", .integer(in: 1...10_000), \.keep,
                      doc: "How many of the unit's backups are kept; older files are deleted after a new backup succeeded."),
                Field("timeout", .duration(positive: true), \.timeout,
                      doc: "How long one backup or restore may run; then it is killed and fails (a backup failing fails the deploy before pre_deploy)."),
                Field("restore_on_rollback", .boolean, \.restoreOnRollback,
                      doc: "Restore the deploy's backup when the deploy is undone: a failure after the backup, a watch switch-back, or the rollback that follows it. Refused, with the reason in the audit log, when unsafe (file missing or changed, a newer backup exists, traffic still on the new release)."),
            ],
            check: { spec, scope in
                let given = ["postgres", "sqlite"].filter(scope.isGiven)
                if given.isEmpty {
                    scope.diagnostics.error(at: scope.node, scope.path, "names no database: give `postgres: postgres://USER@HOST:PORT/DB` or `sqlite: FILE`")
                } else if given.count > 1 {
                    scope.error(at: "sqlite", "give one of `postgres` and `sqlite`, not both")
                }
            }
        )
    }

    static var postgresURL: ValueType<String> {
        ValueType<String>.string.checked { url in
            if let problem = referenceProblem(url) { return problem }
            let lower = url.lowercased()
            guard lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") else {
                return "\(quoted(url)) is not a PostgreSQL URL: write postgres://USER@HOST:PORT/DATABASE (password as `${NAME}`)"
            }
            let rest = url.drop(while: { $0 != ":" }).dropFirst(3)
            let path = rest.drop(while: { $0 != "/" && $0 != "?" })
            if !path.hasPrefix("/") || path.count < 2 || path.hasPrefix("/?") {
                return "\(quoted(url)) names no database: write postgres://USER@HOST:PORT/DATABASE"
            }
            if let password = DatabaseBackupSpec.splittingPassword(url).password, !password.hasPrefix("${") {
                return "the password is written in the URL; write it as `${NAME}` and set NAME as a secret (`slipway secrets set`) so it stays out of the config"
            }
            return nil
        }
    }
}

extension DatabaseBackupSpec {
    /// For the field table: `postgres:` sets the engine and the URL.
    var postgresURL: String? {
        get { engine == .postgres && !target.isEmpty ? target : nil }
        set {
            guard let newValue else { return }
            engine = .postgres
            target = newValue
        }
    }

    /// For the field table: `sqlite:` sets the engine and the file.
    var sqlitePath: String? {
        get { engine == .sqlite ? target : nil }
        set {
            guard let newValue else { return }
            engine = .sqlite
            target = newValue
        }
    }
}
