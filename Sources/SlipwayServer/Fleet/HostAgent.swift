import Foundation
import Hummingbird
import Logging
import NIOCore
import SlipwayCore
import SlipwayTargets

/// The instance side of a fleet server's data plane (`slipway router --agent`): the control
/// plane asks it, through the router's admin socket forwarded over SSH, to start, observe,
/// stop and read the instances of that server. It runs the same drivers the control plane
/// runs on its own machine; it decides nothing (when to start, restart or stop stays the
/// control plane's call), so losing the control plane changes nothing on the server.
///
/// Paths in requests are the control plane's; the agent puts instance logs, working
/// directories and artifacts under its own state directory instead.
public struct HostAgent: Sendable {
    let stateDirectory: StateDirectory
    let local: LocalProcessDriver

    public init(stateDirectory: StateDirectory) {
        self.stateDirectory = stateDirectory
        self.local = LocalProcessDriver(artifacts: ArtifactStore(root: stateDirectory.artifactsDirectory), searchDirectories: [],
                                        path: ProcessInfo.processInfo.environment["PATH"])
    }

    /// The launch as it runs here: log file and (when the control plane's does not exist
    /// here) working directory under this server's state directory.
    func localized(_ launch: InstanceLaunch) -> InstanceLaunch {
        var launch = launch
        launch.logPath = stateDirectory.logsDirectory + "/instances/\(launch.service)/\(launch.instanceID).log"
        if let dir = launch.workingDirectory, !FileManager.default.fileExists(atPath: dir) {
            let work = stateDirectory.path + "/work/\(launch.service)"
            try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            launch.workingDirectory = work
        }
        return launch
    }

    func localized(_ instance: InstanceRecord) -> InstanceRecord {
        var instance = instance
        instance.logPath = stateDirectory.logsDirectory + "/instances/\(instance.service)/\(instance.id).log"
        return instance
    }

    func driver(_ kind: TargetKind, _ engine: AgentWire.Engine?) throws(DriverError) -> any InstanceDriver {
        switch kind {
        case .local: return local
        case .container: return try container(engine)
        }
    }

    /// The server's container engine: the server's `docker_host`, else this process's
    /// `DOCKER_HOST`, else the default socket. Containers carry the control plane's owner
    /// label, so that control plane's orphan sweep on this server finds exactly its own.
    func container(_ engine: AgentWire.Engine?) throws(DriverError) -> ContainerDriver {
        guard let engine else { throw DriverError(.invalid, "the control plane named no container engine for this server (it is older than this router: run `slipway servers setup`)") }
        let endpoint: EngineEndpoint
        if let host = engine.dockerHost {
            endpoint = try EngineEndpoint.parse(host, source: "docker_host")
        } else {
            endpoint = try EngineEndpoint.resolve(flag: nil, environment: ProcessInfo.processInfo.environment)
        }
        return ContainerDriver(engine: EngineClient(endpoint: endpoint), owner: engine.owner)
    }

    /// Where the control plane copies an image archive for this server's engine to load.
    func imageArchive(_ digest: String) -> String {
        stateDirectory.artifactsDirectory + "/images/" + digest.dropFirst("sha256:".count) + ".tar"
    }

    /// Makes the server's engine hold the release's image: there already, else loaded from
    /// the archive the control plane copied, else pulled by its registry digest.
    func ensureImage(_ body: AgentWire.Image) async throws(DriverError) -> AgentWire.ImageReply {
        let driver = try container(body.engine)
        let id = body.artifact.digest
        if try await driver.hasImage(id) { return AgentWire.ImageReply(present: true, how: nil, error: nil) }
        if body.load {
            let archive = imageArchive(id)
            try await driver.loadImage(id, from: archive)
            try? FileManager.default.removeItem(atPath: archive)
            return AgentWire.ImageReply(present: true, how: "loaded", error: nil)
        }
        if let reference = body.pull {
            do {
                try await driver.pullImage(reference, id: id, login: body.login) { _ in }
                return AgentWire.ImageReply(present: true, how: "pulled \(reference)", error: nil)
            } catch {
                // Not fatal: the control plane copies the image instead.
                return AgentWire.ImageReply(present: false, how: "pulling \(reference) failed: \(error.message)", error: nil)
            }
        }
        return AgentWire.ImageReply(present: false, how: nil, error: nil)
    }

