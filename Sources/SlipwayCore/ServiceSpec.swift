/// The validated form of one `slipway.yml`: everything Slipway needs to run a service.
/// Durations are Swift `Duration`s; they encode to JSON as text (`"10s"`).
public struct ServiceSpec: Codable, Sendable, Equatable {
    /// The deployment unit's name: the service name (lowercase letters, digits and `-`,
    /// starting with a letter), or `SERVICE@ENVIRONMENT` for one environment of a service
    /// with `environments:` (each environment is deployed on its own).
    public var name: String
    /// The argv of one instance. `{{port}}` and `{{version}}` are substituted at start.
    /// Empty for a container service (`container`).
    public var run: [String]
    /// `image:` and its settings: the instances are containers (nil: local processes).
    public var container: ContainerSpec?
    /// `artifact:` — a file or directory (absolute after loading) whose exact bytes each
    /// release records and keeps, beside the executable `run[0]` names.
    public var artifact: String?
    /// `servers:` — the fleet the service runs on, each server with its own router and
    /// instances, driven over SSH. Empty: this machine (the control plane's own router).
    public var servers: [ServerSpec] = []
    /// `replicas_per_host`: instances of a release on each server of `servers` (nil: `replicas`).
    public var replicasPerHost: Int?
    /// `waves:` — a blue-green rollout on `servers:` switches them a wave at a time (nil:
    /// all at once, one wave).
    public var waves: WavesSpec?
    /// `max_failed_hosts:` — servers a fleet rollout may leave out (unreachable, or not
    /// healthy in time) and go on; beyond it the rollout pauses (unreachable) or fails.
    public var maxFailedHosts: Int = 0
    /// `websocket_drain:` — how long upgraded connections (WebSocket…) stay on an instance
    /// once its release no longer takes new traffic (a switch, a canary's end, a rollback);
    /// then the router closes them, and clients reconnect to the serving release.
    public var websocketDrain: Duration = Defaults.websocketDrain
    /// `upstream:` — the protocol instances speak: HTTP/1.1 (default) or HTTP/2 cleartext
    /// (`h2c`, gRPC services), to which the router forwards each request as a stream.
    public var upstream: UpstreamProtocol = .http1
    /// `max_request_body:` — the largest request body the router forwards (bytes); a larger
    /// one is answered 413 (nil: no limit).
    public var maxRequestBody: Int64?
    /// `trace_requests:` — the share of requests (without a sampled `traceparent`) the
    /// router traces (nil: none).
    public var traceRequests: Double?
    /// Extra environment variables for every instance.
    public var env: [String: String]
    /// Working directory of instances; relative `run[0]` paths resolve against it.
    /// The config loader sets it to the config file's directory when the file names none.
    public var workingDirectory: String?
    public var health: HealthSpec
    /// The router's public address for this service.
    public var listen: ListenAddress
    /// Host names routed to this service when several services share one `listen` port.
    /// Empty: the service answers every Host on its port.
    public var hosts: [String]
    public var replicas: Int
    public var strategy: StrategySpec
    /// How long the router waits for an upstream response head.
    public var upstreamTimeout: Duration
    /// Named analyses (`analysis:`), referred to by canary steps and `strategy.canary.analysis`.
    public var analysis: [String: AnalysisPolicy]
    /// Who may reach a named version with a request header (testers, previews).
    public var pin: PinRule
    /// The router terminates TLS on `listen` with these files (nil: plain HTTP).
    public var tls: TLSSpec?
    /// Security headers added to every response (nil: none).
    public var headers: SecurityHeaders?
    /// Per-client-address request rate limit (nil: unlimited).
    public var rateLimit: RateLimitSpec?
    /// Path prefixes kept to allowed client networks.
    public var restrict: [PathRestriction]
    /// The environment this unit is (nil: a service without `environments:`).
    public var environment: EnvironmentPolicy?
    /// Where events of this unit are sent (`notifications:`).
    public var notifications: [NotificationSink] = []
    /// Rules on live numbers that fire and resolve (`alerts:`).
    public var alerts: [AlertRule] = []
    /// Commands run at fixed points of a rollout (`hooks:`).
    public var hooks = HooksSpec()
    /// The database backed up before each deploy's `pre_deploy` (`backup:`).
    public var backup: DatabaseBackupSpec?
    /// Checks at fixed offsets after a deploy succeeded (`verify:`).
    public var verify: VerifySpec?

