import SlipwayCore
import Testing
@testable import SlipwayRouter

/// The token bucket and the shared per-address limiter, with time passed in.
@Suite struct RateLimiterTests {
    static let second: UInt64 = 1_000_000_000
    static let client = IPBits("192.0.2.7")!

    @Test func bucketAllowsTheBurstThenRefillsAtTheRate() {
        var bucket = TokenBucket(tokens: 3, now: 0)
        let perNano = 2.0 / 1e9 // 2 per second
        #expect(bucket.take(now: 0, perNano: perNano, burst: 3) == nil)
        #expect(bucket.take(now: 0, perNano: perNano, burst: 3) == nil)
        #expect(bucket.take(now: 0, perNano: perNano, burst: 3) == nil)
        #expect(bucket.take(now: 0, perNano: perNano, burst: 3) == Self.second / 2, "the next token comes in half a second")
        #expect(bucket.take(now: Self.second / 4, perNano: perNano, burst: 3) == Self.second / 4)
        #expect(bucket.take(now: Self.second / 2, perNano: perNano, burst: 3) == nil)
        #expect(bucket.take(now: Self.second / 2, perNano: perNano, burst: 3) != nil)
        // Idle for a minute: full again, never above the burst.
        #expect(bucket.isFull(now: 60 * Self.second, perNano: perNano, burst: 3))
        for _ in 0..<3 { #expect(bucket.take(now: 60 * Self.second, perNano: perNano, burst: 3) == nil) }
        #expect(bucket.take(now: 60 * Self.second, perNano: perNano, burst: 3) != nil)
    }

    @Test func ratesTheArithmeticCannotHoldDoNotTrap() {
        // A wait beyond 64 bits of nanoseconds (a rate of 1e-11/s in a table from elsewhere:
        // the config refuses it) trapped converting to UInt64 on the second request.
        var bucket = TokenBucket(tokens: 1, now: 0)
        let perNano = 1e-11 / 1e9
        #expect(bucket.take(now: 0, perNano: perNano, burst: 1) == nil)
        #expect(bucket.take(now: 0, perNano: perNano, burst: 1) == .max)
        let slow = RateLimiter(spec: RateLimitSpec(perSecond: 1e-11, burst: 1))
        #expect(slow.take(Self.client, now: 0) == .allow)
        #expect(slow.take(Self.client, now: 0) == .limit(retryAfterSeconds: Int(UInt64.max / 1_000_000_000 + 1)))
        // A rate beyond Int (found by fuzzing the route table) trapped describing the limit.
        #expect(RateLimiter.rateText(5.5e125) == "5.5e+125/s")
        #expect(RateLimiter.rateText(100) == "100/s")
        #expect(RateLimitSpec.defaultBurst(perSecond: 1e23) == 1_000_000)
        #expect(RateLimitSpec.defaultBurst(perSecond: .infinity) == 1)
    }

    @Test func limiterAnswersRetryAfterInWholeSecondsRoundedUp() {
        let limiter = RateLimiter(spec: RateLimitSpec(perSecond: 0.25, burst: 2)) // one per 4 s
        #expect(limiter.take(Self.client, now: 0) == .allow)
        #expect(limiter.take(Self.client, now: 0) == .allow)
        #expect(limiter.take(Self.client, now: 0) == .limit(retryAfterSeconds: 4))
        #expect(limiter.take(Self.client, now: Self.second / 2) == .limit(retryAfterSeconds: 4), "3.5 s rounds up to 4")
        #expect(limiter.take(Self.client, now: 3 * Self.second + 1) == .limit(retryAfterSeconds: 1), "a sliver still says 1")
        #expect(limiter.take(Self.client, now: 4 * Self.second) == .allow)
        #expect(limiter.take(IPBits("192.0.2.8")!, now: 4 * Self.second) == .allow, "another address has its own bucket")
        #expect(limiter.limitText == "15/m (burst 2)")
        #expect(RateLimiter(spec: RateLimitSpec(perSecond: 100, burst: 200)).limitText == "100/s (burst 200)")
    }

    @Test func ipv6ClientsShareABucketPerSlash64() {
        let limiter = RateLimiter(spec: RateLimitSpec(perSecond: 1, burst: 1))
        #expect(limiter.take(IPBits("2001:db8:1:2::1")!, now: 0) == .allow)
        #expect(limiter.take(IPBits("2001:db8:1:2::ffff")!, now: 0) != .allow)
        #expect(limiter.take(IPBits("2001:db8:1:3::1")!, now: 0) == .allow)
    }

    /// Several threads (as the router's event loops) take from one address's bucket at the
    /// same instant: exactly `burst` requests pass in total, not `burst` per thread.
    @Test func limitIsSharedAcrossThreads() async {
        let limiter = RateLimiter(spec: RateLimitSpec(perSecond: 1, burst: 500))
        let allowed = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var passed = 0
                    for _ in 0..<1000 where limiter.take(Self.client, now: 7) == .allow { passed += 1 }
                    return passed
                }
            }
            return await group.reduce(0, +)
        }
        #expect(allowed == 500)
    }

    @Test func memoryIsBoundedAndIdleBucketsAreForgotten() {
        let capacity = RateLimiter.shardCount * 4
        let limiter = RateLimiter(spec: RateLimitSpec(perSecond: 1, burst: 2), capacity: capacity)
        for i in 0..<5000 {
            _ = limiter.take(IPBits(v4: 0x0A00_0000 | UInt32(i)), now: 0)
        }
        #expect(limiter.trackedAddresses <= capacity, "\(limiter.trackedAddresses) tracked")
        // After the sweep interval every bucket has refilled: new addresses sweep them away.
        let later = RateLimiter.sweepInterval + 1
        for i in 0..<(RateLimiter.shardCount * 8) {
            _ = limiter.take(IPBits(v4: 0xC000_0200 | UInt32(i)), now: later)
        }
        #expect(limiter.trackedAddresses <= capacity)
        // A busy address keeps being limited while the table is full of others.
        let busy = IPBits("198.51.100.1")!
        #expect(limiter.take(busy, now: later) == .allow)
        #expect(limiter.take(busy, now: later) == .allow)
        #expect(limiter.take(busy, now: later) != .allow)
    }
}
