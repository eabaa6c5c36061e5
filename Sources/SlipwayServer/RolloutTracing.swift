import Foundation
import Logging
import OTel
import ServiceLifecycle
import SlipwayCore
import SlipwayRouter
import SlipwayStore
import Tracing

/// A trace per rollout (OpenTelemetry; exported over OTLP by swift-otel when the server has
/// `--otlp-endpoint`): a root span `rollout` from its start to its end, a child span
/// `phase NAME` for each phase it passes through, and under the phase they ran in, a span
/// per hook (`hook STAGE`) and per analysis run (`analysis POLICY`) with the decision as
/// attributes. The rollout's events (decisions, weights, gates…) are span events of the
/// root span. Spans carry `slipway.*` attributes (service, rollout id, kind, versions).
///
/// A post-deploy check (`verify:`) that ran is a trace of its own, `verification T+OFFSET`
/// (it may run a day after its rollout ended), linked to the rollout's root span when the
/// rollout ended in this process, and carrying its rollout id, outcome and action.
///
/// The spans live in the control plane's memory: a rollout a restarted control plane
/// resumes gets a new trace from the restart on (its root span starts at the rollout's
/// start); the spans ended before the restart were exported under the first trace.
struct RolloutTraces: Sendable {
    let tracer: (any Tracer)?

    private struct Open: Sendable {
        var root: any Span
        var phase: (name: String, span: any Span)?
        var context: InstrumentationContext { phase?.span.context ?? root.context }
    }

    private var open: [Int64: Open] = [:]
    /// The root spans' contexts of the last `endedKept` rollouts that ended here, for the
    /// links of their post-deploy checks.
    private var ended: [Int64: InstrumentationContext] = [:]
    static let endedKept = 256

    init(tracer: (any Tracer)?) {
        self.tracer = tracer
    }

    var isEnabled: Bool { tracer != nil }

    /// An instant given in seconds since 1970 (the store's times).
    struct Instant: TracerInstant {
        var nanosecondsSinceEpoch: UInt64
        init(_ seconds: Double) { nanosecondsSinceEpoch = UInt64(max(0, seconds) * 1_000_000_000) }
        static func < (a: Instant, b: Instant) -> Bool { a.nanosecondsSinceEpoch < b.nanosecondsSinceEpoch }
    }