    /// Adds `/agent/…` to the router's admin API.
    func register(on router: Hummingbird.Router<BasicRequestContext>) {
        router.post("/agent/start") { request, context -> AgentWire.Started in
            let body = try await request.decode(as: AgentWire.Start.self, context: context)
            do {
                let launch = localized(body.launch)
                let started = try await driver(launch.release.spec.target, body.engine).start(launch, replacing: body.replacing.map(localized))
                return AgentWire.Started(started: started, error: nil)
            } catch {
                return AgentWire.Started(started: nil, error: AgentWire.Failure(error))
            }
        }
        router.post("/agent/observe") { request, context -> AgentWire.Observed in
            let body = try await request.decode(as: AgentWire.Observe.self, context: context)
            var result: [String: InstanceObservation] = [:]
            do {
                for kind in Set(body.instances.map(\.target)) {
                    let seen = try await driver(kind, body.engine).observe(body.instances.filter { $0.target == kind }.map(localized))
                    result.merge(seen) { a, _ in a }
                }
                return AgentWire.Observed(observations: result, error: nil)
            } catch {
                return AgentWire.Observed(observations: [:], error: AgentWire.Failure(error))
            }
        }
        router.post("/agent/stop") { request, context -> AgentWire.Done in
            let body = try await request.decode(as: AgentWire.Stop.self, context: context)
            guard let driver = try? driver(body.instance.target, body.engine) else { return AgentWire.Done() }
            await driver.stop(localized(body.instance), grace: .milliseconds(body.graceMilliseconds))
            return AgentWire.Done()
        }
        router.post("/agent/image") { request, context -> AgentWire.ImageReply in
            let body = try await request.decode(as: AgentWire.Image.self, context: context)
            do {
                return try await ensureImage(body)
            } catch {
                return AgentWire.ImageReply(present: false, how: nil, error: AgentWire.Failure(error))
            }
        }
        router.post("/agent/orphans") { request, context -> AgentWire.Orphans in
            let body = try await request.decode(as: AgentWire.RemoveOrphans.self, context: context)
            do {
                let removed = try await container(body.engine).removeOrphans(live: Set(body.live))
                return AgentWire.Orphans(removed: removed, error: nil)
            } catch {
                return AgentWire.Orphans(removed: [], error: AgentWire.Failure(error))
            }
        }
        router.post("/agent/logs") { request, context -> Response in
            let body = try await request.decode(as: AgentWire.Logs.self, context: context)
            let instance = localized(body.instance)
            let lines = (try? driver(instance.target, body.engine))?.logs(instance, tail: body.tail, follow: body.follow)
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody { writer in
                if let lines {
                    do {
                        for try await line in lines { try await writer.write(ByteBuffer(string: line + "\n")) }
                    } catch {}
                }
                try await writer.finish(nil)
            })
        }
    }
}

/// The agent's request and reply bodies.
public enum AgentWire {
    /// The container engine a request is about: the server's socket (nil: the server's
    /// default) and the control plane's owner label.
    public struct Engine: Codable, Sendable, Equatable {
        public var owner: String
        public var dockerHost: String?
    }

    public struct Start: Codable, Sendable {
        public var launch: InstanceLaunch
        public var replacing: InstanceRecord?
        public var engine: Engine?
    }

    /// Make the server's engine hold `artifact` (an image): `load` the archive copied to the
    /// server's artifact store, or `pull` it by this registry digest.
    public struct Image: Codable, Sendable {
        public var engine: Engine?
        public var artifact: ReleaseArtifact
        public var load: Bool
        public var pull: String?
        public var login: ImagePull.Login?
    }

    public struct ImageReply: Codable, Sendable, ResponseEncodable {
        public var present: Bool
        /// How it got there (`loaded`, `pulled REF`) or why a pull failed.
        public var how: String?
        public var error: Failure?
    }

    public struct RemoveOrphans: Codable, Sendable {
        public var engine: Engine?
        public var live: [String]
    }

    public struct Orphans: Codable, Sendable, ResponseEncodable {
        public var removed: [String]
        public var error: Failure?
    }

    public struct Started: Codable, Sendable, ResponseEncodable {
        public var started: StartedInstance?
        public var error: Failure?
    }

    public struct Observe: Codable, Sendable {
        public var instances: [InstanceRecord]
        public var engine: Engine?
    }

    public struct Observed: Codable, Sendable, ResponseEncodable {
        public var observations: [String: InstanceObservation]
        public var error: Failure?
    }

    public struct Stop: Codable, Sendable {
        public var instance: InstanceRecord
        public var graceMilliseconds: Int64
        public var engine: Engine?
    }

    public struct Logs: Codable, Sendable {
        public var instance: InstanceRecord
        public var tail: Int
        public var follow: Bool
        public var engine: Engine?
    }

    public struct Done: Codable, Sendable, ResponseEncodable {}

    /// A driver error across the wire.
    public struct Failure: Codable, Sendable {
        public var code: String
        public var message: String

        init(_ error: any Error) {
            if let error = error as? DriverError {
                code = "\(error.code)"
                message = error.message
            } else {
                code = "failed"
                message = "\(error)"
            }
        }

        public var driverError: DriverError {
            let codes: [String: DriverError.Code] = ["unreachable": .unreachable, "notFound": .notFound, "denied": .denied, "artifactGone": .artifactGone, "invalid": .invalid]
            return DriverError(codes[code] ?? .failed, message)
        }
    }
}
