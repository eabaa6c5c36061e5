/// What a notification says. Stored (as JSON) in the outbox when the event happens, so a
/// restart or a config change does not change what is sent.
public struct NotificationPayload: Codable, Sendable, Equatable {
    public var event: NotificationEvent
    /// The unit: `web` or `web@production`.
    public var service: String
    public var environment: String?
    public var version: String?
    public var fromVersion: String?
    public var rollout: Int64?
    public var message: String
    public var severity: AlertSeverity
    /// Unix time of the event.
    public var time: Double
    /// Alert events: the rule's name, and when it began firing.
    public var alert: String?
    public var alertStartedAt: Double?

    public init(event: NotificationEvent, service: String, environment: String? = nil, version: String? = nil, fromVersion: String? = nil,
                rollout: Int64? = nil, message: String, severity: AlertSeverity? = nil, time: Double, alert: String? = nil, alertStartedAt: Double? = nil) {
        self.event = event
        self.service = service
        self.environment = environment
        self.version = version
        self.fromVersion = fromVersion
        self.rollout = rollout
        self.message = message
        self.severity = severity ?? event.defaultSeverity
        self.time = time
        self.alert = alert
        self.alertStartedAt = alertStartedAt
    }
}

/// A notification waiting in, or done with, the outbox (`GET /v1/notifications`).
public struct NotificationRecord: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable { case pending, delivered, failed }

    public var id: Int64
    public var service: String
    public var event: NotificationEvent
    public var payload: NotificationPayload
    /// As configured: `${NAME}` references unresolved.
    public var sink: NotificationSink
    public var status: Status
    public var attempts: Int
    public var nextAttemptAt: Double?
    public var lastError: String?
    public var createdAt: Double
    public var deliveredAt: Double?

    public init(id: Int64, service: String, event: NotificationEvent, payload: NotificationPayload, sink: NotificationSink, status: Status,
                attempts: Int, nextAttemptAt: Double?, lastError: String?, createdAt: Double, deliveredAt: Double?) {
        self.id = id
        self.service = service
        self.event = event
        self.payload = payload
        self.sink = sink
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}
