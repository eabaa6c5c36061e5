import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer
import SlipwayStore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a consistent online backup of Slipway's state (services, rollouts, audit log, tokens, sealed secrets).",
        discussion: """
            Through the server (admin token; audited as state.backup), or with --state-dir \
            straight from the database (the server may be running: SQLite's online backup API \
            copies a consistent snapshot). The master key is not in the backup: keep it \
            (STATE-DIR/master.key or SLIPWAY_MASTER_KEY) apart from the backups.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The backup file to write (replaced atomically).", valueName: "FILE"))
    var to: String

    @Option(name: .long, help: ArgumentHelp("Read this state directory's database directly instead of asking the server.", valueName: "DIR"))
    var stateDir: String?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        let directory = PathText.folder(of: absolute(to))
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--to \(to): the directory \(directory) does not exist")
        }
    }

    func run() async throws {
        let target = absolute(to)
        let summary: BackupSummary
        if let stateDir {
            let database = (absolute(stateDir) as NSString).appendingPathComponent("slipway.sqlite")
            guard FileManager.default.fileExists(atPath: database) else {
                printError("error: \(stateDir) has no state database (slipway.sqlite)")
                throw Exit.failed
            }
            do {
                summary = try Store(path: database).backup(to: target)
            } catch {
                printError("error: \(error)")
                throw Exit.failed
            }
        } else {
            let bytes = try await withAPI { try await client.client().raw(.GET, "/v1/backup", limit: 1 << 32) }
            let partial = target + ".partial-\(getpid())"
            do {
                try PrivateFile.createEmpty(atPath: partial)
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
                try handle.write(contentsOf: Data(buffer: bytes))
                try handle.synchronize()
                try handle.close()
                // What arrived must be a whole, valid backup before it takes the final name.
                var checked = try Store.inspectBackup(partial)
                guard rename(partial, target) == 0 else { throw StateBackup.Failure(description: "cannot move it to \(target): \(String(cString: strerror(errno)))") }
                checked.path = target
                summary = checked
            } catch {
                try? FileManager.default.removeItem(atPath: partial)
                printError("error: the backup could not be written: \(error)")
                throw Exit.failed
            }
        }
        if client.output == .json { return try printJSON(summary) }
        print("backed up to \(summary.path): \(Self.size(summary.bytes)), sha256 \(summary.sha256)")
        print("  \(summary.services) services, \(summary.rollouts) rollouts, \(summary.events) events, \(summary.auditEntries) audit entries; schema \(summary.schema)")
        if let key = summary.masterKeyID { print("  secrets sealed with master key \(key): keep that key to restore them") }
    }

    static func size(_ bytes: Int64) -> String {
        bytes < 1 << 20 ? String(format: "%.1f KB", Double(bytes) / 1024) : String(format: "%.1f MB", Double(bytes) / 1_048_576)
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a state backup into a state directory (no server may be running on it).",
        discussion: """
            The file is checked first (SQLite, integrity, Slipway's schema, not from a newer \
            version), then restored into a copy whose master key and audit chain are verified; \
            only then is the directory's current database moved aside (never deleted) and the \
            copy put in its place. Start the server afterwards: it adopts or restarts the \
            instances the restored state names.
            """
    )

    @Argument(help: "The backup file (from `slipway backup` or --backup-every).")
    var file: String

    @Option(name: .long, help: ArgumentHelp("The state directory to restore into.", valueName: "DIR"))
    var stateDir: String

    @Option(name: .long, help: ArgumentHelp("The master key file the backup's secrets are sealed with (copied into DIR when it has none).", valueName: "FILE"))
    var masterKeyFile: String?

    @Flag(name: .long, help: "Check everything, change nothing.")
    var dryRun = false

    @Option(name: [.short, .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    func run() async throws {
        let result: StateBackup.RestoreResult
        do {
            result = try StateBackup.restore(backup: absolute(file), into: absolute(stateDir), masterKeyFile: masterKeyFile.map(absolute), dryRun: dryRun)
        } catch {
            printError("error: \(error)")
            throw Exit.failed
        }
        if output == .json { return try printJSON(result.summary) }
        let s = result.summary
        print((dryRun ? "would restore " : "restored ") + "\(s.path) into \(absolute(stateDir)): \(s.services) services, \(s.rollouts) rollouts, \(s.events) events")
        print("  audit log intact: \(result.auditEntries) entries" + (result.auditSignatureChecked ? ", head signature verified" : " (head signature not checked: no master key at hand)"))
        if let kept = result.keptPrevious { print("  the database that was there is kept at \(kept)") }
        if !dryRun { print("  start the server on it: slipway server --state-dir \(stateDir)") }
    }
}

func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
