import Foundation

/// One bucket of a latency histogram as the router exports it: every sample in the
/// bucket is counted at `valueMicroseconds`.
public struct LatencyBucket: Codable, Sendable, Equatable {
    public var valueMicroseconds: UInt64
    public var count: UInt64

    public init(valueMicroseconds: UInt64, count: UInt64) {
        self.valueMicroseconds = valueMicroseconds
        self.count = count
    }
}

/// What one version of a service did over an analysis window.
public struct VersionWindow: Codable, Sendable, Equatable {
    public var version: String
    public var requests: UInt64
    /// Requests answered 5xx, including the router's own 502/504.
    public var errors: UInt64
    /// Latency of the requests in the window, as histogram buckets.
    public var latency: [LatencyBucket]

    public init(version: String, requests: UInt64, errors: UInt64, latency: [LatencyBucket] = []) {
        self.version = version
        self.requests = requests
        self.errors = errors
        self.latency = latency
    }

    /// The router's counters for a version plus its exported latency buckets.
    public init(stats: VersionStats, latency: [LatencyBucket]) {
        self.init(version: stats.version, requests: stats.requests, errors: stats.errors, latency: latency)
    }

    /// errors / requests; nil with no requests.
    public var errorRate: Double? {
        requests == 0 ? nil : Double(errors) / Double(requests)
    }

    /// How many latency samples the buckets hold.
    public var latencySamples: UInt64 {
        latency.reduce(0) { $0 + $1.count }
    }

    /// The latency quantile `q` (0…1) in milliseconds by nearest rank: the smallest bucket
    /// value with at least ⌈q·n⌉ samples at or below it. Nil with no samples.
    public func latencyMs(quantile q: Double) -> Double? {
        let buckets = latency.filter { $0.count > 0 }.sorted { $0.valueMicroseconds < $1.valueMicroseconds }
        let n = buckets.reduce(0) { $0 + $1.count }
        guard n > 0 else { return nil }
        // The small slack keeps 0.95 × 20 at rank 19 despite binary rounding.
        let rank = max(1, UInt64((min(max(q, 0), 1) * Double(n) - 1e-9).rounded(.up)))
        var seen: UInt64 = 0
        for bucket in buckets {
            seen += bucket.count
            if seen >= rank { return Double(bucket.valueMicroseconds) / 1000 }
        }
        return buckets.last.map { Double($0.valueMicroseconds) / 1000 }
    }

    /// The buckets as weighted samples in milliseconds, for the rank tests.
    public var latencySamplesMs: [WeightedValue] {
        latency.map { WeightedValue(Double($0.valueMicroseconds) / 1000, count: Int(clamping: $0.count)) }
    }
}

/// The input of one analysis check: the canary's numbers over a window and, when there is
/// a stable release, the stable's numbers over the same window.
public struct MetricWindow: Codable, Sendable, Equatable {
    /// How much time the numbers cover. Zero (or less) means an empty window.
    public var seconds: Double
    public var canary: VersionWindow
    public var stable: VersionWindow?

    public init(seconds: Double, canary: VersionWindow, stable: VersionWindow? = nil) {
        self.seconds = seconds
        self.canary = canary
        self.stable = stable
    }
}
