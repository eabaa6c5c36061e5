import ArgumentParser
import Foundation
import Logging
import SlipwayCore
import SlipwayServer
import SlipwayTargets

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the control plane (API, controller, store); starts the data plane if it is not running.",
        discussion: """
            With --config, each file is applied at start, and a service that has never been \
            deployed gets its first release (--initial-version). SIGINT/SIGTERM stop the control \
            plane only: the router and the instances keep serving; `slipway down` stops everything.
            """
    )

    @Option(name: .long, help: "Directory for the database, logs and sockets.")
    var stateDir: String = ".slipway"

    @Option(name: .long, help: ArgumentHelp("Address of the API (default \(Defaults.apiAddress)).", valueName: "HOST:PORT"))
    var api: String = Defaults.apiAddress.description

    @Option(name: .long, help: ArgumentHelp("A slipway.yml to apply at start (repeatable).", valueName: "FILE"))
    var config: [String] = []

    @Option(name: .long, help: "Version label of the first release of a service that has none.")
    var initialVersion: String = Defaults.initialVersion

    @Option(name: .long, help: ArgumentHelp("PEM certificate chain: serve the API over HTTPS (with --tls-key).", valueName: "FILE"))
    var tlsCert: String?

    @Option(name: .long, help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "FILE"))
    var tlsKey: String?

    @Option(name: .long, help: ArgumentHelp("Failed authentications allowed per client address before it must wait (default 20/1m).", valueName: "N/DURATION"))
    var authFailures: String = "20/1m"

    @Option(name: .long, help: ArgumentHelp("Back up the state database at start and then every DURATION (e.g. 5m).", valueName: "DURATION"))
    var backupEvery: String?

    @Option(name: .long, help: ArgumentHelp("Where scheduled backups go (default STATE-DIR/backups).", valueName: "DIR"))
    var backupDir: String?

    @Option(name: .long, help: ArgumentHelp("How many scheduled backups to keep (default 24).", valueName: "N"))
    var backupKeep: Int = 24

    @Option(name: .long, help: ArgumentHelp("TCP ports new instances get (their PORT), outside the kernel's ephemeral range (default 20000-29999).", valueName: "LOW-HIGH"))
    var instancePorts: String = "\(PortAllocator.defaultRange.lowerBound)-\(PortAllocator.defaultRange.upperBound)"

    @Option(name: .long, help: ArgumentHelp("The container engine's API socket for `image:` services (Docker, or Podman's Docker-compatible service). Default: $DOCKER_HOST, else unix://\(Defaults.dockerSocket).", valueName: "unix:///PATH"))
    var dockerHost: String?

    @Option(name: .long, help: ArgumentHelp("The ssh_config file for fleet servers (`servers:`), as `ssh -F` takes it. Default: your ~/.ssh/config.", valueName: "FILE"))
    var sshConfig: String?

    @Option(name: .long, help: ArgumentHelp("Log lines as text or json (one object per line; the router it starts too). Default: $SLIPWAY_LOG_FORMAT, else text.", valueName: "FORMAT"))
    var logFormat: String?

    @Option(name: .long, help: ArgumentHelp("First retry delay of a failed notification; it doubles up to 15m, with full jitter (default 5s).", valueName: "DURATION"))
    var notificationRetryBase: String = DurationText.format(RetryPolicy.defaultBase)

    @Option(name: .long, help: ArgumentHelp("Attempts before a notification is given up as failed (default \(RetryPolicy.defaultMaxAttempts)).", valueName: "N"))
    var notificationAttempts: Int = RetryPolicy.defaultMaxAttempts

    @Option(name: .long, help: ArgumentHelp("Delete events and delivered or failed notifications older than DURATION (default 90d), or keep them: forever.", valueName: "DURATION|forever"))
    var retention: String = "90d"

    @Option(name: .long, help: ArgumentHelp("Export a trace per rollout over OTLP/HTTP to this collector (its base URL: traces go to URL/v1/traces). Default: $OTEL_EXPORTER_OTLP_ENDPOINT or $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT when set, else no tracing.", valueName: "URL"))
    var otlpEndpoint: String?

    /// nil: keep for ever.
    var retentionPeriod: Duration?? {
        if retention == "forever" { return .some(nil) }
        guard let period = DurationText.parse(retention), period >= .seconds(60) else { return nil }
        return .some(period)
    }

    var retryPolicy: RetryPolicy? {
        guard let base = DurationText.parse(notificationRetryBase), base > .zero, notificationAttempts >= 1 else { return nil }
        return RetryPolicy(base: base, maxAttempts: notificationAttempts)
    }

    func validate() throws {
        guard retryPolicy != nil else {
            throw ValidationError("--notification-retry-base must be a duration above 0 (got \(notificationRetryBase)) and --notification-attempts at least 1 (got \(notificationAttempts))")
        }
        guard ListenAddress(parsing: api, defaultHost: "127.0.0.1") != nil else {
            throw ValidationError("--api must be HOST:PORT, e.g. 127.0.0.1:7878 (got \(api))")
        }
        for file in config where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("--config \(file): no such readable file")
        }
        // The router this server starts reads it: a bad value is refused here, not in the background.
        do {
            _ = try RouterEventLoops.resolve(flag: nil, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.description)
        }
        if let sshConfig, !FileManager.default.isReadableFile(atPath: sshConfig) {
            throw ValidationError("--ssh-config \(sshConfig): no such readable file")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError(tlsCert == nil ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key")
        }
        if let backupEvery, (DurationText.parse(backupEvery) ?? .zero) < .seconds(10) {
            throw ValidationError("--backup-every must be a duration of at least 10s, e.g. 5m (got \(backupEvery))")
        }
        if backupEvery == nil, backupDir != nil { throw ValidationError("--backup-dir goes with --backup-every") }
        guard backupKeep >= 1 else { throw ValidationError("--backup-keep must be at least 1 (got \(backupKeep))") }
        guard PortAllocator.parseRange(instancePorts) != nil else {
            throw ValidationError("--instance-ports must be LOW-HIGH within 1024-65535 with at least 16 ports, e.g. 20000-29999 (got \(instancePorts))")
        }
        if let logFormat, LogFormat(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be text or json (got \(logFormat))")
        }
        guard retentionPeriod != nil else {
            throw ValidationError("--retention must be a duration of at least 1m (e.g. 90d) or forever (got \(retention))")
        }
        if let otlpEndpoint, ServerRuntime.TracingOptions.tracesURL(base: otlpEndpoint) == nil {
            throw ValidationError("--otlp-endpoint must be the http:// or https:// URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318, without credentials, query or fragment (got \(otlpEndpoint))")
        }
        guard Self.parseLimit(authFailures) != nil else {
            throw ValidationError("--auth-failures must be COUNT/DURATION with COUNT ≥ 1, e.g. 20/1m (got \(authFailures))")
        }
        do {
            _ = try EngineEndpoint.resolve(flag: dockerHost, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.message)
        }
    }

    static func parseLimit(_ text: String) -> (limit: Int, window: Duration)? {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let n = Int(parts[0]), n >= 1, let d = DurationText.parse(String(parts[1])), d > .zero else { return nil }
        return (n, d)
    }

    func run() async throws {
        let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let format: LogFormat
        do {
            format = try logFormat.flatMap(LogFormat.init(rawValue:)) ?? LogFormat.fromEnvironment()
        } catch {
            printError("error: \(error)")
            throw Exit.failed
        }
        // The router this server starts inherits the format.
        setenv(LogFormat.environmentName, format.rawValue, 1)
        format.bootstrap(level: level)
        var logger = Logger(label: "slipway")
        logger.logLevel = level
        guard let address = ListenAddress(parsing: api, defaultHost: "127.0.0.1"), let limit = Self.parseLimit(authFailures) else { throw Exit.failed }
        let tls = tlsCert.flatMap { cert in tlsKey.map { APITLS.Files(certificate: cert, key: $0) } }
        do {
            var options = ServerRuntime.Options(stateDirectory: stateDir, api: address, configFiles: config, initialVersion: initialVersion, logger: logger,
                                                tls: tls, authFailures: limit, notificationRetry: retryPolicy ?? RetryPolicy())
            options.backupEvery = backupEvery.flatMap(DurationText.parse)
            options.backupDirectory = backupDir.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
            options.backupKeep = backupKeep
            options.retention = retentionPeriod ?? Defaults.retention
            options.instancePorts = PortAllocator.parseRange(instancePorts) ?? PortAllocator.defaultRange
            options.engine = try EngineEndpoint.resolve(flag: dockerHost, environment: ProcessInfo.processInfo.environment)
            options.tracing = ServerRuntime.TracingOptions(flag: otlpEndpoint, environment: ProcessInfo.processInfo.environment)
            try options.tracing?.headers = ServerRuntime.TracingOptions.headers(environment: ProcessInfo.processInfo.environment)
            options.sshConfig = sshConfig.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
            try await ServerRuntime.run(options)
        } catch let error as ServerRuntime.StartupError {
            printError("error: \(error.description)")
            throw Exit.failed
        } catch let error as ControllerError {
            printError("error: \(error.description)")
            throw Exit.failed
        }
    }
}

