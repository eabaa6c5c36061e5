import AsyncHTTPClient
import Foundation
import NIOCore
import SlipwayCore
import SlipwayTargets

/// The driver of one fleet server, on the control plane's side: the release's bytes are
/// made ready here (hashed and kept as for this machine) and copied to the server's
/// artifact store (checked by SHA-256 there), so every server runs exactly the recorded
/// bytes; instances are started, observed, stopped and read by the server's agent
/// (`HostAgent`) through the router's forwarded admin socket.
public struct ServerDriver: InstanceDriver {
    public let kind = TargetKind.local
    let server: FleetServer
    /// This machine's driver: it records and keeps the release's bytes.
    let local: LocalProcessDriver

    public init(server: FleetServer, local: LocalProcessDriver) {
        self.server = server
        self.local = local
    }

    func unreachable(_ error: any Error) -> DriverError {
        DriverError(.unreachable, "server \(server.server.id): \(error)")
    }

    public func prepare(_ release: ReleaseRecord, secrets: [String: String], progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) -> [ReleaseArtifact] {
        guard release.spec.container == nil else {
            throw DriverError(.invalid, "containers on fleet servers are not supported yet; use `run:` for services with `servers:`")
        }
        let artifacts = try await local.prepare(release, secrets: secrets, progress: progress)
        do {
            let copied = try await server.ensureArtifacts(artifacts, store: local.artifacts)
            for line in copied { await progress(line) }
        } catch {
            throw DriverError(.unreachable, error.message)
        }
        return artifacts
    }

    public func unavailable(_ release: ReleaseRecord) async -> String? {
        await local.unavailable(release)
    }

    public func start(_ launch: InstanceLaunch, replacing: InstanceRecord?) async throws(DriverError) -> StartedInstance {
        if let why = await server.unreachable { throw DriverError(.unreachable, "server \(server.server.id) is unreachable: \(why)") }
        // A server that did not answer while the release was prepared gets its bytes now.
        if await !server.holds(launch.release.artifacts) {
            do {
                _ = try await server.ensureArtifacts(launch.release.artifacts, store: local.artifacts)
            } catch {
                throw DriverError(.unreachable, error.message)
            }
        }
        // The instance knows which server it runs on (logs, metrics labels).
        var launch = launch
        launch.environment["SLIPWAY_SERVER"] = server.server.id
        let reply: AgentWire.Started
        do {
            reply = try await server.router.call(.POST, "/agent/start", body: AgentWire.Start(launch: launch, replacing: replacing), timeout: .seconds(60), as: AgentWire.Started.self)
        } catch {
            // The call over SSH failed: the server counts unreachable (rollouts pause or
            // go on without it, its instances wait) until the background reconnect reaches it.
            let failure = unreachable(error)
            await server.markUnreachable(failure.message)
            throw failure
        }
        if let error = reply.error { throw error.driverError }
        guard var started = reply.started else { throw DriverError(.failed, "server \(server.server.id) answered the start of \(launch.instanceID) with nothing") }
        started.summary += " on \(server.server.id)"
        return started
    }

    public func observe(_ instances: [InstanceRecord]) async throws(DriverError) -> [String: InstanceObservation] {
        guard !instances.isEmpty else { return [:] }
        if let why = await server.unreachable { throw DriverError(.unreachable, "server \(server.server.id) is unreachable: \(why)") }
        let reply: AgentWire.Observed
        do {
            reply = try await server.router.call(.POST, "/agent/observe", body: AgentWire.Observe(instances: instances), timeout: .seconds(10), as: AgentWire.Observed.self)
        } catch {
            throw unreachable(error)
        }
        if let error = reply.error { throw error.driverError }
        return reply.observations
    }

    public func stop(_ instance: InstanceRecord, grace: Duration) async {
        let milliseconds = grace.components.seconds * 1000 + grace.components.attoseconds / 1_000_000_000_000_000
        _ = try? await server.router.call(.POST, "/agent/stop", body: AgentWire.Stop(instance: instance, graceMilliseconds: milliseconds),
                                          timeout: .seconds(milliseconds / 1000 + 15), as: AgentWire.Done.self)
    }

    public func removeOrphans(live: Set<String>) async throws(DriverError) -> [String] {
        // Processes are found by their records (pid and start time); none is started untracked.
        []
    }

