import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `backup:`: what parses (defaults, paths made absolute, per-environment overrides) and
/// the precise error for what does not.
@Suite struct BackupConfigTests {
    func parse(_ yaml: String) throws -> ServiceSpec {
        try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: "/srv/app")
    }

    @Test func postgresWithDefaults() throws {
        let spec = try parse(minimal + "backup:\n  postgres: \"postgres://app:${DB_PASSWORD}@db.internal:5432/shop\"\n")
        let backup = try #require(spec.backup)
        #expect(backup.engine == .postgres)
        #expect(backup.target == "postgres://app:${DB_PASSWORD}@db.internal:5432/shop")
        #expect(backup.displayTarget == "postgres://app@db.internal:5432/shop")
        #expect(backup.keep == Defaults.backupKeep && backup.timeout == Defaults.backupTimeout && !backup.restoreOnRollback && backup.directory == nil)
    }

    @Test func sqliteAndDirAreRelativeToTheConfigFile() throws {
        let spec = try parse(minimal + "backup: { sqlite: data/app.db, dir: backups, keep: 3, timeout: 2m, restore_on_rollback: true }\n")
        #expect(spec.backup == DatabaseBackupSpec(engine: .sqlite, target: "/srv/app/data/app.db", directory: "/srv/app/backups",
                                                  keep: 3, timeout: .seconds(120), restoreOnRollback: true))
    }

    @Test func theSpecSurvivesTheStore() throws {
        let spec = try parse(minimal + "backup: { postgres: \"postgres://u@h/db\", keep: 4, restore_on_rollback: true }\n")
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(ServiceSpec.self, from: data).backup == spec.backup)
    }

    @Test func productionAloneBacksUp() throws {
        let units = try ConfigLoader.parseUnits(minimal + """
            environments:
              staging: {}
              production:
                listen: 9090
                backup: { postgres: "postgres://app@127.0.0.1/shop", restore_on_rollback: true }
            """, fileName: "slipway.yml", baseDirectory: nil)
        #expect(units.first { $0.environmentName == "staging" }?.backup == nil)
        #expect(units.first { $0.environmentName == "production" }?.backup?.restoreOnRollback == true)
    }

    @Test func noDatabaseIsNamed() {
        #expect(singleError(minimal + "backup: { keep: 3 }\n")
            == "3:9: backup: names no database: give `postgres: postgres://USER@HOST:PORT/DB` or `sqlite: FILE`")
    }

    @Test func bothDatabasesAreRefused() {
        #expect(singleError(minimal + "backup:\n  postgres: \"postgres://u@h/db\"\n  sqlite: app.db\n")
            == "5:11: backup.sqlite: give one of `postgres` and `sqlite`, not both")
    }

    @Test func aPasswordInTheURLIsRefused() {
        #expect(singleError(minimal + "backup:\n  postgres: \"postgres://app:hunter2@h/db\"\n")?
            .hasSuffix("backup.postgres: the password is written in the URL; write it as `${NAME}` and set NAME as a secret (`slipway secrets set`) so it stays out of the config") == true)
    }

    @Test func notAPostgresURL() {
        #expect(singleError(minimal + "backup:\n  postgres: \"mysql://h/db\"\n")?.contains("is not a PostgreSQL URL") == true)
        #expect(singleError(minimal + "backup:\n  postgres: \"postgres://h:5432\"\n")?.contains("names no database") == true)
        #expect(singleError(minimal + "backup:\n  postgres: \"postgres://u:${PW@h/db\"\n")?.contains("without a closing") == true)
    }

    @Test func keepAndTimeoutAreChecked() {
        #expect(singleError(minimal + "backup: { sqlite: a.db, keep: 0 }\n")?.hasPrefix("3:31: backup.keep:") == true)
        #expect(singleError(minimal + "backup: { sqlite: a.db, timeout: 0s }\n")?.hasPrefix("3:34: backup.timeout:") == true)
        #expect(singleError(minimal + "backup: { sqlite: a.db, restore: true }\n")?.contains("did you mean `restore_on_rollback`?") == true)
    }
}