struct RouterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router",
        abstract: "The data plane: replace it with this binary's without a gap.",
        subcommands: [RouterRunCommand.self, RouterUpgradeCommand.self],
        defaultSubcommand: RouterRunCommand.self
    )
}

struct RouterRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the data plane (started by `slipway server`; not usually run by hand).",
        shouldDisplay: false
    )

    @Option(name: .long, help: "The state directory shared with the control plane.")
    var stateDir: String = ".slipway"

    @Option(name: .long, help: "The host bundle this router runs from (set by `slipway servers setup`).")
    var build: String?

    @Flag(name: .long, help: "On a fleet server: also start, observe and stop this server's instances for the control plane.")
    var agent = false

    @Option(name: .long, help: ArgumentHelp("Event loops (threads) serving traffic; default: $\(RouterEventLoops.environmentName), else one per CPU core the process may use.", valueName: "N"))
    var eventLoops: Int?

    func validate() throws {
        do {
            _ = try RouterEventLoops.resolve(flag: eventLoops, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        // Before anything uses NIO's shared event loop group (the router and its admin socket).
        try RouterEventLoops.configure(flag: eventLoops, environment: ProcessInfo.processInfo.environment)
        let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        try LogFormat.fromEnvironment().bootstrap(level: level)
        var logger = Logger(label: "slipway-router")
        logger.logLevel = level
        signal(SIGPIPE, SIG_IGN)
        try await DataPlaneServer.run(stateDirectory: try StateDirectory(stateDir), logger: logger, build: build, agent: agent)
    }
}

struct RouterUpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Replace the running router with one from the control plane's binary, without a gap.",
        discussion: """
            The new router takes over the listening sockets (they are never closed, so no \
            connection is refused), serves from the last known table and health, and the old \
            one stops accepting, lets its requests finish and exits. A control plane started \
            from a new binary does this by itself when the router runs another build.
            """
    )

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let reply = try await withAPI {
            try await client.client().send(.POST, "/v1/router/upgrade", as: RouterUpgrade.self)
        }
        if client.output == .json { return try printJSON(reply) }
        let build = reply.executable.map { " (build \($0.prefix(12)))" } ?? ""
        print("router upgraded: pid \(reply.previousPID) → \(reply.pid)\(build) in \(String(format: "%.2f", reply.seconds))s; the old router drains and exits")
    }
}

struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop every instance, the data plane and the control plane."
    )

    @OptionGroup var client: ClientOptions

    @Flag(name: .long, help: "Stop only the control plane; the router and instances keep serving.")
    var controlPlaneOnly = false

    func run() async throws {
        let reply = try await withAPI {
            try await client.client().send(.POST, "/v1/shutdown", body: ShutdownRequest(dataPlane: !controlPlaneOnly), as: LivenessReply.self)
        }
        print(reply.status)
    }
}
