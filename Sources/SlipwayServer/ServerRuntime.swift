import Foundation
import AsyncHTTPClient
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import ServiceLifecycle
import SlipwayConfig
import SlipwayCore
import SlipwayStore
import SlipwayTargets
import Tracing
#if canImport(Glibc)
import Glibc
#endif

/// `slipway server`: store, data plane, controller loop and API in one ServiceGroup.
/// SIGTERM / SIGINT stop the control plane only: the data plane and the instances keep
/// serving, and the next `slipway server` on the same state directory adopts them.
public enum ServerRuntime {
    public struct Options: Sendable {
        public var stateDirectory: String
        public var api: ListenAddress
        public var configFiles: [String]
        public var initialVersion: String
        public var logger: Logger
        /// PEM certificate chain and key for HTTPS on the API; nil: plain HTTP.
        public var tls: APITLS.Files?
        /// Failed authentications allowed per client address within a window.
        public var authFailures: (limit: Int, window: Duration)
        /// Scheduled backups of the state database: how often, where (default
        /// STATE/backups) and how many to keep.
        public var backupEvery: Duration?
        public var backupDirectory: String?
        public var backupKeep: Int = 24
        /// Where instances get their `PORT` (`--instance-ports`).
        public var instancePorts: ClosedRange<Int> = PortAllocator.defaultRange
        /// Backoff and attempts of notification deliveries.
        public var notificationRetry: RetryPolicy
        /// The container engine's socket (`--docker-host`, `DOCKER_HOST`, the default).
        public var engine = EngineEndpoint(socketPath: Defaults.dockerSocket, source: "the default")
        /// `ssh -F` for fleet servers (`--ssh-config`); nil: the user's ~/.ssh/config.
        public var sshConfig: String?
        /// Where rollout traces go (nil: no tracing).
        public var tracing: TracingOptions?
        /// Events and settled notifications older than this are deleted (`--retention`);
        /// nil keeps them for ever.
        public var retention: Duration? = Defaults.retention

