import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `notifications:` and `alerts:`: what parses, and every error with its position.
@Suite struct NotificationConfigTests {
    @Test func designSketchParses() throws {
        let yaml = minimal + """
            notifications:
              - { kind: webhook, url: "https://hooks.example.org/x", secret: "${HOOK_SECRET}", events: [rolled_back, failed], environments: [production] }
              - { kind: slack, url: "${SLACK_WEBHOOK}", events: [rolled_back, awaiting_approval] }
              - { kind: alertmanager, url: "http://127.0.0.1:9093" }
            alerts:
              - { name: high_errors, metric: error_rate, max: 0.05, for: 1m, severity: critical }
              - { name: slow, metric: latency_p95, max: 500ms, for: 30s, severity: warning }
              - { name: down, metric: instance_down, for: 10s, severity: critical }
              - { name: pct, metric: error_rate, max: 2%, window: 10s, min_samples: 3 }
            """
        let spec = try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.notifications.count == 3)
        #expect(spec.notifications[0] == NotificationSink(kind: .webhook, url: "https://hooks.example.org/x", secret: "${HOOK_SECRET}",
                                                          events: [.rolledBack, .failed], environments: ["production"]))
        #expect(spec.notifications[2].events == nil)
        #expect(spec.notifications[2].environments == nil)
        #expect(spec.alerts.map(\.name) == ["high_errors", "slow", "down", "pct"])
        #expect(spec.alerts[0].max == 0.05)
        #expect(spec.alerts[0].forDuration == .seconds(60))
        #expect(spec.alerts[0].severity == .critical)
        #expect(spec.alerts[1].max == 500)
        #expect(spec.alerts[2].max == nil)
        #expect(spec.alerts[3].max == 0.02)
        #expect(spec.alerts[3].window == .seconds(10))
        #expect(spec.alerts[3].severity == .warning)
    }

    @Test func unknownEventSuggestsTheClosest() {
        #expect(singleError(minimal + "notifications:\n  - { kind: webhook, url: \"http://x.org\", events: [rolledback] }\n")
            == "4:52: notifications[0].events[0]: unknown value `rolledback`; did you mean `rolled_back`?")
    }

    @Test func badURLs() {
        #expect(singleError(minimal + "notifications:\n  - { kind: webhook, url: \"ftp://x.org/\" }\n")
            == "4:27: notifications[0].url: \"ftp://x.org/\" is not an http:// or https:// URL with a host (or a `${NAME}` reference to one)")
        #expect(singleError(minimal + "notifications:\n  - { kind: slack, url: \"${SLACK\" }\n")
            == "4:25: notifications[0].url: has `${` without a closing `}`")
    }

    @Test func unknownKindAndKey() {
        #expect(singleError(minimal + "notifications:\n  - { kind: webhok, url: \"http://x.org\" }\n")
            == "4:13: notifications[0].kind: unknown value `webhok`; did you mean `webhook`?")
        #expect(singleError(minimal + "notifications:\n  - { kind: webhook, url: \"http://x.org\", event: [failed] }\n")
            == "4:43: notifications[0].event: unknown key `event`; did you mean `events`?")
    }

    @Test func onlyWebhooksTakeASecret() {
        #expect(singleError(minimal + "notifications:\n  - { kind: slack, url: \"http://x.org\", secret: s }\n")
            == "4:49: notifications[0].secret: only webhook sinks sign their requests; a slack sink takes no secret (put its token in the url)")
    }

    @Test func badSeverityAndFor() {
        #expect(singleError(minimal + "alerts:\n  - { name: a, metric: error_rate, max: 0.1, severity: fatal }\n")
            == "4:56: alerts[0].severity: unknown value `fatal`; allowed: `critical`, `warning`, `info`")
        #expect(singleError(minimal + "alerts:\n  - { name: a, metric: error_rate, max: 0.1, for: soon }\n")
            == "4:51: alerts[0].for: expected a duration such as 500ms, 2s, 1m30s or 10m, got the string \"soon\"")
    }

    @Test func duplicateAlertNames() {
        #expect(singleError(minimal + "alerts:\n  - { name: a, metric: error_rate, max: 0.1 }\n  - { name: a, metric: instance_down }\n")
            == "4:3: alerts: two alerts are named \"a\"; alert names must be unique")
    }

    @Test func limitsFollowTheMetric() {
        #expect(singleError(minimal + "alerts:\n  - { name: a, metric: error_rate }\n")
            == "4:5: alerts[0].max: an alert on error_rate needs `max`")
        #expect(singleError(minimal + "alerts:\n  - { name: a, metric: instance_down, max: 1 }\n")
            == "4:44: alerts[0].max: instance_down takes no max: it fires when any instance of the stable release is down")
        #expect(singleError(minimal + "alerts:\n  - { name: a, metric: latency_p95, max: fast }\n")
            == "4:42: alerts[0].max: \"fast\" is not a limit for latency_p95: use milliseconds or a duration such as 500ms")
        #expect(singleError(minimal + "alerts:\n  - { name: a, metric: requests, max: 1 }\n")
            == "4:24: alerts[0].metric: unknown value `requests`; allowed: `error_rate`, `latency_p50`, `latency_p95`, `latency_p99`, `instance_down`")
    }

    @Test func sinkEnvironmentsMustBeTheServices() {
        let yaml = minimal + """
            notifications:
              - { kind: webhook, url: "http://a.example.org/", environments: [prodution] }
            environments:
              staging: { listen: 8081 }
              production: { listen: 8082 }
            """
        #expect(singleError(yaml) == "4:67: notifications[0].environments[0]: unknown environment `prodution`; did you mean `production`?")
    }

    @Test func environmentsOverrideNotificationsAndAlerts() throws {
        let yaml = minimal + """
            notifications:
              - { kind: webhook, url: "http://a.example.org/" }
            environments:
              staging: { listen: 8081 }
              production:
                listen: 8082
                notifications:
                  - { kind: slack, url: "http://b.example.org/" }
                alerts:
                  - { name: down, metric: instance_down, for: 5s }
            """
        let units = try ConfigLoader.parseUnits(yaml, fileName: "slipway.yml", baseDirectory: nil)
        let staging = try #require(units.first { $0.environmentName == "staging" })
        let production = try #require(units.first { $0.environmentName == "production" })
        #expect(staging.notifications.map(\.kind) == [.webhook])
        #expect(staging.alerts.isEmpty)
        #expect(production.notifications.map(\.kind) == [.slack])
        #expect(production.alerts.map(\.name) == ["down"])
    }
}
