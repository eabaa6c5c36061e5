/// Records as the API returns them (JSON) and the store keeps them.

public struct ServiceStatus: Codable, Sendable {
    public var service: String
    public var configVersion: Int
    public var listen: ListenAddress
    public var stableVersion: String?
    public var previousVersion: String?
    /// When the warm previous release will be stopped (seconds since 1970).
    public var previousRetireAt: Double?
    public var activeRollout: RolloutRecord?
    public var instances: [InstanceRecord]
    public var serviceURL: String
    /// Where the instances run (`local` processes, `container`s).
    public var target: TargetKind?
    /// The exact bytes of the releases that matter now (stable, previous, the rollout's
    /// target), by version.
    public var artifacts: [String: [ReleaseArtifact]]?
    /// The certificate the router serves for this service (`tls:`), with its expiry.
    public var certificate: CertificateStatus?
    /// The post-deploy checks (`verify:`) of the latest rollout that has any, earliest first.
    public var verifications: [VerificationRecord]?

    public init(service: String, configVersion: Int, listen: ListenAddress, stableVersion: String?, previousVersion: String?, previousRetireAt: Double?, activeRollout: RolloutRecord?, instances: [InstanceRecord], serviceURL: String) {
        self.service = service
        self.configVersion = configVersion
        self.listen = listen
        self.stableVersion = stableVersion
        self.previousVersion = previousVersion
        self.previousRetireAt = previousRetireAt
        self.activeRollout = activeRollout
        self.instances = instances
        self.serviceURL = serviceURL
    }
}

public struct RolloutRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var service: String
    public var kind: RolloutKind
    public var fromVersion: String?
    public var toVersion: String
    public var phase: RolloutPhase
    public var startedAt: Double
    public var endedAt: Double?
    public var reason: String?
    /// Extra detail for a failure: last health-check error and the instance log tail.
    public var details: String?
    public var events: [RolloutEventRecord]?
    /// Canary rollouts: where they are (weight, step, why paused, last analysis).
    public var canary: CanaryStatus?
    /// Rolling rollouts: the batches so far and the instance counts, in words.
    public var rolling: String?
    /// Fleet rollouts: the waves of servers so far, in words.
    public var waves: String?
    /// The environment of the unit (nil for a service without environments).
    public var environment: String?
    /// Who asked for the rollout (the API principal; nil for the control plane's own).
    public var requestedBy: String?
    /// The gates checked before it started.
    public var gates: [GateResult]?
    /// Environments with approvals: the votes.
    public var approval: ApprovalState?
    /// The exact bytes of the release rolled out to (empty until it first started).
    public var artifacts: [ReleaseArtifact]?
    /// True while the control plane still carries out what the rollout's latest step
    /// implies (pushing route tables to the routers, stopping instances): the phase is
    /// stored first, so a rollout whose phase is final has taken full effect only once
    /// this is gone. Absent otherwise. `deploy --wait` and `rollback` wait for both.
    public var settling: Bool?

    public init(id: Int64, service: String, kind: RolloutKind, fromVersion: String?, toVersion: String, phase: RolloutPhase, startedAt: Double, endedAt: Double? = nil, reason: String? = nil, details: String? = nil, events: [RolloutEventRecord]? = nil) {
        self.id = id
        self.service = service
        self.kind = kind
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.phase = phase
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.reason = reason
        self.details = details
        self.events = events
    }
}

/// A canary rollout's position, as `slipway status` and the API show it.
public struct CanaryStatus: Codable, Sendable, Equatable {
    public var weight: Int
    /// 1-based; `steps + 1` once every step is done (waiting for analysis to promote).
    public var step: Int
    public var steps: Int
    /// `weight 10 %`, `pause 30s`, … or nil after the last step.
    public var stepLabel: String?
    public var pauseReason: String?
    public var lastAnalysis: String?
    public var lastAnalysisOutcome: AnalysisOutcome?

    public init(_ progress: CanaryProgress) {
        weight = progress.weight
        step = progress.stepIndex + 1
        steps = progress.steps.count
        stepLabel = progress.currentStep?.label
        pauseReason = progress.pauseReason
        lastAnalysis = progress.lastBackgroundSummary
        lastAnalysisOutcome = progress.lastBackgroundOutcome
    }
}

public struct RolloutEventRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var rolloutID: Int64?
    public var service: String
    public var time: Double
    public var kind: String
    public var message: String

    public init(id: Int64, rolloutID: Int64?, service: String, time: Double, kind: String, message: String) {
        self.id = id
        self.rolloutID = rolloutID
        self.service = service
        self.time = time
        self.kind = kind
        self.message = message
    }
}

public enum InstanceState: String, Codable, Sendable, CaseIterable {
    case running
    /// Exited unexpectedly; a restart is scheduled.
    case crashed
    case stopping
    case stopped
}

