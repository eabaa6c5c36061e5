import AsyncHTTPClient
import Foundation
import NIOCore
import SlipwayCore
import SlipwayTargets

/// The driver of one fleet server, on the control plane's side: the release's bytes are
/// made ready here (a program hashed and kept, an image pinned by id on this machine's
/// engine, as for this machine) and brought to the server — a program copied to its
/// artifact store (checked by SHA-256 there), an image pulled there by its registry digest
/// or copied as an archive and loaded into the server's engine (checked by image id) — so
/// every server runs exactly the recorded bytes. Instances are started, observed, stopped
/// and read by the server's agent (`HostAgent`) through the router's forwarded admin socket.
public struct ServerDriver: InstanceDriver {
    public let kind = TargetKind.local
    let server: FleetServer
    /// This machine's drivers: they record and keep the release's bytes.
    let drivers: InstanceDrivers
    var local: LocalProcessDriver { drivers.local }
    var container: ContainerDriver { drivers.container }

    public init(server: FleetServer, drivers: InstanceDrivers) {
        self.server = server
        self.drivers = drivers
    }

    /// The server's engine as the agent is told it.
    var engine: AgentWire.Engine { AgentWire.Engine(owner: container.owner, dockerHost: server.server.dockerHost) }

    func unreachable(_ error: any Error) -> DriverError {
        DriverError(.unreachable, "server \(server.server.id): \(error)")
    }

    public func prepare(_ release: ReleaseRecord, secrets: [String: String], progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) -> [ReleaseArtifact] {
        // Recorded on this machine first (its program kept, or its image pinned on this engine).
        let artifacts = try await drivers(release.spec.target).prepare(release, secrets: secrets, progress: progress)
        do {
            let copied = try await server.bring(artifacts, release: release, secrets: secrets, driver: self)
            for line in copied { await progress(line) }
        } catch {
            throw DriverError(.unreachable, error.message)
        }
        return artifacts
    }

    public func unavailable(_ release: ReleaseRecord) async -> String? {
        await drivers(release.spec.target).unavailable(release)
    }

    public func start(_ launch: InstanceLaunch, replacing: InstanceRecord?) async throws(DriverError) -> StartedInstance {
        if let why = await server.unreachable { throw DriverError(.unreachable, "server \(server.server.id) is unreachable: \(why)") }
        // A server that did not answer while the release was prepared gets its bytes now.
        if await !server.holds(launch.release.artifacts) {
            do {
                _ = try await server.bring(launch.release.artifacts, release: launch.release, secrets: [:], driver: self)
            } catch {
                throw DriverError(.unreachable, error.message)
            }
        }
        // The instance knows which server it runs on (logs, metrics labels).
        var launch = launch
        launch.environment["SLIPWAY_SERVER"] = server.server.id
        let reply: AgentWire.Started
        do {
            reply = try await server.router.call(.POST, "/agent/start", body: AgentWire.Start(launch: launch, replacing: replacing, engine: engine), timeout: .seconds(60), as: AgentWire.Started.self)
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
            reply = try await server.router.call(.POST, "/agent/observe", body: AgentWire.Observe(instances: instances, engine: engine), timeout: .seconds(10), as: AgentWire.Observed.self)
        } catch {
            throw unreachable(error)
        }
        if let error = reply.error { throw error.driverError }
        return reply.observations
    }

    public func stop(_ instance: InstanceRecord, grace: Duration) async {
        let milliseconds = grace.components.seconds * 1000 + grace.components.attoseconds / 1_000_000_000_000_000
        let stop = AgentWire.Stop(instance: instance, graceMilliseconds: milliseconds, engine: engine)
        let timeout = TimeAmount.seconds(milliseconds / 1000 + 15)
        do {
            _ = try await server.router.call(.POST, "/agent/stop", body: stop, timeout: timeout, as: AgentWire.Done.self)
        } catch {
            // A stale connection or forward: connect again and ask once more (a stop is
            // idempotent). A server that still does not answer keeps the instance until
            // the control plane's orphan sweep on it.
            _ = try? await server.connect()
            _ = try? await server.router.call(.POST, "/agent/stop", body: stop, timeout: timeout, as: AgentWire.Done.self)
        }
    }

