import Crypto
import Foundation
import SlipwayCore
import Testing

@testable import SlipwayServer

/// The HTTP requests notifications become: bodies, headers, the HMAC signature, and
/// `${NAME}` references resolved at send time.
@Suite struct NotificationRequestTests {
    static func record(_ sink: NotificationSink, event: NotificationEvent = .rolledBack, alert: String? = nil) -> NotificationRecord {
        let payload = NotificationPayload(event: event, service: "web@production", environment: "production", version: "v2", fromVersion: "v1",
                                          rollout: 7, message: "error rate 12 % \"high\"", severity: alert == nil ? nil : .critical, time: 1_700_000_000,
                                          alert: alert, alertStartedAt: alert == nil ? nil : 1_699_999_990)
        return NotificationRecord(id: 42, service: "web@production", event: event, payload: payload, sink: sink, status: .pending, attempts: 0,
                                  nextAttemptAt: 0, lastError: nil, createdAt: 0, deliveredAt: nil)
    }

    static let lookup: @Sendable (String) -> String? = { ["HOOK_SECRET": "s3cret", "HOOK_HOST": "hooks.example.org"][$0] }

    @Test func knownHMACVector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" split at the dot we add.
        #expect(WebhookSignature.header(secret: "Jefe", timestamp: "what do ya want for nothing?", body: "").hasPrefix("sha256="))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("what do ya want for nothing?".utf8), using: SymmetricKey(data: Data("Jefe".utf8)))
        #expect(mac.map { String(format: "%02x", $0) }.joined() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func webhookIsSignedOverTimestampAndBody() throws {
        let sink = NotificationSink(kind: .webhook, url: "https://${HOOK_HOST}/slipway", secret: "${HOOK_SECRET}")
        let request = try NotificationRequest.make(Self.record(sink), lookup: Self.lookup, now: 1_700_000_005.7).get()
        #expect(request.url == "https://hooks.example.org/slipway")
        let headers = Dictionary(request.headers, uniquingKeysWith: { a, _ in a })
        #expect(headers["X-Slipway-Timestamp"] == "1700000005")
        #expect(headers["X-Slipway-Delivery"] == "42")
        #expect(headers["X-Slipway-Event"] == "rolled_back")
        let mac = HMAC<SHA256>.authenticationCode(for: Data("1700000005.\(request.body)".utf8), using: SymmetricKey(data: Data("s3cret".utf8)))
        #expect(headers["X-Slipway-Signature"] == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
        #expect(request.body == #"{"id":42,"event":"rolled_back","service":"web","unit":"web@production","environment":"production","version":"v2","from_version":"v1","rollout":7,"message":"error rate 12 % \"high\"","severity":"warning","time":"2023-11-14T22:13:20Z"}"#)
        let object = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any]
        #expect(object?["message"] as? String == "error rate 12 % \"high\"")
    }

    @Test func anUnresolvableReferenceIsAnErrorNamingIt() {
        let sink = NotificationSink(kind: .webhook, url: "https://x.example.org/", secret: "${MISSING}")
        guard case .failure(let error) = NotificationRequest.make(Self.record(sink), lookup: Self.lookup, now: 0) else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.message == "secret: ${MISSING} is neither a secret of the service nor a variable of the server's environment")
    }

    @Test func slackAndAlertmanagerBodies() throws {
        let slack = try NotificationRequest.make(Self.record(NotificationSink(kind: .slack, url: "https://hooks.slack.example/T/B/X")), lookup: Self.lookup, now: 0).get()
        #expect(slack.body == #"{"text":"*web@production v2: rolled back* — error rate 12 % \"high\""}"#)

        let am = NotificationSink(kind: .alertmanager, url: "http://127.0.0.1:9093/")
        let firing = try NotificationRequest.make(Self.record(am, event: .alertFiring, alert: "high_errors"), lookup: Self.lookup, now: 0).get()
        #expect(firing.url == "http://127.0.0.1:9093/api/v2/alerts")
        let alerts = try #require(try JSONSerialization.jsonObject(with: Data(firing.body.utf8)) as? [[String: Any]])
        let labels = alerts.first?["labels"] as? [String: String]
        #expect(labels == ["alertname": "high_errors", "service": "web", "environment": "production", "severity": "critical", "source": "slipway"])
        #expect(alerts.first?["startsAt"] as? String == "2023-11-14T22:13:10Z")
        #expect(alerts.first?["endsAt"] == nil)
        let resolved = try NotificationRequest.make(Self.record(am, event: .alertResolved, alert: "high_errors"), lookup: Self.lookup, now: 0).get()
        #expect(resolved.body.contains(#""endsAt":"2023-11-14T22:13:20Z""#))
    }

    @Test func rolloutEventsSentToAlertmanagerEndAfterFiveMinutes() throws {
        let am = NotificationSink(kind: .alertmanager, url: "http://127.0.0.1:9093", events: [.rolledBack])
        let request = try NotificationRequest.make(Self.record(am), lookup: Self.lookup, now: 0).get()
        let alert = try #require((try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [[String: Any]])?.first)
        #expect((alert["labels"] as? [String: String])?["alertname"] == "slipway_rollout_rolled_back")
        #expect((alert["labels"] as? [String: String])?["version"] == "v2")
        #expect(alert["startsAt"] as? String == "2023-11-14T22:13:20Z")
        #expect(alert["endsAt"] as? String == "2023-11-14T22:18:20Z")
    }

    @Test func alertmanagerSinksTakeAlertsOnlyUnlessTold() {
        let am = NotificationSink(kind: .alertmanager, url: "http://127.0.0.1:9093")
        #expect(am.accepts(.alertFiring, environment: nil))
        #expect(!am.accepts(.failed, environment: nil))
        #expect(NotificationSink(kind: .alertmanager, url: "http://x", events: [.failed]).accepts(.failed, environment: nil))
    }
}