public struct InstanceRecord: Codable, Sendable, Equatable {
    public var id: String
    public var service: String
    public var version: String
    public var port: Int
    public var pid: Int32
    /// The process start time from /proc (clock ticks since boot): tells a re-used pid apart.
    public var pidStartTime: UInt64
    public var state: InstanceState
    public var restarts: Int
    public var startedAt: Double
    public var stoppedAt: Double?
    public var lastExit: String?
    public var restartAt: Double?
    public var logPath: String
    /// Where it runs (a local process or a container).
    public var target: TargetKind = .local
    /// The engine's id of the container (nil for a process, or before it was created).
    public var containerID: String?
    /// The address the router reaches the instance at (with `port`).
    public var host: String = "127.0.0.1"
    /// The fleet server it runs on (`ServerSpec.id`); nil: this machine.
    public var server: String?
    /// Filled in by the API from the router's view.
    public var healthy: Bool?
    public var lastHealthError: String?
    public var inflight: Int?
    /// Upgraded connections (WebSocket…) open to it, from the router's view.
    public var tunnels: Int?

    enum CodingKeys: String, CodingKey {
        case id, service, version, port, pid, pidStartTime, state, restarts, startedAt, stoppedAt, lastExit, restartAt, logPath
        case target, containerID, host, server, healthy, lastHealthError, inflight, tunnels
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        service = try c.decode(String.self, forKey: .service)
        version = try c.decode(String.self, forKey: .version)
        port = try c.decode(Int.self, forKey: .port)
        pid = try c.decode(Int32.self, forKey: .pid)
        pidStartTime = try c.decode(UInt64.self, forKey: .pidStartTime)
        state = try c.decode(InstanceState.self, forKey: .state)
        restarts = try c.decode(Int.self, forKey: .restarts)
        startedAt = try c.decode(Double.self, forKey: .startedAt)
        stoppedAt = try c.decodeIfPresent(Double.self, forKey: .stoppedAt)
        lastExit = try c.decodeIfPresent(String.self, forKey: .lastExit)
        restartAt = try c.decodeIfPresent(Double.self, forKey: .restartAt)
        logPath = try c.decode(String.self, forKey: .logPath)
        target = try c.decodeIfPresent(TargetKind.self, forKey: .target) ?? .local
        containerID = try c.decodeIfPresent(String.self, forKey: .containerID)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
        server = try c.decodeIfPresent(String.self, forKey: .server)
        healthy = try c.decodeIfPresent(Bool.self, forKey: .healthy)
        lastHealthError = try c.decodeIfPresent(String.self, forKey: .lastHealthError)
        inflight = try c.decodeIfPresent(Int.self, forKey: .inflight)
        tunnels = try c.decodeIfPresent(Int.self, forKey: .tunnels)
    }

    public init(id: String, service: String, version: String, port: Int, pid: Int32, pidStartTime: UInt64, state: InstanceState, restarts: Int = 0, startedAt: Double, stoppedAt: Double? = nil, lastExit: String? = nil, restartAt: Double? = nil, logPath: String) {
        self.id = id
        self.service = service
        self.version = version
        self.port = port
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.state = state
        self.restarts = restarts
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
        self.lastExit = lastExit
        self.restartAt = restartAt
        self.logPath = logPath
    }
}

extension InstanceRecord {
    /// `pid 123` or `container 0123456789ab`, for messages.
    public var `where`: String {
        let what = switch target {
        case .local: "pid \(pid)"
        case .container: containerID.map { "container \($0.prefix(12))" } ?? "no container"
        }
        return server.map { "\(what) on \($0)" } ?? what
    }
}

public struct ReleaseRecord: Codable, Sendable, Equatable {
    public var service: String
    public var version: String
    public var configVersion: Int
    public var spec: ServiceSpec
    /// `--set-env K=V` given when the release was first deployed.
    public var extraEnv: [String: String]
    public var createdAt: Double
    /// The exact bytes it runs (image digest, executable and `artifact:` hashes), recorded
    /// when it first starts; empty until then.
    public var artifacts: [ReleaseArtifact]

    public init(service: String, version: String, configVersion: Int, spec: ServiceSpec, extraEnv: [String: String], createdAt: Double, artifacts: [ReleaseArtifact] = []) {
        self.service = service
        self.version = version
        self.configVersion = configVersion
        self.spec = spec
        self.extraEnv = extraEnv
        self.createdAt = createdAt
        self.artifacts = artifacts
    }

    /// The image reference its containers come from (`image:` with `{{version}}` replaced,
    /// or `deploy --image`); nil for local processes.
    public var imageReference: String? { spec.container?.reference(version: version) }
}

/// A TLS certificate file and when its leaf certificate expires (nil with `error` when the
/// file cannot be read as a certificate).
public struct CertificateStatus: Codable, Sendable, Equatable {
    public var path: String
    /// Seconds since 1970.
    public var expiresAt: Double?
    public var error: String?

    public init(path: String, expiresAt: Double?, error: String? = nil) {
        self.path = path
        self.expiresAt = expiresAt
        self.error = error
    }
}
