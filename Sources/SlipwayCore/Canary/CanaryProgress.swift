/// A canary rollout's progress through its steps, persisted with the rollout.
public struct CanaryProgress: Codable, Sendable, Equatable {
    public var steps: [CanaryStep]
    /// The step being carried out; `steps.count` means every step is done and the
    /// rollout waits at the final gate (a passing background analysis) to promote.
    public var stepIndex: Int = 0
    /// The canary's share of requests now, 0…100.
    public var weight: Int = 0
    public var stepStartedAt: Double?
    /// When the canary began to take traffic; analysis windows do not reach back before it.
    public var trafficSince: Double?
    /// Why the rollout is paused (phase `paused`).
    public var pauseReason: String?
    /// A pause that a person asked for must be resumed by a person; an inconclusive
    /// pause lifts with `resume` or `promote` too.
    public var pausedByStep: Bool = false
    /// The policies this rollout runs, copied from the service when it began.
    public var policies: [String: AnalysisPolicy]
    public var backgroundPolicy: String
    public var background: AnalysisTracker
    public var stepAnalysis: AnalysisTracker?
    public var nextBackgroundAt: Double?
    public var nextStepAnalysisAt: Double?
    /// The last background run: its outcome and when (a step completes only after a
    /// passing run that started after the step).
    public var lastBackgroundOutcome: AnalysisOutcome?
    public var lastBackgroundAt: Double?
    public var lastBackgroundSummary: String?
    public var maxRestarts: Int
    public var sticky: Bool

    public init(spec: CanarySpec, policies: [String: AnalysisPolicy], backgroundPolicy: String) {
        self.steps = spec.steps
        self.policies = policies
        self.backgroundPolicy = backgroundPolicy
        self.background = AnalysisTracker(policy: policies[backgroundPolicy] ?? .default)
        self.maxRestarts = spec.maxRestarts
        self.sticky = spec.sticky
    }

    public func policy(_ name: String) -> AnalysisPolicy {
        policies[name] ?? .default
    }

    /// The step being carried out, or nil at the final gate.
    public var currentStep: CanaryStep? {
        stepIndex < steps.count ? steps[stepIndex] : nil
    }

    /// `step 2/5 (pause 30s)` or `final gate`.
    public var position: String {
        guard let step = currentStep else { return "after the last step" }
        return "step \(stepIndex + 1)/\(steps.count) (\(step.label))"
    }
}

/// A decision as the machine (or the controller, for people's commands) words it.
public struct DecisionDraft: Codable, Sendable, Equatable {
    public var kind: DecisionKind
    /// `analysis`, `health`, `timer`, or the person (`alice via CLI`).
    public var actor: String
    /// One plain sentence: what was decided and why, with the numbers.
    public var summary: String
    /// The analysis run behind the decision, with every check's evidence.
    public var verdict: AnalysisRunVerdict?
    public var step: Int?
    public var weight: Int?

    public init(kind: DecisionKind, actor: String, summary: String, verdict: AnalysisRunVerdict? = nil, step: Int? = nil, weight: Int? = nil) {
        self.kind = kind
        self.actor = actor
        self.summary = summary
        self.verdict = verdict
        self.step = step
        self.weight = weight
    }
}

public enum DecisionKind: String, Codable, Sendable, CaseIterable {
    case started
    case weightSet = "weight_set"
    case stepCompleted = "step_completed"
    case analysisPassed = "analysis_passed"
    case inconclusive
    case paused
    case resumed
    case promoted
    case aborted
    case rolledBack = "rolled_back"
    case retried
    /// An approver said yes to a rollout awaiting approval.
    case approved
    /// An approver said no: the rollout ends before anything starts.
    case rejected
}

/// A stored decision (`GET /v1/rollouts/ID/decisions`, `slipway why`).
public struct DecisionRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var service: String
    public var rolloutID: Int64
    public var time: Double
    public var kind: DecisionKind
    public var actor: String
    public var summary: String
    public var verdict: AnalysisRunVerdict?
    public var step: Int?
    public var weight: Int?

    public init(id: Int64, service: String, rolloutID: Int64, time: Double, draft: DecisionDraft) {
        self.id = id
        self.service = service
        self.rolloutID = rolloutID
        self.time = time
        self.kind = draft.kind
        self.actor = draft.actor
        self.summary = draft.summary
        self.verdict = draft.verdict
        self.step = draft.step
        self.weight = draft.weight
    }
}

/// A rollout with its decisions: `slipway why` and `GET /v1/services/NAME/why`.
public struct RolloutExplanation: Codable, Sendable {
    public var rollout: RolloutRecord
    public var decisions: [DecisionRecord]
    /// Its post-deploy checks (`verify:`), earliest first; nil when it has none.
    public var verifications: [VerificationRecord]?

    public init(rollout: RolloutRecord, decisions: [DecisionRecord], verifications: [VerificationRecord]? = nil) {
        self.rollout = rollout
        self.decisions = decisions
        self.verifications = verifications
    }
}
