import GRDB

extension Store {
    /// The state database's schema this build writes: its last migration.
    public static var schemaVersion: String { migrator.migrations.last ?? "none" }

    /// Named migrations; a new one is appended, never edited once released.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("001-core") { db in
            try db.execute(sql: """
                CREATE TABLE service (
                    name TEXT PRIMARY KEY,
                    config_version INTEGER NOT NULL,
                    stable_version TEXT,
                    previous_version TEXT,
                    previous_retire_at REAL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE TABLE service_config (
                    service TEXT NOT NULL REFERENCES service(name) ON DELETE CASCADE,
                    version INTEGER NOT NULL,
                    spec_json TEXT NOT NULL,
                    source TEXT NOT NULL,
                    applied_at REAL NOT NULL,
                    PRIMARY KEY (service, version)
                );
                CREATE TABLE release (
                    service TEXT NOT NULL REFERENCES service(name) ON DELETE CASCADE,
                    version TEXT NOT NULL,
                    config_version INTEGER NOT NULL,
                    spec_json TEXT NOT NULL,
                    extra_env_json TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (service, version)
                );
                CREATE TABLE rollout (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    service TEXT NOT NULL REFERENCES service(name) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    from_version TEXT,
                    to_version TEXT NOT NULL,
                    phase TEXT NOT NULL,
                    state_json TEXT NOT NULL,
                    reason TEXT,
                    details TEXT,
                    started_at REAL NOT NULL,
                    ended_at REAL
                );
                CREATE INDEX rollout_by_service ON rollout(service, id);
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    rollout_id INTEGER REFERENCES rollout(id) ON DELETE CASCADE,
                    service TEXT NOT NULL,
                    time REAL NOT NULL,
                    kind TEXT NOT NULL,
                    message TEXT NOT NULL
                );
                CREATE INDEX event_by_rollout ON event(rollout_id, id);
                CREATE INDEX event_by_service ON event(service, id);
                CREATE TABLE instance (
                    id TEXT PRIMARY KEY,
                    service TEXT NOT NULL,
                    version TEXT NOT NULL,
                    port INTEGER NOT NULL,
                    pid INTEGER NOT NULL,
                    pid_start_time INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    restarts INTEGER NOT NULL DEFAULT 0,
                    started_at REAL NOT NULL,
                    stopped_at REAL,
                    last_exit TEXT,
                    restart_at REAL,
                    log_path TEXT NOT NULL
                );
                CREATE INDEX instance_by_service ON instance(service, version, state);
                CREATE TABLE meta (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                );
                """)
        }
        m.registerMigration("002-decisions") { db in
            try db.execute(sql: """
                CREATE TABLE decision (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    rollout_id INTEGER NOT NULL REFERENCES rollout(id),
                    service TEXT NOT NULL,
                    time REAL NOT NULL,
                    kind TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    draft_json TEXT NOT NULL
                );
                CREATE INDEX decision_by_rollout ON decision(rollout_id, id);
                """)
        }
        m.registerMigration("003-tokens") { db in
            try db.execute(sql: """
                CREATE TABLE token (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    environments_json TEXT NOT NULL,
                    hash BLOB NOT NULL UNIQUE,
                    created_at REAL NOT NULL,
                    created_by TEXT NOT NULL,
                    expires_at REAL,
                    revoked_at REAL,
                    revoked_by TEXT,
                    last_used_at REAL
                );
                CREATE INDEX token_by_name ON token(name);
                """)
        }
        m.registerMigration("004-audit") { db in
            try db.execute(sql: """
                CREATE TABLE audit (
                    seq INTEGER PRIMARY KEY,
                    time_us INTEGER NOT NULL,
                    principal TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    details TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                """)
        }
        m.registerMigration("005-secrets") { db in
            try db.execute(sql: """
                CREATE TABLE secret (
                    service TEXT NOT NULL,
                    env TEXT NOT NULL DEFAULT '',
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    sealed BLOB NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    created_by TEXT,
                    updated_by TEXT,
                    PRIMARY KEY (service, env, name)
                );
                """)
        }
        m.registerMigration("006-environments") { db in
            try db.execute(sql: """
                CREATE TABLE release_manifest (
                    service TEXT NOT NULL,
                    version TEXT NOT NULL,
                    commit_sha TEXT,
                    commit_time REAL,
                    created_at REAL NOT NULL,
                    created_by TEXT NOT NULL,
                    PRIMARY KEY (service, version)
                );
                CREATE TABLE release_evidence (
                    service TEXT NOT NULL,
                    version TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    format TEXT NOT NULL,
                    file TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    bytes INTEGER NOT NULL,
                    item_json TEXT NOT NULL,
                    PRIMARY KEY (service, version, seq),
                    FOREIGN KEY (service, version) REFERENCES release_manifest(service, version)
                );
                ALTER TABLE rollout ADD COLUMN requested_by TEXT;
                ALTER TABLE rollout ADD COLUMN gates_json TEXT;
                """)
        }
        m.registerMigration("007-notifications") { db in
            try db.execute(sql: """
                CREATE TABLE notification (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    service TEXT NOT NULL,
                    event_id INTEGER,
                    event TEXT NOT NULL,
                    payload_json TEXT NOT NULL,
                    sink_json TEXT NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL,
                    last_error TEXT,
                    created_at REAL NOT NULL,
                    delivered_at REAL
                );
                CREATE INDEX notification_due ON notification(status, next_attempt_at);
                CREATE INDEX notification_by_service ON notification(service, id);
                CREATE TABLE alert_state (
                    service TEXT NOT NULL,
                    name TEXT NOT NULL,
                    state_json TEXT NOT NULL,
                    PRIMARY KEY (service, name)
                );
                """)
        }
        m.registerMigration("008-database-backups") { db in
            try db.execute(sql: """
                CREATE TABLE database_backup (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    service TEXT NOT NULL,
                    environment TEXT,
                    rollout_id INTEGER,
                    stable_version TEXT,
                    deploy_version TEXT,
                    reason TEXT NOT NULL,
                    engine TEXT NOT NULL,
                    target TEXT NOT NULL,
                    location TEXT NOT NULL,
                    bytes INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    keep INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    restored_at REAL,
                    restored_by TEXT
                );
                CREATE INDEX database_backup_by_service ON database_backup(service, id);
                CREATE INDEX database_backup_by_rollout ON database_backup(rollout_id);
                """)
        }
        m.registerMigration("009-targets-and-artifacts") { db in
            try db.execute(sql: """
                ALTER TABLE instance ADD COLUMN target TEXT NOT NULL DEFAULT 'local';
                ALTER TABLE instance ADD COLUMN container_id TEXT;
                ALTER TABLE instance ADD COLUMN host TEXT NOT NULL DEFAULT '127.0.0.1';
                ALTER TABLE release ADD COLUMN artifacts_json TEXT NOT NULL DEFAULT '[]';
                """)
        }
        m.registerMigration("010-fleet-servers") { db in
            // The fleet server an instance runs on (`servers:`); NULL: this machine.
            try db.execute(sql: "ALTER TABLE instance ADD COLUMN server TEXT;")
        }
        m.registerMigration("011-verifications") { db in
            // Post-deploy checks (`verify:`): one row per succeeded rollout and offset.
            try db.execute(sql: """
                CREATE TABLE verification (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    service TEXT NOT NULL,
                    rollout_id INTEGER NOT NULL,
                    version TEXT NOT NULL,
                    previous_version TEXT,
                    after_seconds REAL NOT NULL,
                    due_at REAL NOT NULL,
                    status TEXT NOT NULL,
                    on_failure TEXT NOT NULL,
                    summary TEXT,
                    action TEXT,
                    started_at REAL,
                    finished_at REAL,
                    UNIQUE (rollout_id, after_seconds)
                );
                CREATE INDEX verification_by_due ON verification(status, due_at);
                CREATE INDEX verification_by_service ON verification(service, id);
                """)
        }
        return m
    }
}
