import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer

/// `slipway backups list|restore`: the service database backups taken before deploys (`backup:`).
struct BackupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backups",
        abstract: "List and restore the database backups taken before deploys (`backup:` in slipway.yml).",
        subcommands: [BackupsListCommand.self, BackupsRestoreCommand.self]
    )
}

struct BackupsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "A service's database backups, newest first: when, why, the rollout, size, checksum, file, and whether retention deleted it or it was restored."
    )

    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let unit = unitName(service, env)
        let records = try await withAPI { try await client.client().send(.GET, "/v1/services/\(unit.urlPathEscaped)/backups", as: [DatabaseBackupRecord].self) }
        if client.output == .json { return try printJSON(records) }
        if records.isEmpty { return print("no database backups of \(unit); add `backup:` to its slipway.yml and deploy") }
        var rows = [["ID", "TAKEN", "WHY", "ROLLOUT", "RELEASES", "DATABASE", "SIZE", "SHA256", "STATUS", "FILE"]]
        for r in records {
            let why = r.reason == .preDeploy ? "before deploy" : "before a restore"
            let releases = r.reason == .preDeploy ? "\(r.stableVersion ?? "-") → \(r.deployVersion ?? "?")" : (r.stableVersion ?? "-")
            var status = r.status == "ok" ? "kept" : "deleted (keep \(r.keep))"
            if let at = r.restoredAt { status += "; restored \(Format.time(at)) by \(r.restoredBy ?? "?")" }
            rows.append(["\(r.id)", Format.time(r.createdAt), why, r.rolloutID.map(String.init) ?? "-", releases, "\(r.engine.rawValue) \(r.target)",
                         BackupCommand.size(r.bytes), String(r.sha256.prefix(12)), status, r.location])
        }
        print(Format.table(rows))
    }
}

struct BackupsRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a database backup into the service's live database (admin token).",
        discussion: """
            Refused while a rollout of the service runs, when the file is missing or changed \
            since it was taken (size and SHA-256), is not a valid archive, or belongs to another \
            database than the one configured now. The database as it is gets backed up first \
            (listed as "before a restore"), so a restore can itself be undone. Audited as \
            database.restore.
            """
    )

    @Argument(help: "The backup's id (slipway backups list SERVICE).") var id: Int64
    @Flag(name: .long, help: "Do not ask for confirmation.") var yes = false
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("ID must be a positive backup id (got \(id)); `slipway backups list SERVICE` shows them") }
    }

    func run() async throws {
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                printError("error: restoring overwrites the live database; pass --yes to confirm when not on a terminal")
                throw Exit.failed
            }
            print("Restore backup \(id) over the live database (it is backed up first)? [y/N] ", terminator: "")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                print("not restored")
                return
            }
        }
        let result = try await withAPI { try await client.client().send(.POST, "/v1/backups/\(id)/restore", as: DatabaseRestoreResult.self) }
        if client.output == .json { return try printJSON(result) }
        let b = result.backup
        print("restored backup \(b.id) (\(b.engine.rawValue) \(b.target), taken \(Format.time(b.createdAt))) in \(String(format: "%.2f", result.seconds)) s")
        if let safety = result.safetyBackup {
            print("  the database as it was before is backup \(safety.id): \(safety.location)")
        }
    }
}
