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
            var env = ProcessInfo.processInfo.environment.filter { ["PATH", "HOME", "LANG", "LOG_LEVEL", "TZ", LogFormat.environmentName].contains($0.key) }
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
        guard let child else { return nil }
        if case .exited(let how) = LocalProcess.status(pid: child.pid, startTime: child.startTime) {
            self.child = nil
            return how
        }
        return nil
    }

    /// Stops the router process (SIGTERM, then SIGKILL) — `slipway down`.
    public func stop() async {
        var pid: Int32? = child?.pid
        var start: UInt64 = child?.startTime ?? 0
        if pid == nil, let reply = try? await client.ping(timeout: .milliseconds(500)) {
            pid = reply.pid
            start = LocalProcess.startTime(of: reply.pid) ?? 0
        }
        guard let pid else { return }
        await LocalProcess.stop(pid: pid, startTime: start, grace: .seconds(10))
        child = nil
    }
}

/// The path of the running `slipway` binary.
public enum SelfExecutable {
    public static var path: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    public static var directory: String {
        (path as NSString).deletingLastPathComponent
    }
}