    /// Containers on the server that carry this control plane's owner label and no live
    /// instance's id (created just before the control plane died). Processes are found by
    /// their records (pid and start time); none is started untracked.
    public func removeOrphans(live: Set<String>) async throws(DriverError) -> [String] {
        if let why = await server.unreachable { throw DriverError(.unreachable, "server \(server.server.id) is unreachable: \(why)") }
        let reply: AgentWire.Orphans
        do {
            _ = try await server.connect()
            reply = try await server.router.call(.POST, "/agent/orphans", body: AgentWire.RemoveOrphans(engine: engine, live: live.sorted()),
                                                 timeout: .seconds(120), as: AgentWire.Orphans.self)
        } catch {
            throw unreachable(error)
        }
        if let error = reply.error { throw error.driverError }
        return reply.removed.map { "\($0) on \(server.server.id)" }
    }

    public func logs(_ instance: InstanceRecord, tail: Int, follow: Bool) -> AsyncThrowingStream<String, any Error> {
        let router = server.router
        let engine = self.engine
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await router.lines(.POST, "/agent/logs", body: AgentWire.Logs(instance: instance, tail: tail, follow: follow, engine: engine)) { line in
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
    /// Brings the release's bytes to the server: programs to its artifact store, images to
    /// its engine. Returns one line per copy, load or pull.
    func bring(_ artifacts: [ReleaseArtifact], release: ReleaseRecord, secrets: [String: String], driver: ServerDriver) async throws(FleetError) -> [String] {
        var lines = try await ensureArtifacts(artifacts, store: driver.local.artifacts)
        for artifact in artifacts where artifact.kind == .image && !heldArtifacts.contains(artifact.digest) {
            lines += try await ensureImage(artifact, release: release, secrets: secrets, driver: driver)
        }
        return lines
    }

    /// Makes the server's engine hold the image: there already; else pulled there by its
    /// registry digest (when the release has one and `pull:` allows); else exported from this
    /// machine's engine, copied over SSH and loaded there. The server's engine checks the
    /// image id (the digest of its configuration) before it counts.
    func ensureImage(_ artifact: ReleaseArtifact, release: ReleaseRecord, secrets: [String: String], driver: ServerDriver) async throws(FleetError) -> [String] {
        let spec = release.spec.container
        let pull = spec?.pull == .never ? nil : artifact.repoDigest
        let login: ImagePull.Login? = if let spec, let pull { (try? driver.container.login(spec, reference: pull, values: secrets)) ?? nil } else { nil }
        func ask(load: Bool, pull: String?) async throws(FleetError) -> AgentWire.ImageReply {
            let reply: AgentWire.ImageReply
            do {
                reply = try await router.call(.POST, "/agent/image", body: AgentWire.Image(engine: driver.engine, artifact: artifact, load: load, pull: pull, login: login),
                                              timeout: .seconds(1800), as: AgentWire.ImageReply.self)
            } catch {
                throw FleetError(.unreachable, server: server.id, "server \(server.id): \(error)")
            }
            if let error = reply.error {
                throw FleetError(.failed, server: server.id, "server \(server.id) cannot run image \(artifact.source) (\(artifact.shortDigest)): \(error.message)")
            }
            return reply
        }
        var lines: [String] = []
        let first = try await ask(load: false, pull: pull)
        if first.present {
            heldArtifacts.insert(artifact.digest)
            if let how = first.how { lines.append("\(server.id) \(how) (\(artifact.shortDigest))") }
            touch()
            return lines
        }
        if let how = first.how { lines.append("\(server.id): \(how); copying the image instead") }
        // Exported once per image on this machine (content-addressed), copied to each server.
        let hex = String(artifact.digest.dropFirst("sha256:".count))
        let archive = driver.local.artifacts.root + "/images/" + hex + ".tar"
        if let error = await ImageExports.shared.export(artifact.digest, to: archive, from: driver.container) {
            throw FleetError(.failed, server: server.id, "cannot export image \(artifact.source) (\(artifact.shortDigest)) from this machine's engine for \(server.id): \(error.message)")
        }
        let dir = try await resolvedDirectory()
        let remote = dir + "/state/artifacts/images/" + hex + ".tar"
        try await connection.check(["mkdir", "-p", dir + "/state/artifacts/images"])
        try await connection.upload(archive, to: remote)
        _ = try await ask(load: true, pull: nil)
        heldArtifacts.insert(artifact.digest)
        let size = (try? FileManager.default.attributesOfItem(atPath: archive)[.size] as? Int64) ?? nil
        lines.append("copied image \(artifact.source) (\(artifact.shortDigest)\(size.map { ", \(ByteCount.format($0))" } ?? "")) to \(server.id) and loaded it into its engine")
        touch()
        return lines
    }

    /// Copies every artifact the server's store lacks (`DIR/state/artifacts/sha256/HEX`),
    /// each checked by SHA-256 there before it counts. Returns one line per copy.
    func ensureArtifacts(_ artifacts: [ReleaseArtifact], store: ArtifactStore) async throws(FleetError) -> [String] {
        // Content-addressed: what this control plane copied or found there once is there
        // (a release of the same program costs no round trip).
        let artifacts = artifacts.filter { !heldArtifacts.contains($0.digest) }
        guard artifacts.contains(where: { $0.kind != .image }) else { return [] }
        let dir = try await resolvedDirectory()
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
        for artifact in artifacts where artifact.kind != .image { heldArtifacts.insert(artifact.digest) }
        touch()
        return lines
    }

    /// Whether the server is known to hold these artifacts (copied or found this session).
    func holds(_ artifacts: [ReleaseArtifact]) -> Bool {
        artifacts.allSatisfy { heldArtifacts.contains($0.digest) }
    }
}

/// Prepares a release for a whole fleet: its bytes are recorded once here and brought to
/// every server at once; one server that cannot take them fails the preparation, naming it.
struct FleetPrepare: InstanceDriver {
    let kind = TargetKind.local
    let fleet: Fleet
    let servers: [String]
    let drivers: InstanceDrivers

    func prepare(_ release: ReleaseRecord, secrets: [String: String], progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) -> [ReleaseArtifact] {
        let artifacts = try await drivers(release.spec.target).prepare(release, secrets: secrets, progress: progress)
        let fleet = self.fleet
        let results = await fleet.each(servers) { server -> Result<[String], FleetError> in
            guard let driver = fleet.driver(server.server.id) else { return .success([]) }
            do throws(FleetError) { return .success(try await server.bring(artifacts, release: release, secrets: secrets, driver: driver)) } catch { return .failure(error) }
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

    func unavailable(_ release: ReleaseRecord) async -> String? { await drivers(release.spec.target).unavailable(release) }
    func start(_ launch: InstanceLaunch, replacing: InstanceRecord?) async throws(DriverError) -> StartedInstance {
        throw DriverError(.invalid, "a fleet release starts on one server at a time")
    }
    func observe(_ instances: [InstanceRecord]) async throws(DriverError) -> [String: InstanceObservation] { [:] }
    func stop(_ instance: InstanceRecord, grace: Duration) async {}
    func removeOrphans(live: Set<String>) async throws(DriverError) -> [String] { [] }
    func logs(_ instance: InstanceRecord, tail: Int, follow: Bool) -> AsyncThrowingStream<String, any Error> { AsyncThrowingStream { $0.finish() } }
}

/// Image archives made on this machine for servers: one export per archive however many
/// servers wait for it at once.
actor ImageExports {
    static let shared = ImageExports()
    var running: [String: Task<DriverError?, Never>] = [:]

    /// Exports image `id` to `path` unless it is there; nil when it is, else why not.
    func export(_ id: String, to path: String, from container: ContainerDriver) async -> DriverError? {
        if let task = running[path] { return await task.value }
        if FileManager.default.fileExists(atPath: path) { return nil }
        let task = Task<DriverError?, Never> {
            do throws(DriverError) {
                try await container.exportImage(id, to: path)
                return nil
            } catch {
                return error
            }
        }
        running[path] = task
        let result = await task.value
        running[path] = nil
        return result
    }
}

