import Foundation

/// What an alert rule watches.
public enum AlertMetric: String, Codable, Sendable, CaseIterable {
    /// 5xx ÷ requests over the window, all serving versions together.
    case errorRate = "error_rate"
    case latencyP50 = "latency_p50"
    case latencyP95 = "latency_p95"
    case latencyP99 = "latency_p99"
    /// Instances of the stable release that are crashed or failing health checks.
    case instanceDown = "instance_down"

    public var latencyQuantile: Double? {
        switch self {
        case .latencyP50: 0.50
        case .latencyP95: 0.95
        case .latencyP99: 0.99
        case .errorRate, .instanceDown: nil
        }
    }

    /// The value in words for messages: `12.0 %`, `640 ms`, `2 instance(s)`.
    public func format(_ value: Double) -> String {
        switch self {
        case .errorRate: String(format: "%.1f %%", value * 100)
        case .latencyP50, .latencyP95, .latencyP99: String(format: "%.0f ms", value)
        case .instanceDown: "\(Int(value)) instance(s) down"
        }
    }
}

/// One entry of `alerts:`: a condition on live numbers that fires after it held for
/// `for`, and resolves when it no longer holds.
public struct AlertRule: Codable, Sendable, Equatable {
    public var name: String
    public var metric: AlertMetric
    /// The limit (a fraction for error_rate, milliseconds for latency); instance_down has
    /// none (any instance down is the condition).
    public var max: Double?
    public var forDuration: Duration
    public var severity: AlertSeverity
    /// How far back the router's numbers reach.
    public var window: Duration
    /// Fewer requests than this in the window: no data, the condition does not hold.
    public var minSamples: Int

    public static let defaultWindow: Duration = .seconds(60)
    public static let defaultMinSamples = 10

    public init(name: String, metric: AlertMetric, max: Double? = nil, for forDuration: Duration = .zero, severity: AlertSeverity = .warning,
                window: Duration = AlertRule.defaultWindow, minSamples: Int = AlertRule.defaultMinSamples) {
        self.name = name
        self.metric = metric
        self.max = max
        self.forDuration = forDuration
        self.severity = severity
        self.window = window
        self.minSamples = minSamples
    }

    enum CodingKeys: String, CodingKey { case name, metric, max, forDuration = "for", severity, window, minSamples = "min_samples" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        metric = try c.decode(AlertMetric.self, forKey: .metric)
        max = try c.decodeIfPresent(Double.self, forKey: .max)
        forDuration = try c.decodeIfPresent(TextDuration.self, forKey: .forDuration)?.value ?? .zero
        severity = try c.decodeIfPresent(AlertSeverity.self, forKey: .severity) ?? .warning
        window = try c.decodeIfPresent(TextDuration.self, forKey: .window)?.value ?? Self.defaultWindow
        minSamples = try c.decodeIfPresent(Int.self, forKey: .minSamples) ?? Self.defaultMinSamples
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(metric, forKey: .metric)
        try c.encodeIfPresent(max, forKey: .max)
        try c.encode(TextDuration(forDuration), forKey: .forDuration)
        try c.encode(severity, forKey: .severity)
        try c.encode(TextDuration(window), forKey: .window)
        try c.encode(minSamples, forKey: .minSamples)
    }

    /// Whether a reading breaks the rule. Nil (no data) never does.
    public func isViolated(by value: Double?) -> Bool {
        guard let value else { return false }
        if metric == .instanceDown { return value > (max ?? 0) }
        guard let max else { return false }
        return value > max
    }

    /// `error_rate 12.0 % > 5.0 %` for messages.
    public func describe(_ value: Double?) -> String {
        let reading = value.map(metric.format) ?? "no data"
        if metric == .instanceDown { return reading }
        return "\(metric.rawValue) \(reading)" + (max.map { " (limit \(metric.format($0)))" } ?? "")
    }
}
