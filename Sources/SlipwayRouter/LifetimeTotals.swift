import SlipwayCore

/// Cumulative counters of one version on one event loop since the router began counting
/// it, for the Prometheus export (the sliding windows forget; these only grow).
struct LifetimeTotals: Sendable {
    var totals = StatsTotals()
    var latencyBuckets = ExportedLatency.emptyBuckets
    var latencySumMicros: UInt64 = 0

    /// The same arguments as `StatsWindow.record`.
    mutating func record(status: Int?, routerError: Bool, grpcError: Bool = false, latencyMicros: UInt64?) {
        totals.add(status: status, routerError: routerError, grpcError: grpcError)
        if let latencyMicros {
            latencyBuckets[ExportedLatency.bucket(micros: latencyMicros)] += 1
            latencySumMicros &+= latencyMicros
        }
    }

    mutating func add(_ other: LifetimeTotals) {
        totals.add(other.totals)
        for i in latencyBuckets.indices { latencyBuckets[i] += other.latencyBuckets[i] }
        latencySumMicros &+= other.latencySumMicros
    }

    func versionTotals(service: String, version: String) -> VersionTotals {
        let t = totals
        let answered = t.byClass.1 + t.byClass.2 + t.byClass.3 + t.byClass.4 + t.byClass.5
        var result = VersionTotals(service: service, version: version,
                                   status1xx: t.byClass.1, status2xx: t.byClass.2, status3xx: t.byClass.3, status4xx: t.byClass.4, status5xx: t.byClass.5,
                                   noResponse: t.requests - answered, upstreamErrors: t.upstreamErrors,
                                   latencyBuckets: latencyBuckets, latencySumMicros: latencySumMicros)
        if t.grpcErrors > 0 { result.grpcErrors = t.grpcErrors }
        return result
    }
}
