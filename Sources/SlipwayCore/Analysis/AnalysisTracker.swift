/// What the rollout does after an analysis run.
public enum AnalysisDecision: Codable, Sendable, Equatable {
    /// Keep going: the step's analysis continues (or completes when its time is up).
    case `continue`
    /// Failed runs reached `failure_limit`: abort the rollout and roll back.
    case abort(reason: String)
    /// Inconclusive runs reached `inconclusive_limit` with `on_inconclusive: pause`:
    /// hold the rollout until a person promotes or aborts it.
    case pauseInconclusive(reason: String)
    /// Inconclusive runs reached `inconclusive_limit` with `on_inconclusive: fail`: roll back.
    case failInconclusive(reason: String)

    /// Abort and fail end the rollout; a pause waits for a person.
    public var isTerminal: Bool {
        switch self {
        case .abort, .failInconclusive: true
        case .continue, .pauseInconclusive: false
        }
    }
}

/// Counts analysis runs in a row and decides when they end or pause a rollout. A value
/// type with no I/O: feed it each run's verdict, perform the decision it returns.
///
/// - A failed run extends the failure streak; only a pass ends it (an inconclusive run
///   in between proves nothing, so F, I, F counts two failures in a row).
/// - An inconclusive run extends the inconclusive streak; any conclusive run ends it.
/// - Once it has decided to abort or fail, it keeps returning that decision.
/// - After a pause, `resume()` (a person let the rollout go on) starts both streaks over.
public struct AnalysisTracker: Codable, Sendable, Equatable {
    public var failureLimit: Int
    public var inconclusiveLimit: Int
    public var onInconclusive: InconclusiveAction
    public private(set) var consecutiveFailures = 0
    public private(set) var consecutiveInconclusive = 0
    public private(set) var runs = 0
    /// The terminal decision, once made.
    public private(set) var final: AnalysisDecision?

    public init(failureLimit: Int = AnalysisDefaults.failureLimit, inconclusiveLimit: Int = AnalysisDefaults.inconclusiveLimit, onInconclusive: InconclusiveAction = AnalysisDefaults.onInconclusive) {
        self.failureLimit = max(1, failureLimit)
        self.inconclusiveLimit = max(1, inconclusiveLimit)
        self.onInconclusive = onInconclusive
    }

    public init(policy: AnalysisPolicy) {
        self.init(failureLimit: policy.failureLimit, inconclusiveLimit: policy.inconclusiveLimit, onInconclusive: policy.onInconclusive)
    }

    public mutating func record(_ verdict: AnalysisRunVerdict) -> AnalysisDecision {
        record(verdict.outcome, summary: verdict.summary)
    }

    /// `summary` explains the run and ends up in the decision's reason.
    public mutating func record(_ outcome: AnalysisOutcome, summary: String) -> AnalysisDecision {
        if let final { return final }
        runs += 1
        switch outcome {
        case .pass:
            consecutiveFailures = 0
            consecutiveInconclusive = 0
            return .continue
        case .fail:
            consecutiveFailures += 1
            consecutiveInconclusive = 0
            guard consecutiveFailures >= failureLimit else { return .continue }
            let decision = AnalysisDecision.abort(reason: "\(Self.inARow(consecutiveFailures, "failed")) (failure_limit \(failureLimit)): \(summary)")
            final = decision
            return decision
        case .inconclusive:
            consecutiveInconclusive += 1
            guard consecutiveInconclusive >= inconclusiveLimit else { return .continue }
            let streak = "\(Self.inARow(consecutiveInconclusive, "was inconclusive")) (inconclusive_limit \(inconclusiveLimit))"
            switch onInconclusive {
            case .pause:
                return .pauseInconclusive(reason: "\(streak), pausing the rollout: \(summary)")
            case .fail:
                let decision = AnalysisDecision.failInconclusive(reason: "\(streak), failing the rollout: \(summary)")
                final = decision
                return decision
            }
        }
    }

    /// A person resumed a paused rollout: count from scratch.
    public mutating func resume() {
        consecutiveFailures = 0
        consecutiveInconclusive = 0
    }

    private static func inARow(_ n: Int, _ verb: String) -> String {
        n == 1 ? "analysis \(verb)" : "analysis \(verb) \(n) runs in a row"
    }
}
