import Foundation
import SlipwayCore

/// The field tables of `slipway.yml`. Each table drives parsing, unknown-key detection
/// and the JSON Schema, so a key added here is accepted, suggested and documented at once.
///
/// To add a top-level section (`analysis`, `environments`, `hooks`, `notifications`):
/// give `ServiceSpec` the property, write an `ObjectType` for it below and add one
/// `Field` to `service`. To add a strategy kind: add a `Variant` to `strategy`.
enum ServiceFields {
    static let serviceNamePattern = "^[a-z][a-z0-9-]{0,62}$"
    static let envNamePattern = "^[A-Za-z_][A-Za-z0-9_]*$"
    static let hostnamePattern = "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
    static let replicaRange = 1...100
    /// The placeholders `run` may contain; the target driver substitutes them at start.
    static let placeholders = ["port", "version", "artifact"]
    /// The placeholders a container's `command` and `args` may contain.
    static let containerPlaceholders = ["port", "version"]

    /// Built once, on first use: a load used to build this table (and, through
    /// `environments`, every environment's) again for the root and for each environment,
    /// about a fifth of a load's time. The table cannot be `Sendable` (its closures and
    /// the environments' YAML nodes are not), but it is never changed after it is built and
    /// its closures keep no state of their own: every load only reads it.
    nonisolated(unsafe) static let service: ObjectType<ServiceSpec> = ObjectType(
        doc: "One service deployed by Slipway (slipway.yml).",
        initial: ServiceSpec(name: "", run: []),
        fields: settings + [
            Field("environments", EnvironmentFields.environments, \.environment,
                  doc: "Environments in promotion order (dev, staging, production, …); each is deployed on its own (SERVICE@ENV) with the service's settings merged with its overrides, and has its own gates, approvals and freezes."),
        ],
        check: { spec, scope in
            checkTarget(&spec, scope)
            checkReferences(&spec, scope)
            checkFleet(&spec, scope)
            checkHooks(&spec, scope)
            checkVerify(&spec, scope)
            if spec.health.kind == .grpc, spec.upstream != .h2c {
                scope.error(at: "health", "health.kind: grpc needs `upstream: h2c` (gRPC runs over HTTP/2; the service's instances are reached over HTTP/1.1)")
            }
        },
        extraSchema: [("oneOf", .array([
            .object([("required", .array([.string("run")]))]),
            .object([("required", .array([.string("image")]))]),
        ]))]
    )

