/// Where one alert rule stands.
public enum AlertPhase: String, Codable, Sendable, CaseIterable {
    /// The condition does not hold.
    case inactive
    /// The condition holds, not yet for the rule's `for`.
    case pending
    /// The condition held for `for`; a firing notification went out.
    case firing
}

/// The state of one rule (`GET /v1/alerts`).
public struct AlertState: Codable, Sendable, Equatable {
    public var phase: AlertPhase = .inactive
    /// When the condition began to hold (pending and firing).
    public var since: Double?
    /// When the rule began firing.
    public var firingSince: Double?
    /// The latest reading (nil: no data).
    public var value: Double?
    public var evaluatedAt: Double?

    public init() {}
}

/// The pure state machine of one alert rule: samples in, transitions out.
/// inactive → pending when the condition holds; pending → firing once it held for `for`
/// (at once with `for: 0s`); pending → inactive when it stops holding before that;
/// firing → inactive (resolved) when it no longer holds.
public struct AlertEvaluator: Sendable {
    public let rule: AlertRule
    public private(set) var state = AlertState()

    public enum Transition: Sendable, Equatable {
        case fired(value: Double?, since: Double)
        case resolved(value: Double?, firedAt: Double)
    }

    public init(rule: AlertRule, state: AlertState = AlertState()) {
        self.rule = rule
        self.state = state
    }

    /// Feeds one reading taken at `now` (nil: no data, which does not hold the condition).
    public mutating func observe(_ value: Double?, now: Double) -> Transition? {
        state.value = value
        state.evaluatedAt = now
        let holds = rule.isViolated(by: value)
        switch (state.phase, holds) {
        case (.inactive, true):
            state.phase = .pending
            state.since = now
            return fireIfDue(now: now, value: value)
        case (.pending, true):
            return fireIfDue(now: now, value: value)
        case (.pending, false):
            state.phase = .inactive
            state.since = nil
            return nil
        case (.firing, false):
            let firedAt = state.firingSince ?? now
            state.phase = .inactive
            state.since = nil
            state.firingSince = nil
            return .resolved(value: value, firedAt: firedAt)
        case (.firing, true), (.inactive, false):
            return nil
        }
    }

    private mutating func fireIfDue(now: Double, value: Double?) -> Transition? {
        guard let since = state.since, now - since >= rule.forDuration.seconds else { return nil }
        state.phase = .firing
        state.firingSince = now
        return .fired(value: value, since: since)
    }
}
