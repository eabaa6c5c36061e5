import Foundation
import SlipwayCore
import SlipwayEvidence
import SlipwayStore
import SlipwayTargets

/// Takes and restores service database backups (`backup:`): PostgreSQL with `pg_dump
/// --format=custom` and `pg_restore --clean --single-transaction`, SQLite with the online
/// backup API. Runs off the controller actor; every step has the spec's timeout and
/// fails with a message that says what could not be done and leaves nothing half-written.
enum DatabaseBackupRunner {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// A PostgreSQL connection: the URL without its password (safe in argv and logs) and
    /// the password (handed to the tools in PGPASSWORD).
    struct PostgresConnection: Equatable {
        var url: String
        var password: String?
    }

    /// Splits `url` (as configured, `${NAME}` unresolved) into the password-free URL and
    /// the password, then resolves references in each: a resolved password may hold any
    /// character (it never goes back into a URL).
    static func postgresConnection(_ url: String, lookup: (String) -> String?) throws(Failure) -> PostgresConnection {
        let (bare, passwordTemplate) = DatabaseBackupSpec.splittingPassword(url)
        func expand(_ text: String, what: String) throws(Failure) -> String {
            switch SecretReference.expand(text, lookup: lookup) {
            case .success(let value): return value
            case .failure(let error): throw Failure("the backup's postgres \(what) \(error.message)")
            }
        }
        return PostgresConnection(url: try expand(bare, what: "URL"),
                                  password: try passwordTemplate.map { (t: String) throws(Failure) -> String in try expand(t, what: "password") })
    }

