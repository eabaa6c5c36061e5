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
    /// Scheduled backups of the state (`--backup-every`).
    let backupLastSuccess: Gauge
    let backupFailures: Counter

    static let tickBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    public init() {
        tickDuration = registry.makeDurationHistogram(descriptor: Self.name("controller_tick_duration", "seconds", "Time one controller pass took (data plane check, instance supervision, rollout steps)."),
                                                      buckets: Self.tickBuckets)
        tickErrors = registry.makeCounter(descriptor: Self.name("controller_tick_errors", "total", "Controller passes that failed (logged as `controller tick failed`)."))
        backupLastSuccess = registry.makeGauge(descriptor: Self.name("state_backup_last_success_timestamp", "seconds",
                                                                     "When the last scheduled backup of the state database succeeded (Unix time; 0: none yet)."))
        backupFailures = registry.makeCounter(descriptor: Self.name("state_backup_failures", "total", "Scheduled backups of the state database that failed."))
    }

    /// `slipway_<metric>_<unit>` with its help text.
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "slipway", metricName: metric, unitName: unit, helpText: help)
    }

    static let deliveryBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
    ]

    /// One notification delivery attempt: `slipway_notification_attempts_total{sink,outcome}`
    /// (outcome `delivered`, `retry`, `given_up`) and, when delivered, the time from the
    /// event to delivery in `slipway_notification_delivery_seconds{sink}` (retries included).
    func notificationAttempt(sink: String, outcome: String, queuedFor seconds: Double?) {
        registry.makeCounter(descriptor: Self.name("notification_attempts", "total", "Notification delivery attempts per sink kind and outcome (delivered, retry, given_up)."),
                             labels: [("sink", sink), ("outcome", outcome)]).increment()
        if let seconds {
            registry.makeDurationHistogram(descriptor: Self.name("notification_delivery", "seconds", "Time from an event to its notification's delivery (retries included), per sink kind."),
                                           labels: [("sink", sink)], buckets: Self.deliveryBuckets)
                .record(.milliseconds(Int64(seconds * 1000)))
        }
    }

    /// The registry's families in the text format.
    public func render() -> String {
        registry.emitToString()
    }

    /// A counter in the same registry (for other parts of the control plane).
    public func counter(_ metric: String, labels: [(String, String)], help: String) -> Counter {
        registry.makeCounter(descriptor: Self.name(metric, "total", help), labels: labels)
    }
}