    /// The service name without the environment.
    public var serviceName: String { UnitName.split(name).service }
    /// Where the instances run.
    public var target: TargetKind { container == nil ? .local : .container }

    /// Instances of a release on each server: `replicas_per_host`, else `replicas`.
    public var instancesPerServer: Int { replicasPerHost ?? replicas }

    /// Instances of a release in all: `replicas`, or on a fleet one set per server.
    public var totalReplicas: Int { servers.isEmpty ? replicas : servers.count * instancesPerServer }
    public var environmentName: String? { environment?.name }

    public init(
        name: String,
        run: [String],
        env: [String: String] = [:],
        workingDirectory: String? = nil,
        health: HealthSpec = HealthSpec(),
        listen: ListenAddress = Defaults.listen,
        hosts: [String] = [],
        replicas: Int = Defaults.replicas,
        strategy: StrategySpec = .blueGreen(BlueGreenSpec()),
        upstreamTimeout: Duration = Defaults.upstreamTimeout,
        analysis: [String: AnalysisPolicy] = [:],
        pin: PinRule = PinRule(),
        tls: TLSSpec? = nil,
        headers: SecurityHeaders? = nil,
        rateLimit: RateLimitSpec? = nil,
        restrict: [PathRestriction] = [],
        environment: EnvironmentPolicy? = nil
    ) {
        self.name = name
        self.run = run
        self.env = env
        self.workingDirectory = workingDirectory
        self.health = health
        self.listen = listen
        self.hosts = hosts
        self.replicas = replicas
        self.strategy = strategy
        self.upstreamTimeout = upstreamTimeout
        self.analysis = analysis
        self.pin = pin
        self.tls = tls
        self.headers = headers
        self.rateLimit = rateLimit
        self.restrict = restrict
        self.environment = environment
    }

    enum CodingKeys: String, CodingKey {
        case name, run, env, workingDirectory, health, listen, hosts, replicas, strategy, upstreamTimeout, analysis, pin
        case tls, headers, rateLimit, restrict, environment, notifications, alerts, hooks, backup, verify
        case container, artifact, servers, replicasPerHost, waves, maxFailedHosts, websocketDrain, upstream, maxRequestBody, traceRequests
    }

