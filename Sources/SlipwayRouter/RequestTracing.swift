import Foundation
import Logging
import NIOHTTP1
import OTel
import ServiceLifecycle
import SlipwayCore
import Synchronization
import Tracing

/// The router's request spans (`trace_requests`): one swift-otel tracer per sampling share,
/// exporting over OTLP/HTTP to the route table's `tracesURL`. Made when a table first asks
/// for them and replaced when the URL changes; a router whose services trace nothing has
/// none and does no tracing work.
final class RequestTracing: Sendable {
    private struct Backend {
        var tracer: any Tracer
        var task: Task<Void, Never>
    }

    private struct State {
        var url: String?
        var headers: [String: String] = [:]
        var backends: [Double: Backend] = [:]
    }

    private let state = Mutex(State())
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// The URL and headers of the table being applied: different ones stop the tracers of
    /// the old.
    func configure(url: String?, headers: [String: String]?) {
        let headers = headers ?? [:]
        let stopped: [Backend] = state.withLock { state in
            guard state.url != url || state.headers != headers else { return [] }
            state.url = url
            state.headers = headers
            defer { state.backends = [:] }
            return Array(state.backends.values)
        }
        for backend in stopped { backend.task.cancel() }
    }

    /// The tracer for a service tracing `share` of its requests; nil without a URL (or if
    /// the exporter cannot be made, which is logged once per table).
    func tracer(share: Double) -> (any Tracer)? {
        state.withLock { state in
            guard let url = state.url else { return nil }
            if let backend = state.backends[share] { return backend.tracer }
            var configuration = OTLPTraces.configuration(serviceName: "slipway-router", tracesURL: url, logger: logger)
            configuration.traces.otlpExporter.headers = state.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            configuration.traces.sampler = .parentBasedTraceIDRatio(ratio: share) ?? .parentBasedAlwaysOn
            do {
                let made = try OTel.makeTracingBackend(configuration: configuration)
                let service = made.service
                let logger = self.logger
                let task = Task {
                    do { try await service.run() } catch { logger.warning("request span exporter stopped", metadata: ["slipway.error": "\(error)"]) }
                }
                state.backends[share] = Backend(tracer: made.factory, task: task)
                return made.factory
            } catch {
                logger.error("cannot export request spans", metadata: ["slipway.endpoint": "\(url)", "slipway.error": "\(error)"])
                state.url = nil
                return nil
            }
        }
    }
}

/// Slipway's OpenTelemetry set-up, shared by the control plane's rollout traces and the
/// router's request spans: traces only, OTLP/HTTP protobuf, batches sent every second,
/// swift-otel's own problems logged as warnings.
public enum OTLPTraces {
    /// - Parameter tracesURL: the full traces URL; nil leaves it to the standard
    ///   `OTEL_EXPORTER_OTLP_*` environment.
    public static func configuration(serviceName: String, tracesURL: String?, logger: Logger) -> OTel.Configuration {
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.resourceAttributes["service.version"] = SlipwayVersion.current
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        if let tracesURL { configuration.traces.otlpExporter.endpoint = tracesURL }
        configuration.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        return configuration
    }
}

/// A traced request: its server span, with the client's `traceparent` as parent when it
/// sent one, and the router's span passed on to the instance in `traceparent`.
enum RequestSpans {
    struct Extractor: Tracing.Extractor {
        func extract(key: String, from carrier: HTTPHeaders) -> String? { carrier.first(name: key) }
    }

    struct Injector: Tracing.Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) { carrier.replaceOrAdd(name: key, value: value) }
    }

    /// Starts the request's span and replaces `traceparent` (and `tracestate`) in the head
    /// going to the instance with the router's span context.
    static func start(_ tracer: any Tracer, head: HTTPRequestHead, upstream: inout HTTPRequestHead, service: String, clientIP: String) -> any Span {
        var parent = InstrumentationContext.topLevel
        tracer.extract(head.headers, into: &parent, using: Extractor())
        let span = tracer.startSpan(head.method.rawValue, context: parent, ofKind: .server, at: DefaultTracerClock.now, function: #function, file: #fileID, line: #line)
        upstream.headers.remove(name: "traceparent")
        upstream.headers.remove(name: "tracestate")
        tracer.inject(span.context, into: &upstream.headers, using: Injector())
        if span.isRecording {
            span.attributes["http.request.method"] = head.method.rawValue
            span.attributes["url.path"] = String(head.uri.prefix { $0 != "?" })
            span.attributes["network.protocol.version"] = "\(head.version.major).\(head.version.minor)"
            span.attributes["client.address"] = clientIP
            span.attributes["slipway.service"] = service
            if let host = head.headers.first(name: "host") { span.attributes["server.address"] = host }
        }
        return span
    }

    /// The instance chosen for an attempt (a retry names the last one).
    static func attempt(_ span: any Span, version: String, endpoint: Endpoint, attempt: Int) {
        guard span.isRecording else { return }
        span.attributes["slipway.version"] = version
        span.attributes["slipway.instance"] = endpoint.id
        span.attributes["server.port"] = endpoint.port
        if attempt > 1 { span.addEvent(SpanEvent(name: "retry", attributes: ["slipway.attempt": .int64(Int64(attempt))])) }
    }

    /// Ends the span with the answer's status (nil: no answer reached the client).
    static func finish(_ span: any Span, status: Int?, routerError: Bool) {
        if span.isRecording {
            if let status {
                span.attributes["http.response.status_code"] = status
                if status >= 500 { span.setStatus(SpanStatus(code: .error, message: routerError ? "answered by the router" : nil)) }
            } else {
                span.setStatus(SpanStatus(code: .error, message: "no answer reached the client"))
            }
        }
        span.end()
    }
}
