import Foundation
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

/// `backup:` with the real binary: a real PostgreSQL 15 (Debian's, started on loopback by
/// `PostgresServer`) and an SQLite file, migrations run by real `pre_deploy` hooks (psql,
/// sqlite3), and the data compared row by row after the restores.
@Suite(.serialized) struct DatabaseBackupTests {
    static let psql = PostgresServer.binDirectory + "/psql"

    func script(_ h: SlipwayHarness, _ name: String, _ body: String) throws {
        let path = try h.directory.write(name, "#!/bin/sh\nset -e\n" + body + "\n")
        #expect(chmod(path, 0o755) == 0)
    }

    func events(_ h: SlipwayHarness, kind: String? = nil) async throws -> [String] {
        let reply = try await h.api("/v1/services/hello/events?limit=1000")
        let list = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]] ?? []
        return list.filter { kind == nil || $0["kind"] as? String == kind }.compactMap { $0["message"] as? String }
    }

    func backups(_ h: SlipwayHarness) async throws -> [DatabaseBackupRecord] {
        let list = try await h.cli(["backups", "list", "hello", "-o", "json"])
        #expect(list.status == 0, "\(list.stdout)\(list.stderr)")
        return try decode([DatabaseBackupRecord].self, list.stdout)
    }

    func audit(_ h: SlipwayHarness, action: String) async throws -> [AuditEntry] {
        try decode([AuditEntry].self, try await h.cli(["audit", "list", "--limit", "1000", "-o", "json"]).stdout).filter { $0.action == action }
    }

    func apply(_ h: SlipwayHarness, port: Int, _ extra: String) async throws {
        let (config, _) = try h.helloConfig(listenPort: port, replicas: 1, extra: extra)
        let apply = try await h.cli(["apply", "-f", config])
        #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
    }

    // MARK: PostgreSQL

    /// v2's pre_deploy migration adds a column and a row; the deploy backs the database up
    /// first; `slipway rollback` restores it: the column is gone and every row is as before.
    /// The restore's own safety backup then brings v2's schema back by hand.
    @Test func postgresMigrationIsUndoneByTheRollbackRestore() async throws {
        let pg = try await PostgresServer.start()
        do {
            let password = "app-\(UUID().uuidString.prefix(8))"
            try await pg.createDatabase("shop", owner: "app", password: password)
            try await pg.psql("""
                CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL);
                INSERT INTO orders (item, qty) VALUES ('apple', 3), ('pear', 5), ('plum, "ripe"', 7);
                """, database: "shop", user: "app", password: password)
            let before = try await pg.psql("SELECT id, item, qty FROM orders ORDER BY id", database: "shop", user: "app", password: password)
            #expect(before.split(separator: "\n").count == 3)

            try await withHello(replicas: 1) { h, port in
                #expect(try await h.cli(["secrets", "set", "hello", "DB_PASSWORD"], stdin: password).status == 0)
                let marker = h.directory.path + "/migrated"
                try script(h, "migrate.sh", """
                    PGPASSWORD="$DB_PASSWORD" \(Self.psql) -h 127.0.0.1 -p \(pg.port) -U app -d shop -v ON_ERROR_STOP=1 -X -q \\
                      -c "ALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT 'from v2'" \\
                      -c "UPDATE orders SET qty = qty * 10" \\
                      -c "INSERT INTO orders (item, qty, note) VALUES ('v2-only', 1, 'new')"
                    echo "$SLIPWAY_VERSION" >> \(marker)
                    echo "migrated to $SLIPWAY_VERSION"
                    """)
                try await apply(h, port: port, """
                    backup:
                      postgres: "postgres://app:${DB_PASSWORD}@127.0.0.1:\(pg.port)/shop"
                      keep: 5
                      timeout: 60s
                      restore_on_rollback: true
                    hooks:
                      pre_deploy: { run: ["./migrate.sh"], timeout: 60s }
                    """)

                let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
                #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
                #expect(try await h.versionAt(port: port) == "v2")
                let migrated = try await pg.psql("SELECT id, item, qty, note FROM orders ORDER BY id", database: "shop", user: "app", password: password)
                #expect(migrated.split(separator: "\n").count == 4, "\(migrated)")

                // Recorded with the rollout: size, checksum, location, retention; no password anywhere.
                let taken = try await backups(h)
                #expect(taken.count == 1)
                let backup = try #require(taken.first)
                let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
                #expect(backup.rolloutID == history.first?.id)
                #expect(backup.reason == .preDeploy && backup.engine == .postgres && backup.keep == 5 && backup.status == "ok")
                #expect(backup.stableVersion == "v1" && backup.deployVersion == "v2")
                #expect(backup.target == "postgres://app@127.0.0.1:\(pg.port)/shop")
                let sum = try await runCommand("/usr/bin/sha256sum", [backup.location])
                #expect(sum.stdout.hasPrefix(backup.sha256 + " "), "\(sum.stdout) vs \(backup.sha256)")
                let size = try FileManager.default.attributesOfItem(atPath: backup.location)[.size] as? NSNumber
                #expect(size?.int64Value == backup.bytes && backup.bytes > 0)
                #expect(try FileManager.default.attributesOfItem(atPath: backup.location)[.posixPermissions] as? NSNumber == 0o600)
                let all = try await events(h)
                #expect(!all.contains { $0.contains(password) }, "the password leaked into events")
                let order = Array(all.filter { $0.hasPrefix("backup ") || $0.hasPrefix("pre_deploy hook passed") || $0.hasPrefix("traffic switched") }.suffix(3))
                #expect(order.count == 3 && order[0].hasPrefix("backup ") && order[1].hasPrefix("pre_deploy") && order[2].hasPrefix("traffic switched"), "\(order)")

                // The rollback restores the backup taken before v2's migration.
                let rollback = try await h.cli(["rollback", "hello"])
                #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
                #expect(try await h.versionAt(port: port) == "v1")
                _ = try await eventually("the restore after the rollback", timeout: .seconds(60)) {
                    try await events(h, kind: "restored").first
                }
                let restored = try await pg.psql("SELECT id, item, qty FROM orders ORDER BY id", database: "shop", user: "app", password: password)
                #expect(restored == before, "row by row: \(restored) vs \(before)")
                let columns = try await pg.psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' ORDER BY ordinal_position",
                                                database: "shop", user: "app", password: password)
                #expect(columns == "id\nitem\nqty")
                let afterRestore = try await backups(h)
                #expect(afterRestore.count == 2, "a safety backup precedes the restore")
                #expect(afterRestore.first?.reason == .preRestore)
                #expect(afterRestore.last?.restoredBy == "slipway" && afterRestore.last?.restoredAt != nil)
                let audited = try await audit(h, action: "database.restore")
                #expect(audited.count == 1 && audited.first?.details.contains("\"backup\":\"\(backup.id)\"") == true, "\(audited)")
                #expect(try await h.cli(["audit", "verify"]).status == 0)

                // The safety backup undoes the restore: v2's schema and rows are back.
                let safety = try #require(afterRestore.first)
                let manual = try await h.cli(["backups", "restore", String(safety.id), "--yes"])
                #expect(manual.status == 0, "\(manual.stdout)\(manual.stderr)")
                let again = try await pg.psql("SELECT id, item, qty, note FROM orders ORDER BY id", database: "shop", user: "app", password: password)
                #expect(again == migrated, "\(again) vs \(migrated)")
            }
        } catch {
            await pg.stop()
            throw error
        }
        await pg.stop()
    }

    /// A database that cannot be reached fails the deploy before pre_deploy runs, with the
    /// stable release serving and the reason in the rollout.
    @Test func anUnreachableDatabaseFailsTheDeployBeforePreDeploy() async throws {
        try await withHello(replicas: 1) { h, port in
            let closed = freeLoopbackPort()
            let marker = h.directory.path + "/pre-deploy-ran"
            try script(h, "migrate.sh", "touch \(marker)")
            #expect(try await h.cli(["secrets", "set", "hello", "DB_PASSWORD"], stdin: "hunter2-secret").status == 0)
            try await apply(h, port: port, """
                backup:
                  postgres: "postgres://app:${DB_PASSWORD}@127.0.0.1:\(closed)/shop"
                  timeout: 30s
                hooks:
                  pre_deploy: { run: ["./migrate.sh"] }
                """)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 1)
            #expect(deploy.stdout.contains("backup of postgres://app@127.0.0.1:\(closed)/shop failed: pg_dump"), "\(deploy.stdout)")
            #expect(deploy.stdout.contains("the pre_deploy hook did not run"), "\(deploy.stdout)")
            #expect(!deploy.stdout.contains("hunter2-secret"))
            #expect(!FileManager.default.fileExists(atPath: marker))
            #expect(try await h.versionAt(port: port) == "v1")
            #expect(try await backups(h).isEmpty)
            let failed = try await events(h, kind: "backup_failed")
            #expect(failed.count == 1 && failed[0].contains("127.0.0.1") && !failed[0].contains("hunter2"), "\(failed)")
        }
    }

    // MARK: SQLite

    func sqlite(_ file: String, _ sql: String) async throws -> String {
        let result = try await runCommand("/usr/bin/sqlite3", [file, sql])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A failing smoke test after the migration: the deploy fails before the switch and the
    /// SQLite backup is restored. Then a changed backup file is refused, with the reason
    /// audited, and the data of the release that stays is not touched.
    @Test func sqliteRestoreAfterAFailedDeployAndRefusalOfAChangedBackup() async throws {
        try await withHello(replicas: 1) { h, port in
            let db = h.directory.path + "/app.db"
            _ = try await sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items (name) VALUES ('a'), ('b'), ('c');")
            let original = try await sqlite(db, "SELECT * FROM items ORDER BY id")
            try script(h, "migrate.sh", "sqlite3 \(db) \"ALTER TABLE items ADD COLUMN flag INTEGER DEFAULT 1; INSERT INTO items (name) VALUES ('$SLIPWAY_VERSION');\"")
            let smokeResult = h.directory.path + "/smoke-exit"
            try script(h, "smoke.sh", "exit $(cat \(smokeResult))")
            try "3".write(toFile: smokeResult, atomically: true, encoding: .utf8)
            try await apply(h, port: port, """
                backup:
                  sqlite: app.db
                  dir: db-backups
                  keep: 2
                  restore_on_rollback: true
                hooks:
                  pre_deploy: { run: ["./migrate.sh"], timeout: 30s }
                  smoke: { run: ["./smoke.sh"], timeout: 30s }
                """)

            let failed = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(failed.status == 1)
            #expect(failed.stdout.contains("smoke hook failed: exit 3"), "\(failed.stdout)")
            _ = try await eventually("the restore after the failed deploy", timeout: .seconds(60)) {
                try await events(h, kind: "restored").first
            }
            #expect(try await sqlite(db, "SELECT * FROM items ORDER BY id") == original)
            #expect(try await sqlite(db, "SELECT group_concat(name) FROM pragma_table_info('items')") == "id,name")
            let first = try await backups(h)
            #expect(first.count == 2 && first.allSatisfy { $0.location.hasPrefix(h.directory.path + "/db-backups/") }, "\(first.map(\.location))")
            #expect(try await h.versionAt(port: port) == "v1")

            // v3 passes; its backup is then changed on disk; the rollback refuses to restore it.
            try "0".write(toFile: smokeResult, atomically: true, encoding: .utf8)
            let v3 = try await h.cli(["deploy", "hello", "--version", "v3", "--wait"])
            #expect(v3.status == 0, "\(v3.stdout)\(v3.stderr)")
            let withV3 = try await sqlite(db, "SELECT * FROM items ORDER BY id")
            let v3Backup = try #require(try await backups(h).first { $0.deployVersion == "v3" })
            // keep: 2 — the oldest of the three is gone, file and all.
            let all = try await backups(h)
            #expect(all.filter { $0.status == "ok" }.count == 2 && all.filter { $0.status == "deleted" }.count == 1)
            #expect(all.filter { $0.status == "deleted" }.allSatisfy { !FileManager.default.fileExists(atPath: $0.location) })
            let handle = try #require(FileHandle(forWritingAtPath: v3Backup.location))
            try handle.seek(toOffset: 200)
            try handle.write(contentsOf: Data("tampered".utf8))
            try handle.close()

            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            let refusal = try await eventually("the refusal to restore", timeout: .seconds(60)) {
                try await audit(h, action: "database.restore_refused").first
            }
            #expect(refusal.details.contains("changed since it was taken"), "\(refusal.details)")
            #expect(try await events(h, kind: "restore_refused").count == 1)
            #expect(try await sqlite(db, "SELECT * FROM items ORDER BY id") == withV3, "nothing was written over")

            // By hand: the same refusal, a clear error, exit 1.
            let manual = try await h.cli(["backups", "restore", String(v3Backup.id), "--yes"])
            #expect(manual.status == 1)
            #expect(manual.stderr.contains("changed since it was taken"), "\(manual.stderr)")
            let unknown = try await h.cli(["backups", "restore", "999999", "--yes"])
            #expect(unknown.status == 1 && unknown.stderr.contains("no database backup 999999"), "\(unknown.stderr)")
        }
    }

    /// post_deploy fails after the switch: traffic stays on v2, which migrated, so nothing is
    /// restored under it (`restore_deferred`); the rollback that moves traffic back restores.
    @Test func aFailureWithTrafficOnTheNewReleaseDefersTheRestoreToTheRollback() async throws {
        try await withHello(replicas: 1) { h, port in
            let db = h.directory.path + "/app.db"
            _ = try await sqlite(db, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items (name) VALUES ('a'), ('b');")
            let original = try await sqlite(db, "SELECT * FROM items ORDER BY id")
            try script(h, "migrate.sh", "sqlite3 \(db) \"ALTER TABLE items ADD COLUMN flag INTEGER; UPDATE items SET name = name || '-v2';\"")
            try script(h, "post.sh", "echo 'notify failed' >&2; exit 4")
            try await apply(h, port: port, """
                backup: { sqlite: app.db, restore_on_rollback: true, keep: 1 }
                hooks:
                  pre_deploy: { run: ["./migrate.sh"], timeout: 30s }
                  post_deploy: { run: ["./post.sh"], timeout: 30s }
                """)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 1)
            #expect(try await h.versionAt(port: port) == "v2")
            let deferred = try await eventually("the deferred restore") { try await events(h, kind: "restore_deferred").first }
            #expect(deferred.contains("traffic is still on v2"), "\(deferred)")
            #expect(try await events(h, kind: "restored").isEmpty)
            #expect(try await sqlite(db, "SELECT name FROM items ORDER BY id") == "a-v2\nb-v2", "v2's data is left alone while v2 serves")

            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            _ = try await eventually("the restore after the rollback", timeout: .seconds(60)) { try await events(h, kind: "restored").first }
            #expect(try await sqlite(db, "SELECT * FROM items ORDER BY id") == original)
            #expect(try await h.versionAt(port: port) == "v1")
            // keep: 1 — the safety backup taken before the restore did not make retention
            // delete the backup being restored.
            let kept = try await backups(h)
            #expect(kept.count == 2 && kept.allSatisfy { $0.status == "ok" }, "\(kept.map { ($0.id, $0.reason, $0.status) })")
        }
    }
}
