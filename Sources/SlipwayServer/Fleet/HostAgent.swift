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

    func driver(_ kind: TargetKind) throws(DriverError) -> any InstanceDriver {
        switch kind {
        case .local: return local
        case .container: throw DriverError(.invalid, "containers on fleet servers are not supported yet; use `run:` for services with `servers:`")
        }
    }

    /// Adds `/agent/…` to the router's admin API.
    func register(on router: Hummingbird.Router<BasicRequestContext>) {
        router.post("/agent/start") { request, context -> AgentWire.Started in
            let body = try await request.decode(as: AgentWire.Start.self, context: context)
            do {
                let launch = localized(body.launch)
                let started = try await driver(launch.release.spec.target).start(launch, replacing: body.replacing.map(localized))
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
                    let seen = try await driver(kind).observe(body.instances.filter { $0.target == kind }.map(localized))
                    result.merge(seen) { a, _ in a }
                }
                return AgentWire.Observed(observations: result, error: nil)
            } catch {
                return AgentWire.Observed(observations: [:], error: AgentWire.Failure(error))
            }
        }
        router.post("/agent/stop") { request, context -> AgentWire.Done in
            let body = try await request.decode(as: AgentWire.Stop.self, context: context)
            guard let driver = try? driver(body.instance.target) else { return AgentWire.Done() }
            await driver.stop(localized(body.instance), grace: .milliseconds(body.graceMilliseconds))
            return AgentWire.Done()
        }
        router.post("/agent/logs") { request, context -> Response in
            let body = try await request.decode(as: AgentWire.Logs.self, context: context)
            let instance = localized(body.instance)
            let lines = (try? driver(instance.target))?.logs(instance, tail: body.tail, follow: body.follow)
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
    public struct Start: Codable, Sendable {
        public var launch: InstanceLaunch
        public var replacing: InstanceRecord?
    }

    public struct Started: Codable, Sendable, ResponseEncodable {
        public var started: StartedInstance?
        public var error: Failure?
    }

    public struct Observe: Codable, Sendable {
        public var instances: [InstanceRecord]
    }

    public struct Observed: Codable, Sendable, ResponseEncodable {
        public var observations: [String: InstanceObservation]
        public var error: Failure?
    }

    public struct Stop: Codable, Sendable {
        public var instance: InstanceRecord
        public var graceMilliseconds: Int64
    }

    public struct Logs: Codable, Sendable {
        public var instance: InstanceRecord
        public var tail: Int
        public var follow: Bool
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
