import SlipwayCore
import Synchronization

/// Per-client-address token buckets of one service, shared by every event loop (a limit
/// per loop would multiply the allowance by the number of loops).
///
/// The buckets are spread over `shardCount` shards by address, each behind its own lock:
/// two loops contend only when their clients hash to the same shard, and then for the
/// few nanoseconds a refill takes. IPv6 clients are keyed by their /64 network (one host
/// usually holds a whole /64, so per-address buckets would be trivial to dodge).
///
/// Memory is bounded: a shard drops buckets that have refilled completely (forgetting a
/// full bucket changes nothing) every `sweepInterval`, and holds at most
/// `capacity / shardCount` addresses. When a shard is full of buckets that are all still
/// refilling, a new address takes the place of the one that has been quiet the longest
/// (that address starts over with a full bucket when it comes back).
final class RateLimiter: Sendable {
    enum Decision: Equatable {
        case allow
        /// Over the limit; retry after this many whole seconds (rounded up, at least 1).
        case limit(retryAfterSeconds: Int)
    }

    static let shardCount = 64
    static let defaultCapacity = 100_000
    static let sweepInterval: UInt64 = 10_000_000_000

    let spec: RateLimitSpec
    /// `100/s (burst 200)`, for the 429 body.
    let limitText: String
    private let perNano: Double
    private let burst: Double
    private let shardCapacity: Int
    private let shards: [Shard]

    private final class Shard: Sendable {
        struct State {
            var buckets: [IPBits: TokenBucket] = [:]
            var lastSweep: UInt64 = 0
        }
        let state = Mutex(State())
    }

    init(spec: RateLimitSpec, capacity: Int = RateLimiter.defaultCapacity) {
        self.spec = spec
        self.limitText = "\(Self.rateText(spec.perSecond)) (burst \(spec.burst))"
        self.perNano = spec.perSecond / 1e9
        self.burst = Double(max(1, spec.burst))
        self.shardCapacity = max(1, capacity / Self.shardCount)
        self.shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    /// Takes a token from `client`'s bucket at `now` (monotonic nanoseconds).
    func take(_ client: IPBits, now: UInt64) -> Decision {
        let key = client.family == .v6 ? client.masked(64) : client
        let shard = shards[Self.shardIndex(key)]
        let wait: UInt64? = shard.state.withLock { state in
            if let index = state.buckets.index(forKey: key) {
                return state.buckets.values[index].take(now: now, perNano: perNano, burst: burst)
            }
            if now &- state.lastSweep >= Self.sweepInterval || state.buckets.count >= shardCapacity {
                sweep(&state, now: now)
            }
            var bucket = TokenBucket(tokens: burst, now: now)
            let wait = bucket.take(now: now, perNano: perNano, burst: burst)
            state.buckets[key] = bucket
            return wait
        }
        guard let wait else { return .allow }
        let seconds = wait / 1_000_000_000 + (wait % 1_000_000_000 == 0 ? 0 : 1)
        return .limit(retryAfterSeconds: max(1, Int(clamping: seconds)))
    }

    /// Drops full buckets; if the shard is still at capacity, the quietest bucket.
    private func sweep(_ state: inout Shard.State, now: UInt64) {
        state.lastSweep = now
        state.buckets = state.buckets.filter { !$0.value.isFull(now: now, perNano: perNano, burst: burst) }
        if state.buckets.count >= shardCapacity,
           let quietest = state.buckets.min(by: { $0.value.updated < $1.value.updated })?.key {
            state.buckets[quietest] = nil
        }
    }

    static func rateText(_ perSecond: Double) -> String {
        for (factor, unit) in [(1.0, "s"), (60.0, "m"), (3600.0, "h")] {
            let count = perSecond * factor
            if count >= 1, abs(count - count.rounded()) < 1e-9, let whole = Int(exactly: count.rounded()) { return "\(whole)/\(unit)" }
        }
        return "\(perSecond)/s"
    }

    /// Addresses currently tracked (for tests and diagnostics).
    var trackedAddresses: Int {
        shards.reduce(0) { total, shard in total + shard.state.withLock { $0.buckets.count } }
    }

    @inline(__always)
    static func shardIndex(_ key: IPBits) -> Int {
        var x = key.high ^ (key.low &* 0x9E37_79B9_7F4A_7C15)
        x ^= x >> 29
        x = x &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 32
        return Int(truncatingIfNeeded: x & UInt64(shardCount - 1))
    }
}
