import Foundation
import Crypto
import SlipwayCore

/// The control plane's link to one fleet server: the system's OpenSSH client, so that the
/// user's `~/.ssh/config` (or `--ssh-config`), agents, `ProxyJump` bastions and
/// `known_hosts` all apply as they do for `ssh` by hand.
///
/// - One master connection per server (`ControlMaster`), in its own session so it outlives
///   a control plane killed with SIGKILL; commands, copies and socket forwards are
///   multiplexed over it (no new handshake per command).
/// - Host keys are always checked strictly (`StrictHostKeyChecking=yes` on the command
///   line, which wins over any config file): an unknown or changed key is refused with the
///   command that fixes it, never accepted.
/// - `BatchMode=yes`: nothing ever waits for a password or a prompt.
public actor SSHConnection {
    public struct Options: Sendable, Equatable {
        /// `ssh -F FILE`; nil: the user's `~/.ssh/config` as usual.
        public var configFile: String?
        /// Where control sockets and forwarded sockets live (kept short: unix socket
        /// paths are limited to 107 bytes).
        public var socketDirectory: String
        public var connectTimeoutSeconds: Int
        /// `ssh` and `scp`, found in PATH unless given.
        public var sshPath: String
        public var scpPath: String

        public init(configFile: String? = nil, socketDirectory: String, connectTimeoutSeconds: Int = Defaults.sshConnectTimeoutSeconds,
                    sshPath: String? = nil, scpPath: String? = nil) {
            self.configFile = configFile
            self.socketDirectory = socketDirectory
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.sshPath = sshPath ?? LocalProcess.resolveExecutable("ssh", workingDirectory: nil, extraSearchDirectories: [], path: ProcessInfo.processInfo.environment["PATH"]) ?? "/usr/bin/ssh"
            self.scpPath = scpPath ?? LocalProcess.resolveExecutable("scp", workingDirectory: nil, extraSearchDirectories: [], path: ProcessInfo.processInfo.environment["PATH"]) ?? "/usr/bin/scp"
        }

        /// A socket directory for a state directory: `STATE/ssh` when paths there are short
        /// enough for unix sockets, else one under /tmp named after it.
        public static func socketDirectory(stateDirectory: String) -> String {
            let preferred = (stateDirectory as NSString).appendingPathComponent("ssh")
            if preferred.utf8.count <= 60 { return preferred }
            let tag = Hex.string(SHA256.hash(data: Data(stateDirectory.utf8)).prefix(6))
            return "/tmp/slipway-ssh-\(getuid())-\(tag)"
        }
    }

    public nonisolated let server: ServerSpec
    public nonisolated let options: Options
    /// The master connection's control socket.
    public nonisolated let controlPath: String
    var master: LocalProcess.Started?
    /// ssh and scp processes started so far (the master, commands, copies, forwards): the
    /// control plane's cost per server, as `slipway_fleet_ssh_commands_total` shows.
    public private(set) var commands = 0

    public init(server: ServerSpec, options: Options) {
        self.server = server
        self.options = options
        self.controlPath = (options.socketDirectory as NSString).appendingPathComponent("\(Self.tag(server)).ctl")
    }

    /// `CheckCommand`, counting the process it starts.
    func counted() -> CheckCommand.Type {
        commands += 1
        return CheckCommand.self
    }

    /// A short, stable name for the server's sockets.
    static func tag(_ server: ServerSpec) -> String {
        let digest = SHA256.hash(data: Data("\(server.user ?? "")@\(server.host):\(server.port ?? 0)".utf8))
        return Hex.string(digest.prefix(8))
    }

    /// The local end of a forwarded socket named `name` (`router`, `agent`).
    public nonisolated func localSocket(_ name: String) -> String {
        (options.socketDirectory as NSString).appendingPathComponent("\(Self.tag(server)).\(name)")
    }

    /// Options every ssh and scp invocation shares.
    nonisolated func commonOptions(master: Bool = false) -> [String] {
        var args: [String] = []
        if let file = options.configFile { args += ["-F", file] }
        args += [
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=\(options.connectTimeoutSeconds)",
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=3",
            "-o", "ControlPath=\(controlPath)",
            "-o", master ? "ControlMaster=yes" : "ControlMaster=no",
        ]
        if master { args += ["-o", "ControlPersist=no", "-o", "ExitOnForwardFailure=yes"] }
        if let user = server.user { args += ["-o", "User=\(user)"] }
        return args
    }

    nonisolated var destination: [String] {
        (server.port.map { ["-p", "\($0)"] } ?? []) + ["--", server.host]
    }

    /// Whether the master connection answers.
    public func isConnected() async -> Bool {
        guard FileManager.default.fileExists(atPath: controlPath) else { return false }
        let result = try? await counted().run(executable: options.sshPath, arguments: [options.sshPath] + commonOptions() + ["-O", "check"] + destination,
                                                 environment: Self.environment, workingDirectory: nil, timeout: .seconds(5))
        return result?.exit == .status(0)
    }

    /// Opens the master connection unless one answers. Throws `FleetError` with what went
    /// wrong (host key unknown or changed, authentication, unreachable) and how to fix it.
    public func connect() async throws(FleetError) {
        // One attempt at a time: callers that arrive meanwhile (a status request while a
        // background reconnect runs) share its outcome instead of racing for the same
        // control socket and log file.
        if let connecting {
            if let error = await connecting.value { throw error }
            return
        }
        let attempt = Task { () -> FleetError? in
            do throws(FleetError) {
                try await self.establish()
                return nil
            } catch {
                return error
            }
        }
        connecting = attempt
        let outcome = await attempt.value
        connecting = nil
        if let outcome { throw outcome }
    }

    var connecting: Task<FleetError?, Never>?

    func establish() async throws(FleetError) {
        if await isConnected() { return }
        try? FileManager.default.createDirectory(atPath: options.socketDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try? FileManager.default.removeItem(atPath: controlPath)
        if let master { await LocalProcess.stop(pid: master.pid, startTime: master.startTime, grace: .seconds(1)) }
        let log = controlPath + ".log"
        try? FileManager.default.removeItem(atPath: log)
        let started: LocalProcess.Started
        do {
            commands += 1
            started = try LocalProcess.spawn(executable: options.sshPath, arguments: [options.sshPath, "-N"] + commonOptions(master: true) + destination,
                                             environment: Self.environment, workingDirectory: nil, logPath: log)
        } catch {
            throw FleetError(.unreachable, server: server.id, "cannot run \(options.sshPath): \(error)")
        }
        master = started
        let deadline = ContinuousClock.now + .seconds(options.connectTimeoutSeconds + 5)
        while ContinuousClock.now < deadline {
            if case .exited = LocalProcess.status(pid: started.pid, startTime: started.startTime) {
                master = nil
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw Self.classify(output, server: server, options: options)
            }
            if FileManager.default.fileExists(atPath: controlPath), await isConnected() { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        await LocalProcess.stop(pid: started.pid, startTime: started.startTime, grace: .seconds(1))
        master = nil
        throw FleetError(.unreachable, server: server.id, "no SSH connection to \(server.url) within \(options.connectTimeoutSeconds + 5)s")
    }

    /// Runs a shell command on the server over the master connection. Arguments are quoted
    /// for the remote shell by `shellCommand`.
    public func run(_ argv: [String], timeout: Duration = .seconds(60)) async throws(FleetError) -> CheckCommand.Result {
        try await connect()
        let command = Self.shellCommand(argv)
        let result: CheckCommand.Result
        do {
            result = try await counted().run(executable: options.sshPath, arguments: [options.sshPath] + commonOptions() + destination + [command],
                                                environment: Self.environment, workingDirectory: nil, timeout: timeout)
        } catch {
            throw FleetError(.failed, server: server.id, "cannot run \(options.sshPath): \(error)")
        }
        if result.exit == .status(255) {
            // ssh's own failure (the remote command's 255 is rare; its message then says so).
            throw Self.classify(result.stderr, server: server, options: options)
        }
        if result.exit == .timedOut {
            throw FleetError(.unreachable, server: server.id, "`\(argv.joined(separator: " "))` on \(server.id) did not finish within \(DurationText.format(timeout))")
        }
        return result
    }

    /// Runs a command and requires exit status 0; the error carries its output.
    @discardableResult
    public func check(_ argv: [String], timeout: Duration = .seconds(60)) async throws(FleetError) -> String {
        let result = try await run(argv, timeout: timeout)
        guard result.exit == .status(0) else {
            let output = (result.stderr.isEmpty ? result.stdout : result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
            throw FleetError(.failed, server: server.id, "`\(argv.joined(separator: " "))` on \(server.id) failed (\(result.exit)): \(output.suffix(600))")
        }
        return result.stdout
    }

    /// Copies a local file to `remotePath` (scp over the master connection).
    public func upload(_ localPath: String, to remotePath: String, recursive: Bool = false, timeout: Duration = .seconds(300)) async throws(FleetError) {
        try await connect()
        // scp speaks SFTP by default; a server without the sftp subsystem gets the
        // original SCP protocol (`-O`) instead.
        var result = try await scp(localPath, remotePath, legacy: false, recursive: recursive, timeout: timeout)
        if result.exit != .status(0), result.stderr.contains("Connection closed") || result.stderr.contains("subsystem request failed") {
            result = try await scp(localPath, remotePath, legacy: true, recursive: recursive, timeout: timeout)
        }
        guard result.exit == .status(0) else {
            throw FleetError(.failed, server: server.id, "copying \(localPath) to \(server.id):\(remotePath) failed (\(result.exit)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(600))")
        }
    }

    func scp(_ localPath: String, _ remotePath: String, legacy: Bool, recursive: Bool, timeout: Duration) async throws(FleetError) -> CheckCommand.Result {
        var args = [options.scpPath, "-q", "-p"] + (legacy ? ["-O"] : []) + (recursive ? ["-r"] : []) + commonOptions()
        if let port = server.port { args += ["-P", "\(port)"] }
        args += ["--", localPath, "\(Self.scpHost(server.host)):\(remotePath)"]
        do {
            return try await counted().run(executable: options.scpPath, arguments: args, environment: Self.environment, workingDirectory: nil, timeout: timeout)
        } catch {
            throw FleetError(.failed, server: server.id, "cannot run \(options.scpPath): \(error)")
        }
    }

    /// Forwards the server's unix socket `remote` to the local socket `local` through the
    /// master connection (`ssh -O forward -L local:remote`). Idempotent.
    public func forward(local: String, remote: String) async throws(FleetError) {
        try await connect()
        // A forward of the same path from before (a stale socket file, or one the master
        // still holds) is cancelled first; the master then binds the path anew.
        _ = try? await counted().run(executable: options.sshPath, arguments: [options.sshPath] + commonOptions() + ["-O", "cancel", "-L", "\(local):\(remote)"] + destination,
                                        environment: Self.environment, workingDirectory: nil, timeout: .seconds(10))
        try? FileManager.default.removeItem(atPath: local)
        let result: CheckCommand.Result
        do {
            result = try await counted().run(executable: options.sshPath, arguments: [options.sshPath] + commonOptions() + ["-O", "forward", "-L", "\(local):\(remote)"] + destination,
                                                environment: Self.environment, workingDirectory: nil, timeout: .seconds(10))
        } catch {
            throw FleetError(.failed, server: server.id, "cannot run \(options.sshPath): \(error)")
        }
        guard result.exit == .status(0) else {
            throw FleetError(.failed, server: server.id, "cannot forward \(server.id):\(remote) to \(local): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Closes the master connection (and its forwards).
    public func close() async {
        _ = try? await counted().run(executable: options.sshPath, arguments: [options.sshPath] + commonOptions() + ["-O", "exit"] + destination,
                                        environment: Self.environment, workingDirectory: nil, timeout: .seconds(5))
        if let master { await LocalProcess.stop(pid: master.pid, startTime: master.startTime, grace: .seconds(1)) }
        master = nil
        try? FileManager.default.removeItem(atPath: controlPath)
    }

    // MARK: helpers

    /// The environment ssh runs with: the user's (HOME for ~/.ssh, SSH_AUTH_SOCK for the agent).
    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.filter { ["PATH", "HOME", "USER", "LOGNAME", "SSH_AUTH_SOCK", "LANG", "TERM"].contains($0.key) }
    }

    static func scpHost(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// One shell word per argument: plain words as they are, everything else in single quotes.
    /// A leading `~/` stays outside the quotes so the remote shell expands it.
    public static func shellCommand(_ argv: [String]) -> String {
        argv.map(shellQuote).joined(separator: " ")
    }

    public static func shellQuote(_ word: String) -> String {
        if word.hasPrefix("~/") { return "~/" + shellQuote(String(word.dropFirst(2))) }
        let safe = word.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "@%+=:,./-_".unicodeScalars.contains($0)) }
        if !word.isEmpty && safe { return word }
        return "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// Names what ssh's output says went wrong, with the fix.
    static func classify(_ output: String, server: ServerSpec, options: Options) -> FleetError {
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let port = server.port.map { "-p \($0) " } ?? ""
        let login = (server.user.map { "\($0)@" } ?? "") + server.host
        if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || text.contains("has changed and you have requested strict checking") {
            let fingerprint = lines.first { $0.hasPrefix("SHA256:") }.map { " It now presents \($0.trimmingCharacters(in: CharacterSet(charactersIn: "."))). " } ?? " "
            let remove = lines.first { $0.hasPrefix("ssh-keygen") && $0.contains(" -R ") } ?? "ssh-keygen -R \(server.port.map { "'[\(server.host)]:\($0)'" } ?? server.host)"
            return FleetError(.hostKeyChanged, server: server.id,
                              "the host key of \(server.url) has CHANGED since it was recorded in known_hosts; Slipway refuses to connect (this is what a man-in-the-middle looks like).\(fingerprint)If the server was really re-installed or re-keyed, confirm the new key's fingerprint with its administrator, then remove the old entry with `\(remove)` and record the new one (`ssh \(port)\(login)` once by hand, or `ssh-keyscan \(port)\(server.host) >> ~/.ssh/known_hosts`).")
        }
        if text.contains("host key is known for") || text.contains("Host key verification failed") {
            return FleetError(.hostKeyUnknown, server: server.id,
                              "the host key of \(server.url) is not in known_hosts, and Slipway never accepts an unknown key. Check the server's fingerprint (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it), then record it: `ssh \(port)\(login)` once by hand and compare, or `ssh-keyscan \(port)\(server.host) >> ~/.ssh/known_hosts` and compare `ssh-keygen -lf ~/.ssh/known_hosts`.")
        }
        if text.contains("Permission denied") || text.contains("Too many authentication failures") {
            return FleetError(.authentication, server: server.id,
                              "\(server.url) refused every key we offered (\(lines.last ?? text)); add your public key to the server's ~/.ssh/authorized_keys (`ssh-copy-id \(port)\(login)`) or load it into ssh-agent (`ssh-add`), or set IdentityFile in your ssh config")
        }
        if text.contains("Could not resolve hostname") {
            return FleetError(.unreachable, server: server.id, "cannot resolve the host name of \(server.url): \(lines.last ?? text)")
        }
        let network = ["Connection timed out", "No route to host", "Connection refused", "Network is unreachable", "Connection closed", "Connection reset", "Broken pipe", "timed out", "kex_exchange_identification"]
        if network.contains(where: text.contains) {
            return FleetError(.unreachable, server: server.id, "cannot reach \(server.url): \(lines.last ?? text)")
        }
        return FleetError(.unreachable, server: server.id, "ssh to \(server.url) failed: \(text.isEmpty ? "no output" : String(text.suffix(600)))")
    }
}

/// What went wrong with a fleet server, with the server named.
public struct FleetError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        case hostKeyUnknown
        case hostKeyChanged
        case authentication
        case unreachable
        /// The server's Slipway (router, agent) is missing, too old or a different version.
        case versionSkew
        case failed
    }
    public let code: Code
    public let server: String
    public let message: String

    public init(_ code: Code, server: String, _ message: String) {
        self.code = code
        self.server = server
        self.message = message
    }

    public var description: String { message }
}
