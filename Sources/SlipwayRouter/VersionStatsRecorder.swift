import SlipwayCore
import Synchronization

typealias VersionStatsValue = VersionStats

/// The statistics of one service version: one `StatsWindow` per event loop, each behind its
/// own lock that only its loop takes on the hot path (uncontended) and `stats(window:)`
/// takes briefly when merging.
final class VersionStatsRecorder: Sendable {
    let service: String
    let version: String
    private let shards: [Shard]

    final class Shard: Sendable {
        let window = Mutex(StatsWindow())
    }

    init(service: String, version: String, shardCount: Int) {
        self.service = service
        self.version = version
        self.shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    @inline(__always)
    func record(shard: Int, status: Int?, routerError: Bool, grpcError: Bool = false, latencyMicros: UInt64?, nowNanos: UInt64) {
        shards[shard % shards.count].window.withLock {
            $0.record(status: status, routerError: routerError, grpcError: grpcError, latencyMicros: latencyMicros, nowNanos: nowNanos)
        }
    }

    func summary(windowSeconds: Int, nowNanos: UInt64) -> StatsSummary {
        var summary = StatsSummary()
        for shard in shards {
            shard.window.withLock { $0.collect(windowSeconds: windowSeconds, nowNanos: nowNanos, into: &summary) }
        }
        return summary
    }

    /// Everything recorded on every shard.
    func lifetime() -> LifetimeTotals {
        var total = LifetimeTotals()
        for shard in shards {
            shard.window.withLock { total.add($0.lifetime) }
        }
        return total
    }

    /// The newest second with data on any shard.
    var newestSecond: Int64? {
        shards.compactMap { shard in shard.window.withLock { $0.newestSecond } }.max()
    }
}