    /// The policy a canary's background analysis runs: the strategy's `analysis`, else the
    /// service's `default` analysis, else the built-in default.
    public func analysisPolicy(named name: String?) -> AnalysisPolicy {
        if let name, let policy = analysis[name] { return policy }
        return analysis["default"] ?? .default
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        run = try c.decodeIfPresent([String].self, forKey: .run) ?? []
        container = try c.decodeIfPresent(ContainerSpec.self, forKey: .container)
        artifact = try c.decodeIfPresent(String.self, forKey: .artifact)
        servers = try c.decodeIfPresent([ServerSpec].self, forKey: .servers) ?? []
        replicasPerHost = try c.decodeIfPresent(Int.self, forKey: .replicasPerHost)
        waves = try c.decodeIfPresent(WavesSpec.self, forKey: .waves)
        maxFailedHosts = try c.decodeIfPresent(Int.self, forKey: .maxFailedHosts) ?? 0
        websocketDrain = try c.decodeIfPresent(TextDuration.self, forKey: .websocketDrain)?.value ?? Defaults.websocketDrain
        upstream = try c.decodeIfPresent(UpstreamProtocol.self, forKey: .upstream) ?? .http1
        maxRequestBody = try c.decodeIfPresent(Int64.self, forKey: .maxRequestBody)
        traceRequests = try c.decodeIfPresent(Double.self, forKey: .traceRequests)
        env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        workingDirectory = try c.decodeIfPresent(String.self, forKey: .workingDirectory)
        health = try c.decodeIfPresent(HealthSpec.self, forKey: .health) ?? HealthSpec()
        listen = try c.decodeIfPresent(ListenAddress.self, forKey: .listen) ?? Defaults.listen
        hosts = try c.decodeIfPresent([String].self, forKey: .hosts) ?? []
        replicas = try c.decodeIfPresent(Int.self, forKey: .replicas) ?? Defaults.replicas
        strategy = try c.decodeIfPresent(StrategySpec.self, forKey: .strategy) ?? .blueGreen(BlueGreenSpec())
        upstreamTimeout = try c.decodeIfPresent(TextDuration.self, forKey: .upstreamTimeout)?.value ?? Defaults.upstreamTimeout
        analysis = try c.decodeIfPresent([String: AnalysisPolicy].self, forKey: .analysis) ?? [:]
        pin = try c.decodeIfPresent(PinRule.self, forKey: .pin) ?? PinRule()
        tls = try c.decodeIfPresent(TLSSpec.self, forKey: .tls)
        headers = try c.decodeIfPresent(SecurityHeaders.self, forKey: .headers)
        rateLimit = try c.decodeIfPresent(RateLimitSpec.self, forKey: .rateLimit)
        restrict = try c.decodeIfPresent([PathRestriction].self, forKey: .restrict) ?? []
        environment = try c.decodeIfPresent(EnvironmentPolicy.self, forKey: .environment)
        notifications = try c.decodeIfPresent([NotificationSink].self, forKey: .notifications) ?? []
        alerts = try c.decodeIfPresent([AlertRule].self, forKey: .alerts) ?? []
        hooks = try c.decodeIfPresent(HooksSpec.self, forKey: .hooks) ?? HooksSpec()
        backup = try c.decodeIfPresent(DatabaseBackupSpec.self, forKey: .backup)
        verify = try c.decodeIfPresent(VerifySpec.self, forKey: .verify)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(run, forKey: .run)
        try c.encodeIfPresent(container, forKey: .container)
        try c.encodeIfPresent(artifact, forKey: .artifact)
        if !servers.isEmpty { try c.encode(servers, forKey: .servers) }
        try c.encodeIfPresent(replicasPerHost, forKey: .replicasPerHost)
        try c.encodeIfPresent(waves, forKey: .waves)
        if maxFailedHosts != 0 { try c.encode(maxFailedHosts, forKey: .maxFailedHosts) }
        if websocketDrain != Defaults.websocketDrain { try c.encode(TextDuration(websocketDrain), forKey: .websocketDrain) }
        if upstream != .http1 { try c.encode(upstream, forKey: .upstream) }
        try c.encodeIfPresent(maxRequestBody, forKey: .maxRequestBody)
        try c.encodeIfPresent(traceRequests, forKey: .traceRequests)
        try c.encode(env, forKey: .env)
        try c.encodeIfPresent(workingDirectory, forKey: .workingDirectory)
        try c.encode(health, forKey: .health)
        try c.encode(listen, forKey: .listen)
        try c.encode(hosts, forKey: .hosts)
        try c.encode(replicas, forKey: .replicas)
        try c.encode(strategy, forKey: .strategy)
        try c.encode(TextDuration(upstreamTimeout), forKey: .upstreamTimeout)
        try c.encode(analysis, forKey: .analysis)
        try c.encode(pin, forKey: .pin)
        try c.encodeIfPresent(tls, forKey: .tls)
        try c.encodeIfPresent(headers, forKey: .headers)
        try c.encodeIfPresent(rateLimit, forKey: .rateLimit)
        if !restrict.isEmpty { try c.encode(restrict, forKey: .restrict) }
        try c.encodeIfPresent(environment, forKey: .environment)
        if !notifications.isEmpty { try c.encode(notifications, forKey: .notifications) }
        if !alerts.isEmpty { try c.encode(alerts, forKey: .alerts) }
        if !hooks.isEmpty { try c.encode(hooks, forKey: .hooks) }
        try c.encodeIfPresent(backup, forKey: .backup)
        try c.encodeIfPresent(verify, forKey: .verify)
    }
}

/// Active HTTP health checks of each instance.
public struct HealthSpec: Codable, Sendable, Equatable {
    public var path: String
    public var interval: Duration
    public var timeout: Duration
    /// Consecutive passing checks before an instance counts as healthy.
    public var healthy: Int
    /// Consecutive failing checks before a healthy instance counts as unhealthy.
    public var unhealthy: Int
    /// After start, failures during this period do not count toward `unhealthy`.
    public var grace: Duration
    /// What a check asks: `GET path` (http), or the standard gRPC health service
    /// (`grpc.health.v1.Health/Check` for `grpcService`) on an `upstream: h2c` service.
    public var kind: HealthKind = .http
    /// The service name a gRPC check asks about ("" is the server as a whole).
    public var grpcService: String = ""
    /// Passive health: this many connection failures or 5xx answers in a row take an
    /// instance out of the router's rotation for `passiveEjection` (then it gets requests
    /// again; the next failure run ejects it again).
    public var passiveFailures: Int = Defaults.passiveFailureRun
    public var passiveEjection: Duration = Defaults.passiveEjectCooldown

