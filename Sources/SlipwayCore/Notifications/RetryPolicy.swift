/// When a failed delivery is tried again: exponential backoff with full jitter
/// (a uniformly random delay between 0 and min(cap, base·2^(attempt−1))), and a limit
/// on attempts after which the notification is given up as failed.
public struct RetryPolicy: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration
    public var maxAttempts: Int

    public static let defaultBase: Duration = .seconds(5)
    public static let defaultCap: Duration = .seconds(900)
    /// 12 attempts: at most about 66 minutes of retrying (about half that on average).
    public static let defaultMaxAttempts = 12

    public init(base: Duration = RetryPolicy.defaultBase, cap: Duration = RetryPolicy.defaultCap, maxAttempts: Int = RetryPolicy.defaultMaxAttempts) {
        self.base = base
        self.cap = max(cap, base)
        self.maxAttempts = max(1, maxAttempts)
    }

    /// What to do after attempt number `attempts` (1 = the first) failed.
    public enum Next: Sendable, Equatable {
        /// Try again this many seconds from now.
        case retry(after: Double)
        /// Give up: the notification is failed.
        case giveUp
    }

    /// `random` returns a value in [0, 1) (injected so tests are exact).
    public func next(afterAttempts attempts: Int, permanent: Bool = false, random: () -> Double) -> Next {
        guard !permanent, attempts < maxAttempts else { return .giveUp }
        return .retry(after: random() * ceiling(afterAttempts: attempts))
    }

    /// The largest delay after `attempts` failures: min(cap, base·2^(attempts−1)).
    public func ceiling(afterAttempts attempts: Int) -> Double {
        let exponent = Double(min(max(attempts - 1, 0), 62))
        return min(cap.seconds, base.seconds * pow2(exponent))
    }

    private func pow2(_ e: Double) -> Double {
        var v = 1.0
        var i = 0.0
        while i < e { v *= 2; i += 1 }
        return v
    }
}
