/// Where notifications go.
public enum SinkKind: String, Codable, Sendable, CaseIterable {
    /// POST of the JSON payload, signed with HMAC-SHA256 when a secret is set.
    case webhook
    /// A Slack-compatible incoming webhook: `{"text": …}`.
    case slack
    /// Alertmanager's v2 API (`POST /api/v2/alerts`).
    case alertmanager
    /// An email over SMTP (`smtp://` with STARTTLS, or `smtps://`).
    case email
}

/// How an `email` sink's `smtp://` connection is protected. `smtps://` is TLS from the
/// first byte and takes neither.
public enum EmailTLS: String, Codable, Sendable, CaseIterable {
    /// Upgrade with STARTTLS before anything else is said; a server that does not offer
    /// it is refused.
    case starttls
    /// Plain text, for a relay on this machine or a trusted network; no credentials.
    case none
}

/// One entry of `notifications:`. `url` and `secret` are kept as written: `${NAME}`
/// references are resolved when a notification is sent, never stored resolved.
public struct NotificationSink: Codable, Sendable, Equatable {
    public var kind: SinkKind
    public var url: String
    public var secret: String?
    /// nil: every event.
    public var events: [NotificationEvent]?
    /// nil: every environment (and services without environments).
    public var environments: [String]?
    /// email: the sender's address.
    public var from: String?
    /// email: the recipients' addresses.
    public var to: [String]?
    /// email: SMTP AUTH user name (may be a `${NAME}` reference).
    public var username: String?
    /// email: SMTP AUTH password, always a `${NAME}` reference.
    public var password: String?
    /// email: a PEM file of CA certificates trusted besides the system's.
    public var ca: String?
    /// email over `smtp://`: STARTTLS (nil) or plain text.
    public var tls: EmailTLS?

    public init(kind: SinkKind, url: String, secret: String? = nil, events: [NotificationEvent]? = nil, environments: [String]? = nil,
                from: String? = nil, to: [String]? = nil, username: String? = nil, password: String? = nil, ca: String? = nil, tls: EmailTLS? = nil) {
        self.kind = kind
        self.url = url
        self.secret = secret
        self.events = events
        self.environments = environments
        self.from = from
        self.to = to
        self.username = username
        self.password = password
        self.ca = ca
        self.tls = tls
    }

    /// Whether this sink wants `event` of a unit in `environment` (nil: no environments).
    /// A sink limited to environments gets nothing from a service without them.
    public func accepts(_ event: NotificationEvent, environment: String?) -> Bool {
        if let events {
            if !events.contains(event) { return false }
        } else if kind == .alertmanager, !Self.alertEvents.contains(event) {
            return false
        }
        if let environments {
            guard let environment, environments.contains(environment) else { return false }
        }
        return true
    }

    /// What an Alertmanager sink gets without `events`: alerts only. Rollout events it is
    /// given explicitly become short-lived alerts (`slipway_rollout_EVENT`).
    public static let alertEvents: [NotificationEvent] = [.alertFiring, .alertResolved]
}