    public init(
        path: String = Defaults.healthPath,
        interval: Duration = Defaults.healthInterval,
        timeout: Duration = Defaults.healthTimeout,
        healthy: Int = Defaults.healthyThreshold,
        unhealthy: Int = Defaults.unhealthyThreshold,
        grace: Duration = Defaults.healthGrace
    ) {
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.healthy = healthy
        self.unhealthy = unhealthy
        self.grace = grace
    }

    enum CodingKeys: String, CodingKey { case path, interval, timeout, healthy, unhealthy, grace, kind, grpcService, passiveFailures, passiveEjection }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HealthSpec()
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? d.path
        interval = try c.decodeIfPresent(TextDuration.self, forKey: .interval)?.value ?? d.interval
        timeout = try c.decodeIfPresent(TextDuration.self, forKey: .timeout)?.value ?? d.timeout
        healthy = try c.decodeIfPresent(Int.self, forKey: .healthy) ?? d.healthy
        unhealthy = try c.decodeIfPresent(Int.self, forKey: .unhealthy) ?? d.unhealthy
        grace = try c.decodeIfPresent(TextDuration.self, forKey: .grace)?.value ?? d.grace
        kind = try c.decodeIfPresent(HealthKind.self, forKey: .kind) ?? .http
        grpcService = try c.decodeIfPresent(String.self, forKey: .grpcService) ?? ""
        passiveFailures = try c.decodeIfPresent(Int.self, forKey: .passiveFailures) ?? Defaults.passiveFailureRun
        passiveEjection = try c.decodeIfPresent(TextDuration.self, forKey: .passiveEjection)?.value ?? Defaults.passiveEjectCooldown
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(TextDuration(interval), forKey: .interval)
        try c.encode(TextDuration(timeout), forKey: .timeout)
        try c.encode(healthy, forKey: .healthy)
        try c.encode(unhealthy, forKey: .unhealthy)
        try c.encode(TextDuration(grace), forKey: .grace)
        if kind != .http { try c.encode(kind, forKey: .kind) }
        if !grpcService.isEmpty { try c.encode(grpcService, forKey: .grpcService) }
        if passiveFailures != Defaults.passiveFailureRun { try c.encode(passiveFailures, forKey: .passiveFailures) }
        if passiveEjection != Defaults.passiveEjectCooldown { try c.encode(TextDuration(passiveEjection), forKey: .passiveEjection) }
    }
}

/// What an instance's health check asks.
public enum HealthKind: String, Codable, Sendable, CaseIterable {
    /// `GET path`; a 2xx or 3xx answer passes.
    case http
    /// `grpc.health.v1.Health/Check`; `SERVING` passes.
    case grpc
}

/// The protocol the router speaks to a service's instances.
public enum UpstreamProtocol: String, Codable, Sendable, CaseIterable {
    /// HTTP/1.1 with keep-alive connections (the default).
    case http1
    /// HTTP/2 over cleartext TCP with prior knowledge, as gRPC servers speak it: one
    /// connection per instance and event loop, each request a stream.
    case h2c
}

/// How a rollout moves traffic.
public enum StrategySpec: Codable, Sendable, Equatable {
    case blueGreen(BlueGreenSpec)
    case canary(CanarySpec)
    case rolling(RollingSpec)

    enum CodingKeys: String, CodingKey { case blueGreen = "blue-green", canary, rolling }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let canary = try c.decodeIfPresent(CanarySpec.self, forKey: .canary) {
            self = .canary(canary)
        } else if let rolling = try c.decodeIfPresent(RollingSpec.self, forKey: .rolling) {
            self = .rolling(rolling)
        } else {
            self = .blueGreen(try c.decodeIfPresent(BlueGreenSpec.self, forKey: .blueGreen) ?? BlueGreenSpec())
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .blueGreen(let spec): try c.encode(spec, forKey: .blueGreen)
        case .canary(let spec): try c.encode(spec, forKey: .canary)
        case .rolling(let spec): try c.encode(spec, forKey: .rolling)
        }
    }

    /// Start, drain and keep-warm timeouts (every strategy has them).
    public var blueGreen: BlueGreenSpec {
        switch self {
        case .blueGreen(let s): s
        case .canary(let s): s.timing
        case .rolling(let s): s.timing
        }
    }

    public var canary: CanarySpec? {
        if case .canary(let s) = self { return s }
        return nil
    }

    public var rolling: RollingSpec? {
        if case .rolling(let s) = self { return s }
        return nil
    }

    public var name: String {
        switch self {
        case .blueGreen: "blue-green"
        case .canary: "canary"
        case .rolling: "rolling"
        }
    }
}

