/// What a notification is about. The raw values are the names used in `slipway.yml`
/// (`events: [rolled_back, failed]`), in payloads and in the API.
public enum NotificationEvent: String, Codable, Sendable, CaseIterable {
    case started
    case stepCompleted = "step_completed"
    case paused
    case awaitingApproval = "awaiting_approval"
    case promoted
    case succeeded
    case rolledBack = "rolled_back"
    case failed
    case instanceCrashed = "instance_crashed"
    case alertFiring = "alert_firing"
    case alertResolved = "alert_resolved"
    /// A post-deploy check (`verify:`) passed, failed, or lacked data (never a rollback).
    case verificationPassed = "verification_passed"
    case verificationFailed = "verification_failed"
    case verificationInconclusive = "verification_inconclusive"

    /// The notification event of a service event-log entry (`started`, `decision_paused`,
    /// `instance_crashed`, …); nil for entries nobody is notified about.
    /// `succeeded` of a rollback rollout is `rolled_back` (the caller passes `rollback`).
    public static func of(eventKind kind: String, rollback: Bool = false) -> NotificationEvent? {
        switch kind {
        case "started": .started
        case "decision_step_completed": .stepCompleted
        case "decision_paused": .paused
        case "awaiting_approval": .awaitingApproval
        case "decision_promoted": .promoted
        case "succeeded": rollback ? .rolledBack : .succeeded
        case "decision_rolled_back": .rolledBack
        case "failed": .failed
        case "instance_crashed": .instanceCrashed
        case "alert_firing": .alertFiring
        case "alert_resolved": .alertResolved
        case "verification_passed": .verificationPassed
        case "verification_failed": .verificationFailed
        case "verification_inconclusive": .verificationInconclusive
        default: nil
        }
    }

    /// The severity a rollout event is reported with (alerts carry their rule's).
    public var defaultSeverity: AlertSeverity {
        switch self {
        case .rolledBack, .failed, .instanceCrashed, .verificationFailed, .verificationInconclusive: .warning
        case .alertFiring: .critical
        default: .info
        }
    }
}

/// How bad an alert is (and how loud a rollout event is).
public enum AlertSeverity: String, Codable, Sendable, CaseIterable {
    case critical, warning, info
}
