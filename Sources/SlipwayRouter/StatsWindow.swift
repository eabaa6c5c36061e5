import Histogram
import SlipwayCore

/// Traffic buckets for the last `StatsWindow.seconds` seconds of one version on one event
/// loop: one slot per second for the last `fineSeconds`, and older seconds folded into
/// `coarseSeconds`-long groups as their per-second slot is reused. A value type with the
/// time passed in, so the window maths is testable.
///
/// Memory: a slot's latency histogram is allocated on first use and grows only to the
/// slowest latency it has seen since (2 significant digits, 32-bit counts); a slot reused
/// for a newer second starts a new one, so what a window holds follows the latencies of the
/// last `seconds`, not the slowest ever seen. A full window
/// at latencies up to 100 ms holds 90 histograms of about 5.6 KB — about 0.5 MB per
/// version per event loop (300 one-second 64-bit histograms of the whole 1 µs – 1 h range
/// took about 8 MB, measured in the soak benchmark).
struct StatsWindow: Sendable {
    /// The longest window that can be asked for.
    static let seconds = 300
    /// Windows up to this long are counted to the second.
    static let fineSeconds = 60
    /// Older seconds are kept in groups of this many: a window longer than `fineSeconds`
    /// counts each such group that lies at least half inside it.
    static let coarseSeconds = 10
    static let coarseSlots = seconds / coarseSeconds
    /// Latencies are microseconds; anything slower is recorded as this (one hour).
    static let highestLatencyMicros: UInt64 = 3_600_000_000

    typealias LatencyHistogram = Histogram<UInt32>

    struct Slot: Sendable {
        /// The uptime second this slot holds (for a group, its first second), or -1 when empty.
        var second: Int64 = -1
        var totals = StatsTotals()
        var latency: LatencyHistogram?

        /// Empties the slot for `second`. Its histogram is dropped, not zeroed: a histogram
        /// keeps the size its slowest latency gave it, so zeroing would keep every slot that
        /// ever saw an outlier at that size for the version's whole life (the soak saw the
        /// router's heap grow with it); the next request makes a small one again.
        mutating func reset(to second: Int64) {
            self.second = second
            totals = StatsTotals()
            latency = nil
        }

        mutating func add(_ other: Slot) {
            totals.add(other.totals)
            StatsWindow.merge(other.latency, into: &latency)
        }
    }

    /// Indexed by second modulo `fineSeconds`.
    private(set) var slots = [Slot](repeating: Slot(), count: StatsWindow.fineSeconds)
    /// Indexed by group (second / `coarseSeconds`) modulo `coarseSlots`.
    private(set) var groups = [Slot](repeating: Slot(), count: StatsWindow.coarseSlots)
    /// Everything ever recorded here, for the Prometheus export.
    private(set) var lifetime = LifetimeTotals()

    /// Records one finished request.
    /// - Parameters:
    ///   - status: the status sent to the client, nil when the client left before a response.
    ///   - routerError: the router made the response (502/504) because the upstream did not answer.
    ///   - latencyMicros: request head received to response end written.
    ///   - grpcError: a gRPC call that ended with a non-zero `grpc-status`.
    mutating func record(status: Int?, routerError: Bool, grpcError: Bool = false, latencyMicros: UInt64?, nowNanos: UInt64) {
        let second = Int64(nowNanos / 1_000_000_000)
        let index = Int(second % Int64(StatsWindow.fineSeconds))
        if slots[index].second != second { rollOver(index, to: second) }
        slots[index].totals.add(status: status, routerError: routerError, grpcError: grpcError)
        lifetime.record(status: status, routerError: routerError, grpcError: grpcError, latencyMicros: latencyMicros)
        if let latencyMicros {
            if slots[index].latency == nil { slots[index].latency = StatsWindow.makeHistogram() }
            slots[index].latency?.record(min(latencyMicros, StatsWindow.highestLatencyMicros))
        }
    }

    /// Reuses the per-second slot at `index` for `second`, first folding what it held into
    /// its group when that is still inside the longest window.
    private mutating func rollOver(_ index: Int, to second: Int64) {
        let old = slots[index]
        if old.second >= 0, old.totals.requests > 0, old.second > second - Int64(StatsWindow.seconds) {
            let start = old.second - old.second % Int64(StatsWindow.coarseSeconds)
            let g = Int((start / Int64(StatsWindow.coarseSeconds)) % Int64(StatsWindow.coarseSlots))
            if groups[g].second < start { groups[g].reset(to: start) }
            if groups[g].second == start { groups[g].add(old) }
        }
        slots[index].reset(to: second)
    }

    /// Adds the last `windowSeconds` seconds (the current second included) into `summary`:
    /// to the second up to `fineSeconds`, in whole groups of `coarseSeconds` beyond.
    func collect(windowSeconds: Int, nowNanos: UInt64, into summary: inout StatsSummary) {
        let now = Int64(nowNanos / 1_000_000_000)
        let window = Int64(min(max(windowSeconds, 1), StatsWindow.seconds))
        let oldest = now - window + 1
        for slot in slots where slot.second >= oldest && slot.second <= now {
            summary.add(slot)
        }
        // Groups only hold seconds whose slot was reused, so they never repeat a slot; they
        // lie wholly before the last `fineSeconds` seconds except the group that straddles it.
        guard window > Int64(StatsWindow.fineSeconds) else { return }
        let half = Int64(StatsWindow.coarseSeconds / 2)
        for group in groups where group.second >= 0 && group.second + half >= oldest && group.second <= now {
            summary.add(group)
        }
    }

