/// What the router reports back to the control plane (admin `GET /health`, `GET /stats`).

/// The router's view of one instance's health.
public struct EndpointHealth: Codable, Sendable, Equatable {
    public var id: String
    public var service: String
    public var version: String
    /// Passed `healthy` consecutive active checks and not (yet) failed `unhealthy`.
    public var healthy: Bool
    /// Ejected by passive health (connection failures or a run of 5xx) until this time
    /// (seconds since 1970), or nil.
    public var ejectedUntil: Double?
    /// The last failing active check, in words (`connection refused`, `HTTP 500`, `timed out after 1s`).
    public var lastError: String?
    public var consecutiveSuccesses: Int
    public var consecutiveFailures: Int
    /// Requests currently being proxied to this instance.
    public var inflight: Int
    /// Upgraded connections (WebSocket…) open to this instance; nil from a router that
    /// does not report them.
    public var tunnels: Int?

    public init(id: String, service: String, version: String, healthy: Bool, ejectedUntil: Double? = nil, lastError: String? = nil, consecutiveSuccesses: Int = 0, consecutiveFailures: Int = 0, inflight: Int = 0, tunnels: Int? = nil) {
        self.id = id
        self.service = service
        self.version = version
        self.healthy = healthy
        self.ejectedUntil = ejectedUntil
        self.lastError = lastError
        self.consecutiveSuccesses = consecutiveSuccesses
        self.consecutiveFailures = consecutiveFailures
        self.inflight = inflight
        self.tunnels = tunnels
    }
}

/// Traffic one version of a service received over a sliding window.
public struct VersionStats: Codable, Sendable, Equatable {
    public var service: String
    public var version: String
    public var windowSeconds: Double
    public var requests: UInt64
    public var status1xx: UInt64
    public var status2xx: UInt64
    public var status3xx: UInt64
    public var status4xx: UInt64
    public var status5xx: UInt64
    /// Requests that got no upstream response (502/504 made by the router).
    public var upstreamErrors: UInt64
    /// gRPC calls that ended with a `grpc-status` other than 0 in an HTTP answer below 500
    /// (nil: none, or a router that does not count them).
    public var grpcErrors: UInt64?
    public var latencyP50Ms: Double?
    public var latencyP95Ms: Double?
    public var latencyP99Ms: Double?
    public var latencyMaxMs: Double?
    /// The window's latency histogram as buckets (each sample counted at its bucket's
    /// value), ascending; only when asked for (`GET /stats?window=S&latency=buckets`).
    public var latency: [LatencyBucket]?

    public init(service: String, version: String, windowSeconds: Double, requests: UInt64 = 0, status1xx: UInt64 = 0, status2xx: UInt64 = 0, status3xx: UInt64 = 0, status4xx: UInt64 = 0, status5xx: UInt64 = 0, upstreamErrors: UInt64 = 0, grpcErrors: UInt64? = nil, latencyP50Ms: Double? = nil, latencyP95Ms: Double? = nil, latencyP99Ms: Double? = nil, latencyMaxMs: Double? = nil, latency: [LatencyBucket]? = nil) {
        self.service = service
        self.version = version
        self.windowSeconds = windowSeconds
        self.requests = requests
        self.status1xx = status1xx
        self.status2xx = status2xx
        self.status3xx = status3xx
        self.status4xx = status4xx
        self.status5xx = status5xx
        self.upstreamErrors = upstreamErrors
        self.grpcErrors = grpcErrors
        self.latencyP50Ms = latencyP50Ms
        self.latencyP95Ms = latencyP95Ms
        self.latencyP99Ms = latencyP99Ms
        self.latencyMaxMs = latencyMaxMs
        self.latency = latency
    }

    /// Failed requests: answered 5xx (including router-made 502/504), or gRPC calls that
    /// ended with a non-zero `grpc-status`.
    public var errors: UInt64 { status5xx + (grpcErrors ?? 0) }

    /// Share of failed requests (`errors`); nil on no requests.
    public var errorRate: Double? {
        requests == 0 ? nil : Double(errors) / Double(requests)
    }
}

