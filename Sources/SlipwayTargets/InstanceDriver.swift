import SlipwayCore

/// The seam between the controller and where instances run. The controller asks a driver
/// to prepare a release's artifacts, start, observe, stop and read instances; it never
/// calls a concrete driver, and the rollout machines never see one. A driver never
/// decides anything: when to start, restart or stop is the controller's call.
///
/// Drivers: `LocalProcessDriver` (processes in their own session) and `ContainerDriver`
/// (Docker Engine API: Docker, Podman). Another target (a server over SSH, Kubernetes)
/// is another conformance; nothing here assumes processes or containers.
public protocol InstanceDriver: Sendable {
    var kind: TargetKind { get }

    /// Makes the release's exact bytes ready to run and returns what they are. A new
    /// release (no artifacts yet) resolves them (hashes the executable and keeps a copy;
    /// resolves the image reference to its digest, pulling it as `pull:` says). A release
    /// that has them is checked: its bytes must still be there (or be fetchable by digest),
    /// otherwise it is refused rather than run new code under an old label.
    /// `progress` receives lines worth showing (pull progress).
    func prepare(_ release: ReleaseRecord, secrets: [String: String], progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) -> [ReleaseArtifact]

    /// Why the release's recorded bytes could not run now (gone from the artifact store, an
    /// image no longer on the engine that cannot be pulled again by digest), or nil when
    /// they can. Quick: nothing is hashed or pulled. A release that records no artifacts
    /// (made before they were recorded) is never refused here.
    func unavailable(_ release: ReleaseRecord) async -> String?

    /// Starts one instance. `replacing` is the same instance's earlier record when it is
    /// restarted after a crash (a driver may reuse what is left of it).
    func start(_ launch: InstanceLaunch, replacing: InstanceRecord?) async throws(DriverError) -> StartedInstance

    /// Whether each of these instances is still running, by instance id. An instance the
    /// driver cannot find is reported exited. Throws when the target cannot be asked at
    /// all (the engine is down): nothing is concluded then.
    func observe(_ instances: [InstanceRecord]) async throws(DriverError) -> [String: InstanceObservation]

    /// Stops the instance (SIGTERM, SIGKILL after `grace`) and releases what it held.
    /// Returns when it is gone.
    func stop(_ instance: InstanceRecord, grace: Duration) async

    /// Removes what this control plane started earlier and no instance record claims any
    /// more (`live`: ids of the instances that are running, crashed or stopping).
    /// Returns one line per removal. Another tool's instances are never touched.
    func removeOrphans(live: Set<String>) async throws(DriverError) -> [String]

    /// The instance's output: the last `tail` lines, then, with `follow`, new lines as
    /// they come, until the task is cancelled.
    func logs(_ instance: InstanceRecord, tail: Int, follow: Bool) -> AsyncThrowingStream<String, any Error>
}

/// A started instance: how to find it again and where the router reaches it.
public struct StartedInstance: Sendable, Equatable, Codable {
    public var pid: Int32 = 0
    public var pidStartTime: UInt64 = 0
    public var containerID: String?
    public var host: String
    public var port: Int
    /// Shown in the `instance_started` event (`pid 123`, `container 0123abcd`).
    public var summary: String

    public init(pid: Int32 = 0, pidStartTime: UInt64 = 0, containerID: String? = nil, host: String, port: Int, summary: String) {
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.containerID = containerID
        self.host = host
        self.port = port
        self.summary = summary
    }
}

public enum InstanceObservation: Sendable, Equatable, Codable {
    case running
    /// Exited; the text says how (`exit status 3`, `killed by signal 9`,
    /// `exit status 137, killed by the kernel's OOM killer (memory limit 64 MiB)`).
    case exited(String)
}

/// What a driver could not do, in words that name the input at fault.
public struct DriverError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        /// The target cannot be reached (engine socket missing, connection refused).
        case unreachable
        /// The image or artifact does not exist where it was looked for.
        case notFound
        /// The registry refused the pull (credentials, permissions).
        case denied
        /// The release's recorded bytes are gone and cannot be fetched again.
        case artifactGone
        /// The config asks for something the target refuses (a port it cannot publish, a bad volume).
        case invalid
        /// Anything else the target reported.
        case failed
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