    /// The rollout's state was persisted: starts its trace when first seen, a phase span
    /// when its phase changed, and ends both when it ended.
    mutating func observe(rollout id: Int64, service: String, state: BlueGreenState, now: Double) {
        guard let tracer else { return }
        var entry: Open
        if let known = open[id] {
            entry = known
        } else {
            let root = tracer.startSpan("rollout", context: .topLevel, ofKind: .internal, at: Instant(state.startedAt),
                                        function: #function, file: #fileID, line: #line)
            let (name, environment) = UnitName.split(service)
            root.attributes["slipway.service"] = name
            if let environment { root.attributes["slipway.environment"] = environment }
            root.attributes["slipway.rollout.id"] = id
            root.attributes["slipway.rollout.kind"] = state.kind.rawValue
            root.attributes["slipway.rollout.strategy"] = state.canary != nil ? "canary" : state.rolling != nil ? "rolling" : "blue-green"
            root.attributes["slipway.version"] = state.targetVersion
            if let from = state.fromVersion { root.attributes["slipway.from_version"] = from }
            entry = Open(root: root)
        }
        let phase = state.phase.rawValue
        // The machine's own time of the end, so that the last phase ends with the root.
        let now = state.phase.isTerminal ? state.endedAt ?? now : now
        if entry.phase?.name != phase {
            entry.phase?.span.end(at: Instant(now))
            entry.phase = nil
            if !state.phase.isTerminal {
                let span = tracer.startSpan("phase \(phase)", context: entry.root.context, ofKind: .internal, at: Instant(now),
                                            function: #function, file: #fileID, line: #line)
                span.attributes["slipway.rollout.id"] = id
                span.attributes["slipway.phase"] = phase
                if let weight = state.canary?.weight { span.attributes["slipway.canary.weight"] = weight }
                entry.phase = (phase, span)
            }
        }
        if state.phase.isTerminal {
            entry.root.attributes["slipway.rollout.phase"] = phase
            if let reason = state.failureReason { entry.root.attributes["slipway.rollout.reason"] = reason }
            if state.phase == .failed {
                entry.root.setStatus(SpanStatus(code: .error, message: state.failureReason))
            } else {
                entry.root.setStatus(SpanStatus(code: .ok))
            }
            entry.root.end(at: Instant(now))
            open[id] = nil
            ended[id] = entry.root.context
            if ended.count > Self.endedKept, let oldest = ended.keys.min() { ended[oldest] = nil }
        } else {
            open[id] = entry
        }
    }

    /// One analysis run of the rollout, from `started` to `ended`, under its current phase.
    func analysis(rollout id: Int64, policy: String, purpose: String, verdict: AnalysisRunVerdict, started: Double, ended: Double) {
        guard let tracer, let entry = open[id] else { return }
        let span = tracer.startSpan("analysis \(policy)", context: entry.context, ofKind: .internal, at: Instant(started),
                                    function: #function, file: #fileID, line: #line)
        span.attributes["slipway.rollout.id"] = id
        span.attributes["slipway.analysis.policy"] = policy
        span.attributes["slipway.analysis.purpose"] = purpose
        span.attributes["slipway.analysis.decision"] = verdict.outcome.rawValue
        span.attributes["slipway.analysis.summary"] = verdict.summary
        span.attributes["slipway.analysis.checks"] = verdict.checks.count
        if let worst = verdict.servers?.first?.server { span.attributes["slipway.analysis.worst_server"] = worst }
        span.setStatus(SpanStatus(code: verdict.outcome == .fail ? .error : .ok, message: verdict.outcome == .fail ? verdict.summary : nil))
        span.end(at: Instant(ended))
    }

    /// One hook run of the rollout, from `started` to `ended`, under its current phase.
    func hook(rollout id: Int64, outcome: HookOutcome, started: Double, ended: Double) {
        guard let tracer, let entry = open[id] else { return }
        let span = tracer.startSpan("hook \(outcome.stage.rawValue)", context: entry.context, ofKind: .internal, at: Instant(started),
                                    function: #function, file: #fileID, line: #line)
        span.attributes["slipway.rollout.id"] = id
        span.attributes["slipway.hook.stage"] = outcome.stage.rawValue
        span.attributes["slipway.hook.exit"] = outcome.exit
        span.attributes["slipway.hook.passed"] = outcome.passed
        span.setStatus(SpanStatus(code: outcome.passed ? .ok : .error, message: outcome.passed ? nil : outcome.exit))
        span.end(at: Instant(ended))
    }

    /// One post-deploy check that ran, from `started` to `ended`: a trace of its own, linked
    /// to its rollout's root span when that rollout ended in this process.
    func verification(_ record: VerificationRecord, status: VerificationStatus, summary: String, action: String?, started: Double, ended endedAt: Double) {
        guard let tracer else { return }
        let span = tracer.startSpan("verification \(record.label)", context: .topLevel, ofKind: .internal, at: Instant(started),
                                    function: #function, file: #fileID, line: #line)
        if let rollout = ended[record.rolloutID] {
            span.addLink(SpanLink(context: rollout, attributes: ["slipway.link": "rollout"]))
        }
        let (name, environment) = UnitName.split(record.service)
        span.attributes["slipway.service"] = name
        if let environment { span.attributes["slipway.environment"] = environment }
        span.attributes["slipway.rollout.id"] = record.rolloutID
        span.attributes["slipway.version"] = record.version
        span.attributes["slipway.verification.after_seconds"] = record.afterSeconds
        span.attributes["slipway.verification.outcome"] = status.rawValue
        span.attributes["slipway.verification.summary"] = summary
        span.attributes["slipway.verification.on_failure"] = record.onFailure.rawValue
        if let action { span.attributes["slipway.verification.action"] = action }
        span.setStatus(SpanStatus(code: status == .failed ? .error : .ok, message: status == .failed ? summary : nil))
        span.end(at: Instant(endedAt))
    }

    /// An event of the rollout (a decision, a weight, a gate…) on its root span.
    func event(rollout id: Int64, kind: String, message: String, time: Double) {
        guard let entry = open[id] else { return }
        entry.root.addEvent(SpanEvent(name: kind, at: Instant(time), attributes: ["slipway.message": .string(message)]))
    }

}

extension Controller {
    /// Records a trace per rollout with `tracer` (swift-otel's, exporting over OTLP).
    /// - Parameter requestTracesURL: where routers export the spans of the requests of
    ///   services with `trace_requests` (sent in every route table).
    ///   - requestTracesHeaders: the headers those exports carry.
    public func setTracer(_ tracer: any Tracer, requestTracesURL: String?, requestTracesHeaders: [String: String] = [:]) {
        traces = RolloutTraces(tracer: tracer)
        self.requestTracesURL = requestTracesURL
        self.requestTracesHeaders = requestTracesHeaders.isEmpty ? nil : requestTracesHeaders
    }
}

extension ServerRuntime {
    /// Where rollout traces go: `--otlp-endpoint URL` (a collector's base URL, as
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is), else the standard OpenTelemetry environment.
    public struct TracingOptions: Sendable, Equatable {
        /// The full traces URL (`BASE/v1/traces`) from the flag; nil: swift-otel reads
        /// `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` itself.
        public var tracesURL: String?
        /// The traces URL routers export request spans to (`trace_requests`): the flag's, or
        /// the one the environment names.
        public var routerURL: String?
        /// Headers every export carries (`headers(environment:)`); the control plane's own
        /// exporter reads them from its environment, routers get them in the route table.
        public var headers: [String: String] = [:]

        /// nil when neither the flag nor the environment names a collector.
        public init?(flag: String?, environment: [String: String]) {
            if let flag {
                guard let url = Self.tracesURL(base: flag) else { return nil }
                tracesURL = url
                routerURL = url
            } else if let traces = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], !traces.isEmpty {
                tracesURL = nil
                routerURL = traces
            } else if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"], !base.isEmpty {
                tracesURL = nil
                routerURL = Self.tracesURL(base: base)
            } else {
                return nil
            }
        }

        /// The OTLP export headers of the environment: `OTEL_EXPORTER_OTLP_TRACES_HEADERS`,
        /// else `OTEL_EXPORTER_OTLP_HEADERS` — comma-separated `name=value` pairs with
        /// percent-encoded values, as the OpenTelemetry specification has them. Throws a
        /// message naming the variable and the pair at fault.
        public static func headers(environment: [String: String]) throws(StartupError) -> [String: String] {
            let variable = ["OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"].first { !(environment[$0] ?? "").isEmpty }
            guard let variable, let text = environment[variable] else { return [:] }
            var headers: [String: String] = [:]
            for (index, pair) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                let parts = trimmed.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = parts[0].trimmingCharacters(in: .whitespaces)
                guard parts.count == 2, HTTPFieldSyntax.isName(name),
                      let value = parts[1].trimmingCharacters(in: .whitespaces).removingPercentEncoding,
                      HTTPFieldSyntax.isValue(value) else {
                    throw StartupError(description: "\(variable): entry \(index + 1) is not `name=value` with a header name and a percent-encoded value without control characters")
                }
                headers[name.lowercased()] = value
            }
            return headers
        }

        /// `BASE/v1/traces` for an http(s) base URL without credentials, query or fragment.
        public static func tracesURL(base: String) -> String? {
            guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  let host = url.host, !host.isEmpty, url.user == nil, url.password == nil, url.query == nil, url.fragment == nil else { return nil }
            return (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/v1/traces"
        }
    }

    /// swift-otel's tracer and the service that batches and exports its spans.
    static func tracingBackend(_ options: TracingOptions, logger: Logger) throws -> (tracer: any Tracer, service: any Service) {
        let configuration = OTLPTraces.configuration(serviceName: "slipway", tracesURL: options.tracesURL, logger: logger)
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        return (backend.factory, backend.service)
    }
}
