import Crypto
import Foundation
import Logging
import SlipwayCore
import SlipwayTargets

/// Keeps the data-plane process (`slipway router`) running. It is started in its own
/// session, so it survives the control plane (even SIGKILL); a restarted control plane
/// finds it through its admin socket and adopts it.
public actor DataPlane {
    let stateDirectory: StateDirectory
    public nonisolated let client: RouterClient
    let logger: Logger
    var child: LocalProcess.Started?
    /// Routers this control plane started that handed over to a successor: reaped when
    /// they exit after their drain.
    var retired: [LocalProcess.Started] = []

    public init(stateDirectory: StateDirectory, logger: Logger) {
        self.stateDirectory = stateDirectory
        self.client = RouterClient(socketPath: stateDirectory.routerSocket)
        self.logger = logger
    }

    /// Returns the router's current generation, starting the router when nothing answers.
    @discardableResult
    public func ensureRunning() async throws -> UInt64 {
        if let reply = try? await client.ping(timeout: .milliseconds(500)) {
            return reply.generation
        }
        if let child, case .running = LocalProcess.status(pid: child.pid, startTime: child.startTime) {
            // Started by us but not answering yet: wait below.
        } else {
            try start()
        }
        let deadline = ContinuousClock.now + .seconds(20)
        var lastError = ""
        while ContinuousClock.now < deadline {
            do {
                return try await client.ping(timeout: .milliseconds(500)).generation
            } catch {
                lastError = "\(error)"
            }
            if let child, case .exited(let how) = LocalProcess.status(pid: child.pid, startTime: child.startTime) {
                self.child = nil
                let tail = LogFiles.tail(path: stateDirectory.routerLog, lines: 10).joined(separator: "\n")
                throw RouterClient.Failure(description: "the data plane (slipway router) \(how) during start-up; its log \(stateDirectory.routerLog) ends with:\n\(tail)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RouterClient.Failure(description: "the data plane did not answer within 20s: \(lastError)")
    }

    func start() throws {
        let exe = SelfExecutable.path
        let started: LocalProcess.Started
        do {
            var env = ProcessInfo.processInfo.environment.filter { ["PATH", "HOME", "LANG", "LOG_LEVEL", "TZ", LogFormat.environmentName, RouterEventLoops.environmentName].contains($0.key) }
            env["SLIPWAY_ROLE"] = "router"
            started = try LocalProcess.spawn(executable: exe, arguments: [exe, "router", "--state-dir", stateDirectory.path],
                                             environment: env, workingDirectory: stateDirectory.path, logPath: stateDirectory.routerLog)
        } catch {
            throw RouterClient.Failure(description: "cannot start the data plane: \(error)")
        }
        child = started
        logger.info("started data plane", metadata: ["slipway.pid": "\(started.pid)"])
    }

    /// Reaps the router when it is our child and has exited (then it is restarted on the
    /// next `ensureRunning`). Returns a description when it died.
    public func checkChild() -> String? {
        retired.removeAll { if case .exited = LocalProcess.status(pid: $0.pid, startTime: $0.startTime) { true } else { false } }
        guard let child else { return nil }
        if case .exited(let how) = LocalProcess.status(pid: child.pid, startTime: child.startTime) {
            self.child = nil
            return how
        }
        return nil
    }

    /// The running router's binary, when it differs from this control plane's (a changed
    /// build on disk, or an older router): nil when they match or nothing answers.
    public func staleRouter() async -> RouterClient.Identity? {
        // One this control plane started runs its binary: no need to hash it (a start of
        // many servers at once on a busy machine pays for every hash).
        if child != nil { return nil }
        guard let running = try? await client.identity(timeout: .seconds(2)), let mine = ExecutableIdentity.onDisk() else { return nil }
        return running.executable == mine ? nil : running
    }

    /// Replaces the running router by one from this control plane's binary without a gap:
    /// the new process takes over the listening sockets (`HandOver`), serves, and the old
    /// one drains and exits by itself. Throws (leaving the old router serving) when the
    /// new one does not come up.
    public func upgrade(timeout: Duration = .seconds(30)) async throws -> RouterUpgrade {
        // A pooled connection may still lead to a router that handed over (it refuses and
        // closes it): ask again on a fresh one.
        var answer: RouterClient.Identity?
        for attempt in 0..<3 where answer == nil {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(100)) }
            answer = try? await client.identity(timeout: .seconds(2))
        }
        let before: RouterClient.Identity
        if let answer { before = answer } else { before = try await client.identity(timeout: .seconds(2)) }
        let started = ContinuousClock.now
        let previous = child
        try start()
        guard let successor = child else { throw RouterClient.Failure(description: "the new router did not start") }
        while ContinuousClock.now < started + timeout {
            if let now = try? await client.identity(timeout: .milliseconds(500)), now.pid == successor.pid {
                if let previous, previous.pid == before.pid { retired.append(previous) }
                let elapsed = (ContinuousClock.now - started).components
                let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                logger.info("data plane upgraded", metadata: ["slipway.old_pid": "\(before.pid)", "slipway.pid": "\(successor.pid)"])
                return RouterUpgrade(previousPID: before.pid, pid: successor.pid, previousExecutable: before.executable, executable: now.executable, seconds: seconds)
            }
            if case .exited(let how) = LocalProcess.status(pid: successor.pid, startTime: successor.startTime) {
                child = previous
                let tail = LogFiles.tail(path: stateDirectory.routerLog, lines: 10).joined(separator: "\n")
                throw RouterClient.Failure(description: "the new data plane \(how) before taking over (the running one serves on); its log \(stateDirectory.routerLog) ends with:\n\(tail)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RouterClient.Failure(description: "the new data plane (pid \(successor.pid)) did not take over within \(timeout)")
    }

    /// Stops the router process (SIGTERM, then SIGKILL) — `slipway down`.
    public func stop() async {
        var pid: Int32? = child?.pid
        var start: UInt64 = child?.startTime ?? 0
        if pid == nil, let reply = try? await client.ping(timeout: .milliseconds(500)) {
            pid = reply.pid
            start = LocalProcess.startTime(of: reply.pid) ?? 0
        }
        for old in retired { await LocalProcess.stop(pid: old.pid, startTime: old.startTime, grace: .seconds(10)) }
        retired = []
        guard let pid else { return }
        await LocalProcess.stop(pid: pid, startTime: start, grace: .seconds(10))
        child = nil
    }
}

/// What `slipway router upgrade` did.
public struct RouterUpgrade: Codable, Sendable, Equatable {
    public var previousPID: Int32
    public var pid: Int32
    /// SHA-256 of the old and the new router's binary.
    public var previousExecutable: String?
    public var executable: String?
    /// From starting the new router to it answering with the sockets taken over.
    public var seconds: Double
}

/// The path of the running `slipway` binary.
public enum SelfExecutable {
    /// Where the binary this process runs lives; after the file was replaced (an upgrade in
    /// place) the path now holds the new binary (the kernel marks the old one "(deleted)").
    public static var path: String {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return CommandLine.arguments[0] }
        return link.hasSuffix(" (deleted)") ? String(link.dropLast(" (deleted)".count)) : link
    }

    public static var directory: String {
        PathText.folder(of: path)
    }
}

/// Which build a binary is: the SHA-256 of its bytes.
public enum ExecutableIdentity {
    /// The binary this process was started from (readable through /proc even after its
    /// file was replaced or deleted).
    public static func ofRunningProcess() -> String? { sha256(ofFile: "/proc/self/exe") }

    /// The binary at `SelfExecutable.path` now (a new one after an upgrade in place).
    public static func onDisk() -> String? { sha256(ofFile: SelfExecutable.path) }

    static func sha256(ofFile path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return Hex.string(hasher.finalize())
    }
}