    public func logs(_ instance: InstanceRecord, tail: Int, follow: Bool) -> AsyncThrowingStream<String, any Error> {
        let router = server.router
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await router.lines(.POST, "/agent/logs", body: AgentWire.Logs(instance: instance, tail: tail, follow: follow)) { line in
                        continuation.yield(line)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

extension FleetServer {
    /// Copies every artifact the server's store lacks (`DIR/state/artifacts/sha256/HEX`),
    /// each checked by SHA-256 there before it counts. Returns one line per copy.
    func ensureArtifacts(_ artifacts: [ReleaseArtifact], store: ArtifactStore) async throws(FleetError) -> [String] {
        // Content-addressed: what this control plane copied or found there once is there
        // (a release of the same program costs no round trip).
        let artifacts = artifacts.filter { !heldArtifacts.contains($0.digest) }
        guard artifacts.contains(where: { $0.kind != .image }) else { return [] }
        let dir: String
        if let directory { dir = directory } else { dir = try await facts().directory }
        let root = dir + "/state/artifacts/sha256"
        var lines: [String] = []
        for artifact in artifacts where artifact.kind != .image {
            let hex = String(artifact.digest.dropFirst("sha256:".count))
            let target = root + "/" + hex
            if try await connection.run(["test", "-e", target]).exit == .status(0) { continue }
            try await connection.check(["mkdir", "-p", root])
            let source = store.path(of: artifact.digest)
            if artifact.kind == .directory {
                try await connection.upload(source, to: target + ".part", recursive: true)
            } else {
                try await connection.upload(source, to: target + ".part")
                let sum = try await connection.check(["sha256sum", target + ".part"])
                guard sum.hasPrefix(hex) else {
                    throw FleetError(.failed, server: server.id, "\(artifact.source) arrived damaged on \(server.id) (SHA-256 differs from \(artifact.shortDigest))")
                }
            }
            try await connection.check(["mv", "-f", target + ".part", target])
            lines.append("copied \(artifact.kind.rawValue) \(artifact.source) (\(artifact.shortDigest)) to \(server.id)")
        }
        for artifact in artifacts { heldArtifacts.insert(artifact.digest) }
        touch()
        return lines
    }

    /// Whether the server is known to hold these artifacts (copied or found this session).
    func holds(_ artifacts: [ReleaseArtifact]) -> Bool {
        artifacts.allSatisfy { $0.kind == .image || heldArtifacts.contains($0.digest) }
    }
}

/// Prepares a release for a whole fleet: its bytes are recorded once here and copied to
/// every server at once; one server that cannot take them fails the preparation, naming it.
struct FleetPrepare: InstanceDriver {
    let kind = TargetKind.local
    let fleet: Fleet
    let servers: [String]
    let local: LocalProcessDriver

    func prepare(_ release: ReleaseRecord, secrets: [String: String], progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) -> [ReleaseArtifact] {
        guard release.spec.container == nil else {
            throw DriverError(.invalid, "containers on fleet servers are not supported yet; use `run:` for services with `servers:`")
        }
        let artifacts = try await local.prepare(release, secrets: secrets, progress: progress)
        let results = await fleet.each(servers) { server -> Result<[String], FleetError> in
            do throws(FleetError) { return .success(try await server.ensureArtifacts(artifacts, store: local.artifacts)) } catch { return .failure(error) }
        }
        var failures: [String] = []
        var away: [String] = []
        for (id, result) in results {
            switch result {
            case .success(let lines):
                for line in lines { await progress(line) }
            case .failure(let error) where error.code == .unreachable:
                // Not fatal: the rollout pauses for the server when its wave comes (or
                // leaves it out under max_failed_hosts); it gets the bytes before its
                // instances start.
                away.append(error.message)
                await fleet.server(id)?.markUnreachable(error.message)
                await progress("server \(id) does not answer; it gets the release's bytes before its instances start: \(error.message)")
            case .failure(let error):
                failures.append(error.message)
            }
        }
        if !failures.isEmpty { throw DriverError(.failed, failures.joined(separator: "; ")) }
        if away.count == results.count, !away.isEmpty { throw DriverError(.unreachable, away.joined(separator: "; ")) }
        return artifacts
    }

    func unavailable(_ release: ReleaseRecord) async -> String? { await local.unavailable(release) }
    func start(_ launch: InstanceLaunch, replacing: InstanceRecord?) async throws(DriverError) -> StartedInstance {
        throw DriverError(.invalid, "a fleet release starts on one server at a time")
    }
    func observe(_ instances: [InstanceRecord]) async throws(DriverError) -> [String: InstanceObservation] { [:] }
    func stop(_ instance: InstanceRecord, grace: Duration) async {}
    func removeOrphans(live: Set<String>) async throws(DriverError) -> [String] { [] }
    func logs(_ instance: InstanceRecord, tail: Int, follow: Bool) -> AsyncThrowingStream<String, any Error> { AsyncThrowingStream { $0.finish() } }
}
