import Prometheus
import SlipwayCore

/// The control plane's own instruments, kept in a swift-prometheus registry and appended
/// to `GET /metrics`. State (weights, phases, health) is not kept here: it is rendered from
/// the records at scrape time (`ControlPlaneExposition`).
public final class ControlPlaneMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// One controller pass (`tick`): data-plane check, instance supervision, rollout steps.
    let tickDuration: DurationHistogram
    let tickErrors: Counter

    static let tickBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    public init() {
        tickDuration = registry.makeDurationHistogram(name: "slipway_controller_tick_duration_seconds", buckets: Self.tickBuckets,
                                                      help: "Time one controller pass took (data plane check, instance supervision, rollout steps).")
        tickErrors = registry.makeCounter(name: "slipway_controller_tick_errors_total", help: "Controller passes that failed (logged as `controller tick failed`).")
    }

    /// The registry's families in the text format.
    public func render() -> String {
        registry.emitToString()
    }

    /// A counter in the same registry (for other parts of the control plane).
    public func counter(_ name: String, labels: [(String, String)], help: String) -> Counter {
        registry.makeCounter(name: name, labels: labels, help: help)
    }
}