/// An error binding a listen address, with the holder of the port when it could be found.
public struct ListenFailure: Codable, Sendable, Equatable, Error {
    public var address: ListenAddress
    public var service: String
    public var message: String
    public init(address: ListenAddress, service: String, message: String) {
        self.address = address
        self.service = service
        self.message = message
    }
}

/// Requests the router answered at a service's edge without a version handling them:
/// 429 (over the per-client rate limit) and 403 (a restricted path from a client outside
/// its allowlist). Cumulative since the router started; not part of any version's numbers.
public struct EdgeTotals: Codable, Sendable, Equatable {
    public var service: String
    public var rateLimited: UInt64
    public var forbidden: UInt64

    public init(service: String, rateLimited: UInt64, forbidden: UInt64) {
        self.service = service
        self.rateLimited = rateLimited
        self.forbidden = forbidden
    }
}

extension VersionStats {
    /// One figure per service and version from several routers' (a fleet's servers, each
    /// counting its own requests): counts add up; with latency buckets the percentiles are
    /// recomputed from the merged histogram (nearest rank), otherwise each is the largest
    /// of the routers' (an upper bound).
    public static func merged(_ parts: [[VersionStats]]) -> [VersionStats] {
        var order: [String] = []
        var byKey: [String: VersionStats] = [:]
        for stats in parts.joined() {
            let key = stats.service + "\u{0}" + stats.version
            guard var total = byKey[key] else {
                byKey[key] = stats
                order.append(key)
                continue
            }
            total.requests += stats.requests
            total.status1xx += stats.status1xx
            total.status2xx += stats.status2xx
            total.status3xx += stats.status3xx
            total.status4xx += stats.status4xx
            total.status5xx += stats.status5xx
            total.upstreamErrors += stats.upstreamErrors
            if let grpc = stats.grpcErrors { total.grpcErrors = (total.grpcErrors ?? 0) + grpc }
            total.windowSeconds = max(total.windowSeconds, stats.windowSeconds)
            if let a = total.latency, let b = stats.latency {
                var counts: [UInt64: UInt64] = [:]
                for bucket in a + b { counts[bucket.valueMicroseconds, default: 0] += bucket.count }
                let buckets = counts.keys.sorted().map { LatencyBucket(valueMicroseconds: $0, count: counts[$0]!) }
                total.latency = buckets
                total.latencyP50Ms = Self.quantile(buckets, 0.50)
                total.latencyP95Ms = Self.quantile(buckets, 0.95)
                total.latencyP99Ms = Self.quantile(buckets, 0.99)
                total.latencyMaxMs = buckets.last.map { Double($0.valueMicroseconds) / 1000 }
            } else {
                total.latency = nil
                total.latencyP50Ms = Self.larger(total.latencyP50Ms, stats.latencyP50Ms)
                total.latencyP95Ms = Self.larger(total.latencyP95Ms, stats.latencyP95Ms)
                total.latencyP99Ms = Self.larger(total.latencyP99Ms, stats.latencyP99Ms)
                total.latencyMaxMs = Self.larger(total.latencyMaxMs, stats.latencyMaxMs)
            }
            byKey[key] = total
        }
        return order.compactMap { byKey[$0] }
    }

    static func larger(_ a: Double?, _ b: Double?) -> Double? {
        switch (a, b) {
        case let (a?, b?): max(a, b)
        default: a ?? b
        }
    }

    /// The nearest-rank quantile of a histogram, in milliseconds.
    static func quantile(_ buckets: [LatencyBucket], _ q: Double) -> Double? {
        let total = buckets.reduce(UInt64(0)) { $0 + $1.count }
        guard total > 0 else { return nil }
        let rank = max(1, UInt64((q * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for bucket in buckets {
            seen += bucket.count
            if seen >= rank { return Double(bucket.valueMicroseconds) / 1000 }
        }
        return buckets.last.map { Double($0.valueMicroseconds) / 1000 }
    }
}
