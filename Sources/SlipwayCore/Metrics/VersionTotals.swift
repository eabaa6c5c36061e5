/// What one version of a service did since the router began counting it: cumulative
/// counters for Prometheus (`GET /metrics`), unlike the sliding windows of `VersionStats`.
/// They restart from zero when the data plane restarts or forgets an idle version.
public struct VersionTotals: Codable, Sendable, Equatable {
    public var service: String
    public var version: String
    public var status1xx: UInt64
    public var status2xx: UInt64
    public var status3xx: UInt64
    public var status4xx: UInt64
    public var status5xx: UInt64
    /// Requests whose client left before any response.
    public var noResponse: UInt64
    /// Requests that got no upstream response (502/504 made by the router; also in 5xx).
    public var upstreamErrors: UInt64
    /// Requests per latency bucket of `ExportedLatency.bucketSeconds` (each counted once,
    /// in the first bucket whose bound is ≥ its latency), then the ones above the last bound.
    public var latencyBuckets: [UInt64]
    /// Sum of the latencies counted in `latencyBuckets`, in microseconds.
    public var latencySumMicros: UInt64
    /// The fleet server whose router counted these (nil: this machine's router).
    public var server: String?
    /// Upgraded connections (WebSocket…) open to the version's instances right now (a
    /// gauge); nil from a router that does not report them.
    public var openTunnels: Int?
    /// gRPC calls that ended with a non-zero `grpc-status` in an answer below 500; nil from
    /// a router that does not count them.
    public var grpcErrors: UInt64?

    public init(service: String, version: String, status1xx: UInt64 = 0, status2xx: UInt64 = 0, status3xx: UInt64 = 0, status4xx: UInt64 = 0, status5xx: UInt64 = 0,
                noResponse: UInt64 = 0, upstreamErrors: UInt64 = 0, latencyBuckets: [UInt64] = ExportedLatency.emptyBuckets, latencySumMicros: UInt64 = 0) {
        self.service = service
        self.version = version
        self.status1xx = status1xx
        self.status2xx = status2xx
        self.status3xx = status3xx
        self.status4xx = status4xx
        self.status5xx = status5xx
        self.noResponse = noResponse
        self.upstreamErrors = upstreamErrors
        self.latencyBuckets = latencyBuckets
        self.latencySumMicros = latencySumMicros
    }

    public var requests: UInt64 { status1xx + status2xx + status3xx + status4xx + status5xx + noResponse }
    public var latencyCount: UInt64 { latencyBuckets.reduce(0, +) }
}

/// The latency histogram Slipway exports: Prometheus' default buckets, in seconds.
public enum ExportedLatency {
    public static let bucketSeconds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// The bounds in microseconds, for counting.
    public static let bucketMicros: [UInt64] = bucketSeconds.map { UInt64(($0 * 1_000_000).rounded()) }
    /// One count per bound plus one for everything slower.
    public static var emptyBuckets: [UInt64] { [UInt64](repeating: 0, count: bucketSeconds.count + 1) }

    /// The index in `latencyBuckets` of a latency.
    @inline(__always)
    public static func bucket(micros: UInt64) -> Int {
        var i = 0
        while i < bucketMicros.count, micros > bucketMicros[i] { i += 1 }
        return i
    }
}