public struct BlueGreenSpec: Codable, Sendable, Equatable {
    /// How long the previous release's instances stay running (warm) after a switch.
    public var keepPrevious: Duration
    /// How long new instances may take to become healthy before the rollout fails.
    public var deployTimeout: Duration
    /// How long old instances may take to finish in-flight requests after a switch.
    public var drainTimeout: Duration
    /// Blue-green only: run this analysis on the new release's preview traffic (requests
    /// pinned to it with the pin header) before the switch; the switch waits for a pass.
    public var previewAnalysis: String?
    /// Blue-green only: after the switch, watch the new release this long; failed analysis
    /// in that time switches back to the still-warm previous release. Zero: no watch.
    public var watch: Duration
    /// The analysis of the watch (default: the service's `default`, else the built-in).
    public var watchAnalysis: String?
    /// Crashes of the new release's instances (restarts counted) that make a crash loop: the
    /// rollout fails before the switch, switches back after it, and — once it succeeded — the
    /// control plane rolls back to the still-warm previous release.
    public var maxRestarts: Int

    public init(
        keepPrevious: Duration = Defaults.keepPrevious,
        deployTimeout: Duration = Defaults.deployTimeout,
        drainTimeout: Duration = Defaults.drainTimeout,
        previewAnalysis: String? = nil,
        watch: Duration = .zero,
        watchAnalysis: String? = nil,
        maxRestarts: Int = Defaults.maxRestarts
    ) {
        self.keepPrevious = keepPrevious
        self.deployTimeout = deployTimeout
        self.drainTimeout = drainTimeout
        self.previewAnalysis = previewAnalysis
        self.watch = watch
        self.watchAnalysis = watchAnalysis
        self.maxRestarts = maxRestarts
    }

    enum CodingKeys: String, CodingKey {
        case keepPrevious = "keep_previous", deployTimeout = "deploy_timeout", drainTimeout = "drain_timeout"
        case previewAnalysis = "preview_analysis", watch, watchAnalysis = "watch_analysis", maxRestarts = "max_restarts"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keepPrevious = try c.decodeIfPresent(TextDuration.self, forKey: .keepPrevious)?.value ?? Defaults.keepPrevious
        deployTimeout = try c.decodeIfPresent(TextDuration.self, forKey: .deployTimeout)?.value ?? Defaults.deployTimeout
        drainTimeout = try c.decodeIfPresent(TextDuration.self, forKey: .drainTimeout)?.value ?? Defaults.drainTimeout
        previewAnalysis = try c.decodeIfPresent(String.self, forKey: .previewAnalysis)
        watch = try c.decodeIfPresent(TextDuration.self, forKey: .watch)?.value ?? .zero
        watchAnalysis = try c.decodeIfPresent(String.self, forKey: .watchAnalysis)
        maxRestarts = try c.decodeIfPresent(Int.self, forKey: .maxRestarts) ?? Defaults.maxRestarts
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(TextDuration(keepPrevious), forKey: .keepPrevious)
        try c.encode(TextDuration(deployTimeout), forKey: .deployTimeout)
        try c.encode(TextDuration(drainTimeout), forKey: .drainTimeout)
        try c.encodeIfPresent(previewAnalysis, forKey: .previewAnalysis)
        try c.encode(TextDuration(watch), forKey: .watch)
        try c.encodeIfPresent(watchAnalysis, forKey: .watchAnalysis)
        try c.encode(maxRestarts, forKey: .maxRestarts)
    }
}

/// A `Duration` that encodes as `"10s"` text and decodes text or a number of seconds.
public struct TextDuration: Codable, Sendable, Equatable {
    public var value: Duration
    public init(_ value: Duration) { self.value = value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let seconds = try? c.decode(Double.self) {
            guard let d = DurationText.fromSeconds(seconds) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a duration: \(seconds) (seconds must be from 0 to 100 years)")
            }
            value = d
            return
        }
        let text = try c.decode(String.self)
        guard let d = DurationText.parse(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a duration: \(text)")
        }
        value = d
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(DurationText.format(value))
    }
}
