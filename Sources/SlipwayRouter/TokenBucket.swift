/// One client's token bucket: holds up to `burst` tokens, refills at a fixed rate, and each
/// request takes one. Pure value type; time is passed in (nanoseconds on a monotonic clock).
struct TokenBucket: Sendable, Equatable {
    var tokens: Double
    /// When `tokens` was last brought up to date.
    var updated: UInt64

    init(tokens: Double, now: UInt64) {
        self.tokens = tokens
        self.updated = now
    }

    /// Refills for the time since `updated`, then takes a token. Returns nil when the
    /// request may go, else the nanoseconds until a token will be there.
    @inline(__always)
    mutating func take(now: UInt64, perNano: Double, burst: Double) -> UInt64? {
        refill(now: now, perNano: perNano, burst: burst)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        // A rate so low that the wait overflows 64 bits of nanoseconds waits "forever".
        return UInt64(exactly: ((1 - tokens) / perNano).rounded(.up)) ?? .max
    }

    @inline(__always)
    mutating func refill(now: UInt64, perNano: Double, burst: Double) {
        if now > updated {
            tokens = min(burst, tokens + Double(now - updated) * perNano)
            updated = now
        }
    }

    /// Whether the bucket would be full at `now`: forgetting it changes nothing.
    func isFull(now: UInt64, perNano: Double, burst: Double) -> Bool {
        now >= updated && tokens + Double(now - updated) * perNano >= burst
    }
}