    /// The newest second holding data, or nil.
    var newestSecond: Int64? {
        slots.lazy.filter { $0.totals.requests > 0 }.map(\.second).max()
    }

    /// Bytes held by the latency histograms (the rest of the window is fixed and small).
    var latencyFootprintBytes: Int {
        (slots + groups).reduce(0) { $0 + ($1.latency?.estimatedFootprintInBytes ?? 0) }
    }

    /// Adds `other` into `target`, making `target` when `other` holds samples.
    static func merge(_ other: LatencyHistogram?, into target: inout LatencyHistogram?) {
        guard let other, other.totalCount > 0 else { return }
        if target == nil { target = makeHistogram() }
        target?.add(other)
    }

    /// 2 significant digits from 1 µs, growing to the largest value recorded.
    static func makeHistogram() -> LatencyHistogram {
        LatencyHistogram(numberOfSignificantValueDigits: .two)
    }
}

struct StatsTotals: Sendable, Equatable {
    var requests: UInt64 = 0
    /// Index 1...5 for 1xx...5xx; index 0 unused.
    var byClass: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    var upstreamErrors: UInt64 = 0
    /// gRPC calls ended with a non-zero `grpc-status` (in an answer below 500).
    var grpcErrors: UInt64 = 0

    mutating func add(status: Int?, routerError: Bool, grpcError: Bool = false) {
        requests += 1
        if routerError { upstreamErrors += 1 }
        if grpcError, (status ?? 0) < 500 { grpcErrors += 1 }
        guard let status else { return }
        switch status / 100 {
        case 1: byClass.1 += 1
        case 2: byClass.2 += 1
        case 3: byClass.3 += 1
        case 4: byClass.4 += 1
        case 5: byClass.5 += 1
        default: break
        }
    }

    mutating func add(_ other: StatsTotals) {
        requests += other.requests
        upstreamErrors += other.upstreamErrors
        grpcErrors += other.grpcErrors
        byClass.1 += other.byClass.1
        byClass.2 += other.byClass.2
        byClass.3 += other.byClass.3
        byClass.4 += other.byClass.4
        byClass.5 += other.byClass.5
    }

    static func == (lhs: StatsTotals, rhs: StatsTotals) -> Bool {
        lhs.requests == rhs.requests && lhs.upstreamErrors == rhs.upstreamErrors && lhs.grpcErrors == rhs.grpcErrors
            && lhs.byClass.1 == rhs.byClass.1 && lhs.byClass.2 == rhs.byClass.2 && lhs.byClass.3 == rhs.byClass.3
            && lhs.byClass.4 == rhs.byClass.4 && lhs.byClass.5 == rhs.byClass.5
    }
}

/// Several windows merged, ready to report.
struct StatsSummary: Sendable {
    var totals = StatsTotals()
    var latency: StatsWindow.LatencyHistogram?

    mutating func add(_ slot: StatsWindow.Slot) {
        totals.add(slot.totals)
        StatsWindow.merge(slot.latency, into: &latency)
    }

    /// - Parameter latencyBuckets: also export the merged histogram (`VersionStats.latency`).
    func versionStats(service: String, version: String, windowSeconds: Double, latencyBuckets: Bool = false) -> VersionStatsValue {
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        let latency = self.latency.flatMap { $0.totalCount > 0 ? $0 : nil }
        return VersionStatsValue(
            service: service, version: version, windowSeconds: windowSeconds,
            requests: totals.requests,
            status1xx: totals.byClass.1, status2xx: totals.byClass.2, status3xx: totals.byClass.3,
            status4xx: totals.byClass.4, status5xx: totals.byClass.5,
            upstreamErrors: totals.upstreamErrors,
            grpcErrors: totals.grpcErrors == 0 ? nil : totals.grpcErrors,
            latencyP50Ms: latency.map { ms($0.valueAtPercentile(50)) },
            latencyP95Ms: latency.map { ms($0.valueAtPercentile(95)) },
            latencyP99Ms: latency.map { ms($0.valueAtPercentile(99)) },
            latencyMaxMs: latency.map { ms($0.max) },
            latency: latencyBuckets ? buckets : nil
        )
    }

    /// The merged histogram's recorded values, ascending: each bucket at the value the
    /// histogram reports for it (the highest value equivalent to its samples), with its
    /// sample count. Empty when nothing was recorded.
    var buckets: [LatencyBucket] {
        guard let latency, latency.totalCount > 0 else { return [] }
        var result: [LatencyBucket] = []
        for value in latency.recordedValues() {
            result.append(LatencyBucket(valueMicroseconds: value.value, count: UInt64(value.count)))
        }
        return result
    }
}