    /// Every key but `environments` (which environments override from).
    /// Built once, like `service`.
    nonisolated(unsafe) static let settings: [Field<ServiceSpec>] = [
        Field("service", serviceName, \.name, required: true,
              doc: "The service name: lowercase letters, digits and '-', starting with a letter, at most 63 characters."),
        Field("run", .list(of: runArgument, nonEmpty: true), \.runCommand,
              doc: "The command line of one local-process instance; {{port}} and {{version}} are replaced at start ({{artifact}}: the stored copy of `artifact`). Give `run` or `image`."),
        Field("env", .map(keyPattern: envNamePattern, keyExplain: { "`\($0)` is not a valid environment variable name (letters, digits and '_', not starting with a digit)" }, values: .scalarText), \.env,
              doc: "Extra environment variables for every instance."),
        Field("working_dir", .string.checked { $0.isEmpty ? "must not be empty" : nil }, \.workingDirectory,
              doc: "Working directory of instances, relative to the config file's directory (default: that directory)."),
        Field("health", health.valueType, \.health,
              doc: "Active HTTP health checks of each instance."),
        Field("listen", .listenAddress, \.listen,
              doc: "The router's public address for this service: HOST:PORT, :PORT or PORT."),
        Field("hosts", .list(of: hostname).checked(duplicateHost), \.hosts,
              doc: "Host names routed to this service when several services share one listen port; empty answers every Host."),
        Field("replicas", .integer(in: replicaRange), \.replicas,
              doc: "Instances per release."),
        Field("upstream_timeout", .duration(positive: true), \.upstreamTimeout,
              doc: "How long the router waits for an instance's response head."),
        Field("websocket_drain", .duration(positive: false), \.websocketDrain,
              doc: "How long upgraded connections (WebSocket and other `Upgrade`s) stay on an instance once its release stops taking new traffic (a switch, a canary's end, a rollback); then the router closes them and clients reconnect to the serving release. Default 30s; 0 closes them at the switch."),
        Field("max_request_body", byteSize(minimum: 0), \.maxRequestBody,
              doc: "The largest request body the router forwards to an instance, a size such as 10m or 1g; a larger one is answered 413 Payload Too Large (at once when its Content-Length says so, else as soon as the chunked body grows past it) and never reaches the instance in full. Default: no limit (bodies stream through with backpressure, so the router's memory stays bounded either way)."),
        Field("trace_requests", .share, \.traceRequests,
              doc: "Trace requests through the router (OpenTelemetry, exported where the control plane's --otlp-endpoint says): the share of requests without a sampled W3C `traceparent` that start a trace, 0.1 or 10%; one whose client sent a sampled `traceparent` is always traced, as a child of the client's span. The instance gets the router's span as its parent in `traceparent`. Default: no request spans, and `traceparent` passes through untouched."),
        Field("upstream", ValueType<UpstreamProtocol>.enumeration, \.upstream,
              doc: "The protocol the instances speak: http1 (HTTP/1.1, the default) or h2c (HTTP/2 cleartext with prior knowledge, as gRPC servers speak it); with h2c each request goes to an instance as an HTTP/2 stream with its trailers, and a grpc-status other than 0 counts as an error."),
        Field("strategy", strategy, \.strategy,
              doc: "How a rollout moves traffic from the stable release to the new one; exactly one kind."),
        Field("analysis", analyses, \.analysis,
              doc: "Named analyses that canary steps and `strategy.canary.analysis` refer to; `default` is the one canaries run in the background."),
        Field("pin", pin.valueType, \.pin,
              doc: "A request header (X-Slipway-Version by default) that allowed clients (loopback by default) use to reach a named version whatever its weight."),
        Field("tls", tls.valueType, \.tls,
              doc: "The router terminates TLS on `listen` with a certificate and key (PEM files, relative to the config file's directory)."),
        Field("headers", headers.valueType, \.headers,
              doc: "Security headers (HSTS, CSP, X-Content-Type-Options, X-Frame-Options, Referrer-Policy) added to every response."),
        Field("rate_limit", rateLimit.valueType, \.rateLimit,
              doc: "Per-client-address request rate limit (token bucket); over it the router answers 429 with Retry-After."),
        Field("restrict", .list(of: restriction.valueType), \.restrict,
              doc: "Path prefixes (such as /metrics, /admin) only allowed client networks may reach; others get 403."),
        Field("notifications", notifications, \.notifications,
              doc: "Where events are sent: webhooks (signed JSON), Slack-compatible webhooks, Alertmanager, email (SMTP); each filtered by events and environments. Deliveries are queued in the state database and retried until delivered."),
        Field("hooks", hooks.valueType, \.hooks,
              doc: "Commands run at fixed points of a rollout (any strategy): pre_deploy (before any traffic: migrations), smoke (through the pin header, before the switch), post_deploy, on_rollback; output goes into the rollout's events, secrets redacted."),
        Field("backup", backup.valueType, \.backup,
              doc: "The service's database (PostgreSQL or SQLite), backed up before every deploy's pre_deploy hook and recorded with the rollout; restore_on_rollback restores it when the deploy is undone."),
        Field("verify", verify.valueType, \.verify,
              doc: "Checks at fixed offsets after a deploy succeeded (after: [30m, 2h, 24h]): an analysis, a command or both; results are stored with the rollout, shown by status and why, and notified; on_failure: rollback rolls back while the verified release still serves."),
        Field("alerts", alerts, \.alerts,
              doc: "Rules on the service's live numbers (error rate, latency percentiles, instances down) that fire after `for` and resolve; firing and resolved are events and notifications."),
    ] + containerSettings + serverSettings

    static var serviceName: ValueType<String> {
        .string(pattern: serviceNamePattern) { name in
            "\(quoted(name)) is not a valid service name: use lowercase letters, digits and '-', start with a letter, at most 63 characters"
        }
    }

    static var runArgument: ValueType<String> { argument(placeholders: placeholders) }

    static func argument(placeholders: [String]) -> ValueType<String> {
        ValueType<String>.scalarText.checked { argument in
            let names = placeholders.map { "{{\($0)}}" }
            let known = names.count > 1 ? names.dropLast().joined(separator: ", ") + " and " + names.last! : names.joined()
            for placeholder in ProviderTemplate.scan(argument) {
                guard let name = placeholder else {
                    return "has `{{` without a closing `}}`; the known placeholders are \(known)"
                }
                if !placeholders.contains(name) {
                    return "unknown placeholder `{{\(name)}}`; the known placeholders are \(known)"
                }
            }
            return nil
        }
    }

    static var hostname: ValueType<String> {
        ValueType<String>.string
            .schema(adding: [("pattern", .string(hostnamePattern)), ("maxLength", .integer(253))])
            .checked { host in
                matches(host, hostnamePattern) && host.count <= 253
                    ? nil
                    : "\(quoted(host)) is not a valid host name (letters, digits, '-' and '.', without a port)"
            }
            .lowercased()
    }

    static func duplicateHost(_ hosts: [String]) -> String? {
        var seen: Set<String> = []
        for host in hosts where !seen.insert(host).inserted {
            return "lists \(quoted(host)) more than once"
        }
        return nil
    }

