import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL 15 server from Debian's packages (`postgresql-15`, which
/// scripts/test.sh installs) on 127.0.0.1 only, no Unix socket, password authentication
/// (scram-sha-256), its data in a temporary directory. Started with `pg_ctl -w` (ready
/// when it returns) and stopped with `stop()`. As root, the server runs as the `postgres`
/// user the package creates (PostgreSQL refuses to run as root).
public final class PostgresServer: @unchecked Sendable {
    public static let binDirectory = "/usr/lib/postgresql/15/bin"
    public let port: Int
    public let directory: String
    public let superuserPassword: String
    private let runAs: [String]

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private init(port: Int, directory: String, superuserPassword: String, runAs: [String]) {
        self.port = port
        self.directory = directory
        self.superuserPassword = superuserPassword
        self.runAs = runAs
    }

    public static func start() async throws -> PostgresServer {
        guard FileManager.default.isExecutableFile(atPath: binDirectory + "/pg_ctl") else {
            throw Failure(description: "PostgreSQL 15 is not installed (\(binDirectory)/pg_ctl is missing); scripts/test.sh installs it with apt-get install postgresql-15")
        }
        var template = Array("/tmp/slipway-pg-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed: \(String(cString: strerror(errno)))") }
        let directory = String(cString: made)
        var runAs: [String] = []
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw Failure(description: "running as root and there is no `postgres` user to run PostgreSQL as (the postgresql-15 package creates it)")
            }
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
            runAs = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        }
        chmod(directory, 0o700)
        let password = "pg-" + UUID().uuidString
        let passwordFile = directory + "/pw"
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        if let user = getpwnam("postgres"), getuid() == 0 { chown(passwordFile, user.pointee.pw_uid, user.pointee.pw_gid) }
        let server = PostgresServer(port: 0, directory: directory, superuserPassword: password, runAs: runAs)
        let initdb = try await server.asServerUser(binDirectory + "/initdb", ["-D", directory + "/data", "-U", "postgres", "--auth=scram-sha-256",
                                                                             "--pwfile=\(passwordFile)", "-E", "UTF8", "--no-locale"])
        guard initdb.status == 0 else { throw Failure(description: "initdb failed: \(initdb.stderr)\(initdb.stdout)") }
        // A port taken between the probe and the start fails the start: try another.
        var lastError = ""
        for _ in 0..<3 {
            let port = freeLoopbackPort()
            let conf = """

                listen_addresses = '127.0.0.1'
                port = \(port)
                unix_socket_directories = ''
                fsync = off
                synchronous_commit = off
                full_page_writes = off

                """
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/data/postgresql.conf"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(conf.utf8))
            try handle.close()
            let start = try await server.asServerUser(binDirectory + "/pg_ctl", ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "start"])
            if start.status == 0 {
                return PostgresServer(port: port, directory: directory, superuserPassword: password, runAs: runAs)
            }
            lastError = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? start.stderr
        }
        throw Failure(description: "PostgreSQL did not start: \(lastError)")
    }

    /// Runs a server tool (as `postgres` when root). Foundation's `Process` learns that a
    /// child exited when every holder of a socket it gives the child closes it; the server
    /// `pg_ctl start` leaves running would hold it for ever. So the tool runs in a subshell
    /// that first closes every descriptor above 2, while the shell Foundation waits for
    /// keeps its copy until the tool ends.
    private func asServerUser(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let script = "( for fd in /proc/self/fd/*; do n=${fd##*/}; [ \"$n\" -gt 2 ] && eval \"exec $n>&-\" 2>/dev/null; done; exec \"$@\" ); exit $?"
        return try await runCommand("/bin/bash", ["-c", script, "bash"] + runAs + [executable] + arguments, timeout: .seconds(120))
    }

    /// Runs SQL with psql over TCP; returns unaligned, tuples-only output (`|` between columns).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres", user: String = "postgres", password: String? = nil) async throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = password ?? superuserPassword
        let result = try await runCommand(Self.binDirectory + "/psql",
                                          ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1",
                                           "-X", "-q", "-A", "-t", "-c", sql], environment: environment, timeout: .seconds(60))
        guard result.status == 0 else { throw Failure(description: "psql failed (\(result.status)): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Creates a login role owning a new database.
    public func createDatabase(_ name: String, owner: String, password: String) async throws {
        try await psql("CREATE ROLE \(owner) LOGIN PASSWORD '\(password)'")
        try await psql("CREATE DATABASE \(name) OWNER \(owner)")
    }

    /// Stops the server at once and deletes its files.
    public func stop() async {
        _ = try? await asServerUser(Self.binDirectory + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }
}
