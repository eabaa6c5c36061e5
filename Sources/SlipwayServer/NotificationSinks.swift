import Crypto
import Foundation
import SlipwayCore

/// One HTTP request a notification becomes, built without I/O so tests can check bodies
/// and signatures byte for byte.
public struct NotificationRequest: Sendable, Equatable {
    public var url: String
    public var headers: [(String, String)]
    public var body: String

    public static func == (a: Self, b: Self) -> Bool {
        a.url == b.url && a.body == b.body && a.headers.map { "\($0.0): \($0.1)" } == b.headers.map { "\($0.0): \($0.1)" }
    }

    /// The request for `record`'s sink. `${NAME}` references are resolved here with
    /// `lookup`; one that does not resolve is an error naming it.
    public static func make(_ record: NotificationRecord, lookup: (String) -> String?, now: Double) -> Result<NotificationRequest, SecretReference.ReferenceError> {
        let sink = record.sink
        guard sink.kind != .email else {
            return .failure(SecretReference.ReferenceError(message: "an email sink is sent over SMTP (EmailRequest), not HTTP"))
        }
        let url: String
        switch SecretReference.expand(sink.url, lookup: lookup) {
        case .success(let value): url = value
        case .failure(let error): return .failure(SecretReference.ReferenceError(message: "url: \(error.message)"))
        }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme), parsed.host != nil else {
            return .failure(SecretReference.ReferenceError(message: "url: the resolved value is not an http:// or https:// URL"))
        }
        var headers: [(String, String)] = [("content-type", "application/json"), ("user-agent", "slipway/\(SlipwayVersion.current)")]
        switch sink.kind {
        case .webhook:
            let body = webhookBody(record)
            let timestamp = String(Int(now))
            headers.append(("X-Slipway-Delivery", String(record.id)))
            headers.append(("X-Slipway-Event", record.event.rawValue))
            headers.append(("X-Slipway-Timestamp", timestamp))
            if let secret = sink.secret {
                switch SecretReference.expand(secret, lookup: lookup) {
                case .success(let key): headers.append(("X-Slipway-Signature", WebhookSignature.header(secret: key, timestamp: timestamp, body: body)))
                case .failure(let error): return .failure(SecretReference.ReferenceError(message: "secret: \(error.message)"))
                }
            }
            return .success(NotificationRequest(url: url, headers: headers, body: body))
        case .slack:
            return .success(NotificationRequest(url: url, headers: headers, body: slackBody(record.payload)))
        case .alertmanager:
            let base = url.hasSuffix("/") ? String(url.dropLast()) : url
            return .success(NotificationRequest(url: base + "/api/v2/alerts", headers: headers, body: alertmanagerBody(record.payload)))
        case .email:
            return .failure(SecretReference.ReferenceError(message: "an email sink is sent over SMTP (EmailRequest), not HTTP"))
        }
    }

    /// `{id, event, service, environment, version, from_version, rollout, message, severity, time}`
    /// (+ `alert`, `alert_started_at` for alert events); time is RFC 3339 UTC.
    static func webhookBody(_ record: NotificationRecord) -> String {
        let p = record.payload
        var members: [(String, JSONValueText)] = [
            ("id", .number(String(record.id))), ("event", .string(p.event.rawValue)),
            ("service", .string(UnitName.split(p.service).service)), ("unit", .string(p.service)),
            ("environment", p.environment.map { JSONValueText.string($0) } ?? .null), ("version", p.version.map { JSONValueText.string($0) } ?? .null),
            ("from_version", p.fromVersion.map { JSONValueText.string($0) } ?? .null), ("rollout", p.rollout.map { JSONValueText.number(String($0)) } ?? .null),
            ("message", .string(p.message)), ("severity", .string(p.severity.rawValue)), ("time", .string(Timestamps.format(p.time))),
        ]
        if let alert = p.alert {
            members.append(("alert", .string(alert)))
            if let started = p.alertStartedAt { members.append(("alert_started_at", .string(Timestamps.format(started)))) }
        }
        return JSONValueText.object(members).rendered
    }

    static func headline(_ p: NotificationPayload) -> String {
        let what: String = switch p.event {
        case .started: "rollout started"
        case .stepCompleted: "canary step completed"
        case .paused: "rollout paused"
        case .awaitingApproval: "rollout awaiting approval"
        case .promoted: "canary promoted"
        case .succeeded: "rollout succeeded"
        case .rolledBack: "rolled back"
        case .failed: "rollout failed"
        case .instanceCrashed: "instance crashed"
        case .alertFiring: "alert \(p.alert ?? "?") firing (\(p.severity.rawValue))"
        case .alertResolved: "alert \(p.alert ?? "?") resolved"
        case .verificationPassed: "verification passed"
        case .verificationFailed: "verification failed"
        case .verificationInconclusive: "verification inconclusive"
        }
        return "\(p.service)" + (p.version.map { " \($0)" } ?? "") + ": \(what)"
    }

    static func slackBody(_ p: NotificationPayload) -> String {
        JSONValueText.object([("text", .string("*\(headline(p))* — \(p.message)"))]).rendered
    }

    /// One alert. Alert events carry their rule's labels; rollout events become an alert
    /// `slipway_rollout_EVENT` that ends five minutes after it starts.
    static func alertmanagerBody(_ p: NotificationPayload) -> String {
        let (service, environment) = UnitName.split(p.service)
        var labels: [(String, JSONValueText)] = [
            ("alertname", .string(p.alert ?? "slipway_rollout_\(p.event.rawValue)")),
            ("service", .string(service)),
            ("severity", .string(p.severity.rawValue)),
            ("source", .string("slipway")),
        ]
        if let environment { labels.append(("environment", .string(environment))) }
        if p.alert == nil, let version = p.version { labels.append(("version", .string(version))) }
        let starts = p.alertStartedAt ?? p.time
        var alert: [(String, JSONValueText)] = [
            ("labels", .object(labels)),
            ("annotations", .object([("summary", .string(headline(p))), ("description", .string(p.message))])),
            ("startsAt", .string(Timestamps.format(starts))),
        ]
        switch p.event {
        case .alertResolved: alert.append(("endsAt", .string(Timestamps.format(p.time))))
        case .alertFiring: break
        default: alert.append(("endsAt", .string(Timestamps.format(p.time + 300))))
        }
        return JSONValueText.array([.object(alert)]).rendered
    }
}

/// `X-Slipway-Signature: sha256=HEX`, the HMAC-SHA256 of `TIMESTAMP.BODY` with the
/// sink's secret. Receivers recompute it and compare in constant time, and refuse old
/// timestamps (replays).
public enum WebhookSignature {
    public static func header(secret: String, timestamp: String, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + Hex.string(mac)
    }
}

/// Minimal JSON writer with members in a fixed order (so bodies are stable to sign and test).
indirect enum JSONValueText: Sendable {
    case string(String)
    case number(String)
    case null
    case object([(String, JSONValueText)])
    case array([JSONValueText])

    var rendered: String {
        switch self {
        case .string(let s): Self.quote(s)
        case .number(let n): n
        case .null: "null"
        case .object(let members): "{" + members.map { Self.quote($0.0) + ":" + $0.1.rendered }.joined(separator: ",") + "}"
        case .array(let items): "[" + items.map(\.rendered).joined(separator: ",") + "]"
        }
    }

    static func quote(_ s: String) -> String {
        JSONText.quote(s)
    }
}