    static var health: ObjectType<HealthSpec> {
        ObjectType(
            doc: "Active health checks (HTTP, or the gRPC health service).",
            initial: HealthSpec(),
            fields: [
                Field("path", ValueType<String>.string.checked { $0.hasPrefix("/") ? nil : "must start with / (got \(quoted($0)))" }
                        .schema(adding: [("pattern", .string("^/"))]), \.path,
                      doc: "The HTTP path checked with GET; a 2xx answer passes."),
                Field("interval", .duration(positive: true), \.interval,
                      doc: "Time between two checks of one instance."),
                Field("timeout", .duration(positive: true), \.timeout,
                      doc: "How long one check may take; not longer than interval (default: the smaller of 1s and interval)."),
                Field("healthy", .integer(in: 1...Int.max), \.healthy,
                      doc: "Consecutive passing checks before an instance counts as healthy."),
                Field("unhealthy", .integer(in: 1...Int.max), \.unhealthy,
                      doc: "Consecutive failing checks before a healthy instance counts as unhealthy."),
                Field("grace", .duration(positive: false), \.grace,
                      doc: "After start, failures during this period do not count toward unhealthy."),
                Field("kind", ValueType<HealthKind>.enumeration, \.kind,
                      doc: "http (GET path; the default) or grpc (the standard gRPC health service, grpc.health.v1.Health/Check, must answer SERVING; needs upstream: h2c)."),
                Field("grpc_service", .string, \.grpcService,
                      doc: "The service name a grpc check asks about (default \"\": the server as a whole)."),
                Field("passive_failures", .integer(in: 1...1000), \.passiveFailures,
                      doc: "Passive health: connection failures or 5xx answers in a row that take an instance out of the router's rotation (default 5)."),
                Field("passive_ejection", .duration(positive: true), \.passiveEjection,
                      doc: "Passive health: how long an instance stays out of rotation after such a run (default 10s); then it gets requests again."),
            ],
            check: { health, scope in
                // Without an explicit timeout, a short interval shortens the default timeout.
                guard scope.isGiven("timeout") else {
                    health.timeout = min(health.timeout, health.interval)
                    return
                }
                guard scope.decoded.contains("timeout"),
                      !scope.isGiven("interval") || scope.decoded.contains("interval"),
                      health.timeout > health.interval else { return }
                let timeout = scope.path.key("timeout"), interval = scope.path.key("interval")
                scope.error(at: "timeout", "\(timeout) (\(DurationText.format(health.timeout))) must not be longer than \(interval) (\(DurationText.format(health.interval)))")
            }
        )
    }

    static var strategy: ValueType<StrategySpec> {
        .oneKey("strategy", [
            Variant("blue-green", blueGreen, doc: "Start the new release beside the old one, switch all traffic at once when it is healthy, keep the old one warm for a quick rollback.", wrap: StrategySpec.blueGreen),
            Variant("canary", canary, doc: "Send a growing share of traffic to the new release step by step while analysis compares it with the stable release; roll back at once when it fails.", wrap: StrategySpec.canary),
            Variant("rolling", rolling, doc: "Replace the instances in batches (max_surge above replicas, max_unavailable below), each batch health-gated and optionally analysed; on failure restore the previous release at once.", wrap: StrategySpec.rolling),
        ])
    }

    static var blueGreen: ObjectType<BlueGreenSpec> {
        ObjectType(
            doc: "Blue-green settings.",
            initial: BlueGreenSpec(),
            fields: [
                Field("keep_previous", .duration(positive: false), \.keepPrevious,
                      doc: "How long the previous release keeps running (warm, for instant rollback) after a switch."),
                Field("deploy_timeout", .duration(positive: true), \.deployTimeout,
                      doc: "How long new instances may take to become healthy before the rollout fails."),
                Field("drain_timeout", .duration(positive: true), \.drainTimeout,
                      doc: "How long old instances may take to finish in-flight requests after a switch."),
                Field("preview_analysis", ValueType<String>.string, \.previewAnalysis,
                      doc: "Before the switch, run this analysis on the requests pinned to the new release (pin header) and switch only when it passes."),
                Field("watch", .duration(positive: false), \.watch,
                      doc: "After the switch, watch the new release this long; failed analysis switches back to the still-warm previous release (0: no watch)."),
                Field("watch_analysis", ValueType<String>.string, \.watchAnalysis,
                      doc: "The analysis of the watch (default: the service's `default`, else the built-in)."),
                Field("max_restarts", .integer(in: 1...100), \.maxRestarts,
                      doc: "Crashes of the new release's instances that make a crash loop: before the switch the rollout fails, after it traffic switches back, and once the rollout succeeded the control plane rolls back to the still-warm previous release (default 3)."),
            ]
        )
    }
}

extension ValueType where Value == String {
    func lowercased() -> ValueType<String> {
        var copy = self
        let decode = self.decode
        copy.decode = { node, path, diagnostics in decode(node, path, diagnostics)?.lowercased() }
        return copy
    }
}