    /// Writes a backup of the database into `directory` as `stem` + the engine's extension.
    /// The file is written under a temporary name and renamed when whole; mode 0600.
    static func take(engine: DatabaseBackupSpec.Engine, target: String, connection: PostgresConnection?, directory: String, stem: String,
                     timeout: Duration, environment: [String: String], search: [String], redaction: SecretRedaction) async throws(Failure) -> (location: String, bytes: Int64, sha256: String) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure("cannot create the backup directory \(directory): \(errorText(error))")
        }
        guard access(directory, W_OK) == 0 else {
            throw Failure("the backup directory \(directory) is not writable: \(String(cString: strerror(errno)))")
        }
        let location = directory + "/" + stem + (engine == .postgres ? ".dump" : ".sqlite")
        let partial = location + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        do {
            switch engine {
            case .postgres:
                guard let connection else { throw Failure("no PostgreSQL connection") }
                try await runTool("pg_dump", ["--format=custom", "--no-password", "--file=\(partial)", "--dbname=\(connection.url)"],
                                  connection: connection, timeout: timeout, environment: environment, search: search, redaction: redaction,
                                  what: "pg_dump of \(connection.url)")
                chmod(partial, 0o600)
            case .sqlite:
                let work = Task.detached { () -> String? in
                    do { try SQLiteFileBackup.backup(database: target, to: partial, busyTimeout: timeout) } catch { return "\(error)" }
                    return nil
                }
                if let problem = await work.value { throw Failure(problem) }
            }
            guard rename(partial, location) == 0 else {
                throw Failure("cannot move the backup to \(location): \(String(cString: strerror(errno)))")
            }
        } catch let failure as Failure {
            try? FileManager.default.removeItem(atPath: partial)
            throw failure
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw Failure("\(error)")
        }
        do {
            let (sha256, bytes) = try EvidenceItem.digest(location)
            return (location, bytes, sha256)
        } catch {
            throw Failure("cannot read back the backup \(location): \(error)")
        }
    }

    /// Checks that the backup file is the one recorded (size and SHA-256) and readable by
    /// the engine's restore tool, without changing anything.
    static func verify(_ record: DatabaseBackupRecord, connection: PostgresConnection?, timeout: Duration,
                       environment: [String: String], search: [String], redaction: SecretRedaction) async throws(Failure) {
        guard record.status == "ok" else {
            throw Failure("backup \(record.id) was deleted by retention (keep: \(record.keep))")
        }
        guard FileManager.default.fileExists(atPath: record.location) else {
            throw Failure("the file of backup \(record.id), \(record.location), is missing")
        }
        let digest: (sha256: String, bytes: Int64)
        do { digest = try EvidenceItem.digest(record.location) } catch {
            throw Failure("the file of backup \(record.id), \(record.location), cannot be read: \(error)")
        }
        guard digest.bytes == record.bytes, digest.sha256 == record.sha256 else {
            throw Failure("the file of backup \(record.id), \(record.location), changed since it was taken (\(digest.bytes) bytes, sha256 \(digest.sha256.prefix(12))…; recorded \(record.bytes) bytes, sha256 \(record.sha256.prefix(12))…)")
        }
        switch record.engine {
        case .postgres:
            try await runTool("pg_restore", ["--list", record.location], connection: connection ?? PostgresConnection(url: "", password: nil),
                              timeout: timeout, environment: environment, search: search, redaction: redaction,
                              what: "pg_restore --list of \(record.location) (is it a pg_dump custom-format archive?)")
        case .sqlite:
            do { try SQLiteFileBackup.check(record.location) } catch { throw Failure(error.description) }
        }
    }

    /// Restores `record` into the live database (after `verify`).
    static func restore(_ record: DatabaseBackupRecord, target: String, connection: PostgresConnection?, timeout: Duration,
                        environment: [String: String], search: [String], redaction: SecretRedaction) async throws(Failure) {
        switch record.engine {
        case .postgres:
            guard let connection else { throw Failure("no PostgreSQL connection") }
            try await runTool("pg_restore", ["--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-owner", "--no-password",
                                             "--dbname=\(connection.url)", record.location],
                              connection: connection, timeout: timeout, environment: environment, search: search, redaction: redaction,
                              what: "pg_restore of backup \(record.id) into \(connection.url)")
        case .sqlite:
            let work = Task.detached { () -> String? in
                do { try SQLiteFileBackup.restore(from: record.location, into: target, busyTimeout: timeout) } catch { return "\(error)" }
                return nil
            }
            if let problem = await work.value { throw Failure(problem) }
        }
    }

    /// Runs a PostgreSQL client tool with the password in its environment; a failure says
    /// what was being done, how the tool ended and its last lines of output.
    static func runTool(_ name: String, _ arguments: [String], connection: PostgresConnection, timeout: Duration,
                        environment: [String: String], search: [String], redaction: SecretRedaction, what: String) async throws(Failure) {
        guard let executable = LocalProcess.resolveExecutable(name, workingDirectory: nil, extraSearchDirectories: search, path: environment["PATH"]) else {
            throw Failure("\(name) is not installed (looked in \(search.joined(separator: ", ")) and PATH); install PostgreSQL's client tools (Debian: apt-get install postgresql-client)")
        }
        var env = environment
        env["PGPASSWORD"] = connection.password ?? environment["PGPASSWORD"]
        if env["PGCONNECT_TIMEOUT"] == nil { env["PGCONNECT_TIMEOUT"] = "10" }
        env["PGAPPNAME"] = "slipway-backup"
        let run: CheckCommand.Result
        do {
            run = try await CheckCommand.run(executable: executable, arguments: [name] + arguments, environment: env, workingDirectory: nil, timeout: timeout)
        } catch {
            throw Failure("\(what) could not start: \(error)")
        }
        let lines = (run.stderr + run.stdout).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        var tail = redaction.redact(lines.suffix(4).joined(separator: " | "))
        if let password = connection.password, !password.isEmpty { tail = tail.replacing(password, with: "[password]") }
        switch run.exit {
        case .status(0):
            return
        case .status(let code):
            throw Failure("\(what) failed (exit \(code))" + (tail.isEmpty ? "" : ": \(tail)"))
        case .signal(let signal):
            throw Failure("\(what) was killed by signal \(signal)" + (tail.isEmpty ? "" : ": \(tail)"))
        case .timedOut:
            throw Failure("\(what) timed out after \(DurationText.format(timeout)) (backup.timeout) and was killed" + (tail.isEmpty ? "" : ": \(tail)"))
        }
    }

    private static func errorText(_ error: any Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }
}