        public init(stateDirectory: String, api: ListenAddress, configFiles: [String], initialVersion: String, logger: Logger,
                    tls: APITLS.Files? = nil, authFailures: (limit: Int, window: Duration) = (20, .seconds(60)), notificationRetry: RetryPolicy = RetryPolicy()) {
            self.notificationRetry = notificationRetry
            self.stateDirectory = stateDirectory
            self.api = api
            self.configFiles = configFiles
            self.initialVersion = initialVersion
            self.logger = logger
            self.tls = tls
            self.authFailures = authFailures
        }
    }

    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func run(_ options: Options) async throws {
        let logger = options.logger
        let state = try StateDirectory(options.stateDirectory)
        if let warning = state.exposure() {
            logger.warning("\(warning)")
            FileHandle.standardError.write(Data(("WARNING: " + warning + "\n").utf8))
        }
        let lock = try lockStateDirectory(state)
        defer { close(lock) }

        // Parse every config first: a bad file stops start-up before anything changes.
        var specs: [(ServiceSpec, String)] = []
        var errors: [ConfigError] = []
        for file in options.configFiles {
            let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
            do {
                specs += try ConfigLoader.loadUnits(file: absolute).map { ($0, absolute) }
            } catch {
                errors += error.errors
            }
        }
        if !errors.isEmpty {
            throw StartupError(description: ConfigErrors(errors: errors).description)
        }

        let tlsConfiguration = try options.tls.map { files in
            do { return try APITLS.configuration(files) } catch { throw StartupError(description: "\(error)") }
        }
        // A wrong master key stops start-up before the database is opened for writing, so
        // it stays byte-for-byte as it was.
        let environment = ProcessInfo.processInfo.environment
        do {
            try Store.preflightMasterKey(databasePath: state.database, environment: environment, keyFile: state.masterKey, pendingFile: state.masterKeyPending)
        } catch {
            throw StartupError(description: "\(error)")
        }
        do {
            try state.makeDatabasePrivate()
        } catch {
            throw StartupError(description: error.description)
        }
        let store = try Store(path: state.database)
        let masterKey: MasterKey
        do {
            masterKey = try store.unlockSecrets(environment: environment, keyFile: state.masterKey, pendingFile: state.masterKeyPending)
        } catch {
            throw StartupError(description: "\(error)")
        }
        store.signAuditHead(with: masterKey)
        let firstToken = try APITokens.bootstrap(store: store, state: state)
        let dataPlane = DataPlane(stateDirectory: state, logger: logger)
        if let ephemeral = PortAllocator.ephemeralRange(), ephemeral.overlaps(options.instancePorts) {
            logger.warning("--instance-ports \(options.instancePorts.lowerBound)-\(options.instancePorts.upperBound) overlaps the kernel's ephemeral port range \(ephemeral.lowerBound)-\(ephemeral.upperBound): an outgoing connection can take an instance's port before it binds it (the instance then restarts on another)")
        }
        let controller = try Controller(store: store, stateDirectory: state, dataPlane: dataPlane, masterKey: masterKey, logger: logger,
                                        instancePorts: PortAllocator(range: options.instancePorts), engine: options.engine, sshConfig: options.sshConfig)
        try await controller.recover()

        // Who started the server: recorded for what it does on the operator's behalf at start.
        let operatorName = LocalOperator.name(acting: "server start")
        for (spec, source) in specs {
            let result = try await controller.apply(spec, source: source)
            if result.changed {
                logger.info("applied config", metadata: ["slipway.service": "\(spec.name)", "slipway.config_version": "\(result.configVersion)"])
                try store.appendAudit(AuditDraft(principal: operatorName, action: "config.apply", target: "service/\(spec.name)",
                                                 details: ["file": source, "config_version": String(result.configVersion), "via": "slipway server --config"]),
                                      time: Date().timeIntervalSince1970)
            }
            // Environments go through their gates, approvals and freezes: nothing is deployed
            // to them on the operator's behalf at start (`slipway deploy --env` does it).
            if spec.environment != nil {
                logger.info("environment waits for its first deploy", metadata: ["slipway.service": "\(spec.name)"])
                continue
            }
            if try store.service(spec.name)?.stableVersion == nil, try store.activeRollout(service: spec.name) == nil {
                let rollout: RolloutRecord
                do {
                    rollout = try await controller.deploy(service: spec.name, version: options.initialVersion, extraEnv: [:])
                } catch let error as ControllerError where error.code == .unavailable {
                    // The container engine is down: the control plane starts anyway (the router
                    // serves what it has); the first release is deployed by hand once it is up.
                    let warning = "the first release \(options.initialVersion) of \(spec.name) was not started: \(error.message); run `slipway deploy \(spec.name) --version \(options.initialVersion)` once it is reachable"
                    logger.warning("\(warning)")
                    FileHandle.standardError.write(Data(("WARNING: " + warning + "\n").utf8))
                    continue
                }
                try store.appendAudit(AuditDraft(principal: operatorName, action: "rollout.deploy", target: "service/\(spec.name)",
                                                 details: ["version": options.initialVersion, "rollout": String(rollout.id), "via": "slipway server (first release)"]),
                                      time: Date().timeIntervalSince1970)
                logger.info("deploying first release", metadata: ["slipway.service": "\(spec.name)", "slipway.rollout": "\(rollout.id)", "slipway.version": "\(options.initialVersion)"])
            }
        }

        let shutdownTrigger = ShutdownTrigger()
        let limiter = AuthFailureLimiter(policy: .init(limit: options.authFailures.limit, window: options.authFailures.window))
        let streams = DashboardStreams()
        let backupLedger = options.backupEvery.map {
            StateBackupLedger(every: $0, directory: options.backupDirectory ?? state.backupsDirectory, keep: options.backupKeep, since: Date().timeIntervalSince1970)
        }
        let routes = APIRoutes.build(controller: controller, limiter: limiter, secureCookies: tlsConfiguration != nil, streams: streams,
                                     apiCertificate: options.tls?.certificate, stateBackups: backupLedger) { _ in shutdownTrigger.fire() }
        let scheme = tlsConfiguration == nil ? "http" : "https"
        if let warning = exposureWarning(api: options.api, tls: tlsConfiguration != nil) {
            logger.warning("\(warning)")
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
        let app = Application(
            router: routes,
            server: try tlsConfiguration.map { try HTTPServerBuilder.tls(.http1(), tlsConfiguration: $0) } ?? HTTPServerBuilder.http1(),
            configuration: .init(address: .hostname(options.api.host, port: options.api.port), serverName: "slipway"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.api.port
                let apiURL = "\(scheme)://\(ListenAddress(host: options.api.host, port: port))"
                var lines = ["slipway \(SlipwayVersion.current) control plane ready", "  API:       \(apiURL)   (export SLIPWAY_SERVER=\(apiURL))",
                             "  dashboard: \(apiURL)/dashboard   (log in with an API token)", "  state dir: \(state.path)"]
                if let firstToken {
                    lines.append("  admin token (shown once; also saved in \(state.adminTokenFile), mode 0600):")
                    lines.append("             \(firstToken)")
                } else {
                    lines.append("  API token: the CLI reads SLIPWAY_TOKEN, `slipway login`'s credentials, or \(state.adminTokenFile)")
                }
                for name in (try? store.serviceNames()) ?? [] {
                    if let s = try? store.service(name) {
                        let host = ["0.0.0.0", "::"].contains(s.spec.listen.host) ? "127.0.0.1" : s.spec.listen.host
                        lines.append("  service \(name): http://\(ListenAddress(host: host, port: s.spec.listen.port))/  (stable: \(s.stableVersion ?? (s.spec.environment == nil ? "deploying…" : "none yet: slipway deploy \(s.spec.serviceName) --env \(s.spec.environmentName ?? "") --version V")))")
                    }
                }
                FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                try? "\(getpid())\n\(apiURL)\n".write(toFile: state.serverPIDFile, atomically: true, encoding: .utf8)
            },
            logger: logger
        )
        let loop = ControllerLoopService(controller: controller)
        // Notifications queued before a crash are still pending: the notifier sends them first.
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.connectionPool.retryConnectionEstablishment = false
        httpConfiguration.redirectConfiguration = .disallow
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        let notifier = NotifierService(controller: controller, options: .init(retry: options.notificationRetry), http: http, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: loop), .init(service: notifier), .init(service: app), .init(service: shutdownTrigger, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let tracing = options.tracing {
            // First in the group, so it shuts down last: it exports what the others ended.
            let backend: (tracer: any Tracer, service: any Service)
            do {
                backend = try tracingBackend(tracing, logger: logger)
            } catch {
                throw StartupError(description: "tracing: \(error)")
            }
            await controller.setTracer(backend.tracer, requestTracesURL: tracing.routerURL, requestTracesHeaders: tracing.headers)
            services.insert(.init(service: backend.service), at: 0)
            logger.info("exporting rollout traces over OTLP/HTTP", metadata: ["slipway.endpoint": "\(tracing.tracesURL ?? "from OTEL_EXPORTER_OTLP_* environment")"])
        }
        if let every = options.backupEvery, let backupLedger {
            let directory = options.backupDirectory ?? state.backupsDirectory
            services.append(.init(service: ScheduledBackupService(store: store, directory: directory, every: every, keep: options.backupKeep,
                                                                  metrics: controller.metrics, ledger: backupLedger, logger: logger)))
        }
        if let retention = options.retention {
            services.append(.init(service: RetentionService(store: store, retention: retention, logger: logger)))
        }
        // The stream closer is last: told first on shutdown, it ends the dashboards'
        // endless answers before the HTTP server waits for its requests to finish.
        services.append(.init(service: DashboardStreamCloser(streams: streams)))
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            try? await http.shutdown()
            throw error
        }
        try? await http.shutdown()
        try? FileManager.default.removeItem(atPath: state.serverPIDFile)
    }

    /// The warning printed when the API is reachable from other machines without TLS.
    static func exposureWarning(api: ListenAddress, tls: Bool) -> String? {
        guard !tls, !api.isLoopback else { return nil }
        return "WARNING: the API listens on \(api) without TLS: API tokens cross the network in clear text. Pass --tls-cert and --tls-key, or listen on 127.0.0.1."
    }

    /// One control plane per state directory: an exclusive lock held for the process's life.
    static func lockStateDirectory(_ state: StateDirectory) throws -> Int32 {
        let path = state.path + "/server.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StartupError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            let other = (try? String(contentsOfFile: state.serverPIDFile, encoding: .utf8))?.split(separator: "\n").first.map { " (pid \($0))" } ?? ""
            throw StartupError(description: "another slipway server\(other) is already using the state directory \(state.path)")
        }
        return fd
    }
}

/// Runs the controller loop as a lifecycle service.
struct ControllerLoopService: Service {
    let controller: Controller
    func run() async throws {
        await cancelWhenGracefulShutdown {
            await controller.run()
        }
    }
}

/// A service that ends (and so shuts the group down) when the API asks for it.
struct ShutdownTrigger: Service {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self)
    }

    func fire() {
        continuation.yield()
        continuation.finish()
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in stream { return }
        }
    }
}
