import NIOCore

/// The active-health threshold counter for one endpoint, as a value-type state machine.
/// The health checker feeds it check outcomes; it answers whether the endpoint changed state.
/// No I/O, no clock: callers pass the time of each outcome.
public struct HealthThresholds: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case success
        /// A failed check, described in words (`connection refused`, `HTTP 503`).
        case failure(String)
    }

    public enum Transition: Sendable, Equatable {
        case becameHealthy
        case becameUnhealthy
    }

    public let healthyAfter: Int
    public let unhealthyAfter: Int
    /// Failures before `firstSeen + grace` do not count toward `unhealthyAfter`.
    public let graceEnds: NIODeadline

    public private(set) var isHealthy = false
    public private(set) var consecutiveSuccesses = 0
    public private(set) var consecutiveFailures = 0
    public private(set) var lastError: String?

    /// - Parameter healthy: start healthy (the last known health of an endpoint a restarted
    ///   router takes over): failures then count toward `unhealthyAfter` at once, no grace.
    public init(healthyAfter: Int, unhealthyAfter: Int, grace: Duration, firstSeen: NIODeadline, healthy: Bool = false) {
        self.healthyAfter = max(1, healthyAfter)
        self.unhealthyAfter = max(1, unhealthyAfter)
        self.graceEnds = healthy ? firstSeen : firstSeen + TimeAmount(grace)
        self.isHealthy = healthy
    }

    public func inGrace(at now: NIODeadline) -> Bool { now < graceEnds }

    public mutating func record(_ outcome: Outcome, at now: NIODeadline) -> Transition? {
        switch outcome {
        case .success:
            consecutiveSuccesses += 1
            consecutiveFailures = 0
            if !isHealthy && consecutiveSuccesses >= healthyAfter {
                isHealthy = true
                return .becameHealthy
            }
            return nil
        case .failure(let error):
            lastError = error
            consecutiveSuccesses = 0
            if inGrace(at: now) { return nil }
            consecutiveFailures += 1
            if isHealthy && consecutiveFailures >= unhealthyAfter {
                isHealthy = false
                return .becameUnhealthy
            }
            return nil
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, atto) = duration.components
        self = .nanoseconds(seconds &* 1_000_000_000 &+ atto / 1_000_000_000)
    }
}
