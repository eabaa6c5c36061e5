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
            == "4:27: notifications[0].url: \"ftp://x.org/\" is not an http://, https://, smtp:// or smtps:// URL with a host (or a `${NAME}` reference to one)")
        #expect(singleError(minimal + "notifications:\n  - { kind: slack, url: \"${SLACK\" }\n")
            == "4:25: notifications[0].url: has `${` without a closing `}`")
    }

    @Test func unknownKindAndKey() {
        #expect(singleError(minimal + "notifications:\n  - { kind: webhok, url: \"http://x.org\" }\n")
            == "4:13: notifications[0].kind: unknown value `webhok`; did you mean `webhook`?")
        #expect(singleError(minimal + "notifications:\n  - { kind: webhook, url: \"http://x.org\", event: [failed] }\n")
            == "4:43: notifications[0].event: unknown key `event`; did you mean `events`?")
    }

    // MARK: email

    @Test func emailSinksParse() throws {
        let yaml = minimal + """
            notifications:
              - kind: email
                url: smtp://smtp.example.org
                from: slipway@example.org
                to: [ops@example.org, "dev+deploys@example.org"]
                username: ${SMTP_USER}
                password: ${SMTP_PASSWORD}
                events: [rolled_back, failed]
              - { kind: email, url: "smtps://mail.example.org:2465", from: a@example.org, to: [b@example.org] }
              - { kind: email, url: "smtp://127.0.0.1:25", from: a@example.org, to: [b@example.org], tls: none }
            """
        let spec = try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.notifications[0] == NotificationSink(kind: .email, url: "smtp://smtp.example.org", events: [.rolledBack, .failed],
                                                          from: "slipway@example.org", to: ["ops@example.org", "dev+deploys@example.org"],
                                                          username: "${SMTP_USER}", password: "${SMTP_PASSWORD}"))
        #expect(spec.notifications[1].tls == nil)
        #expect(spec.notifications[2].tls == EmailTLS.none)
    }

    @Test func emailSinkErrorsNameTheField() {
        let sink = "notifications:\n  - { kind: email, url: \"smtp://mail.example.org\", from: a@example.org, to: [b@example.org]"
        #expect(singleError(minimal + "notifications:\n  - { kind: email, url: \"smtp://mail.example.org\", to: [b@example.org] }\n")
            == "4:5: notifications[0].from: an email sink needs `from`, the sender's address")
        #expect(singleError(minimal + "notifications:\n  - { kind: email, url: \"smtp://mail.example.org\", from: a@example.org }\n")
            == "4:5: notifications[0].to: an email sink needs `to`, the recipients' addresses")
        #expect(singleError(minimal + "notifications:\n  - { kind: email, url: \"https://mail.example.org\", from: a@example.org, to: [b@example.org] }\n")
            == "4:25: notifications[0].url: an email sink needs an smtp:// (STARTTLS) or smtps:// (TLS) URL, not https://")
        #expect(singleError(minimal + "notifications:\n  - { kind: webhook, url: \"smtp://mail.example.org\" }\n")
            == "4:27: notifications[0].url: a webhook sink posts to an http:// or https:// URL; smtp:// is for kind: email")
        #expect(singleError(minimal + "notifications:\n  - { kind: email, url: \"smtp://me:pw@mail.example.org\", from: a@example.org, to: [b@example.org] }\n")
            == "4:25: notifications[0].url: put the SMTP user and password in `username` and `password` (a `${NAME}` reference), not in the url")
        #expect(singleError(minimal + sink + ", username: me, password: hunter2 }\n")
            == "4:118: notifications[0].password: write the password as a `${NAME}` reference to a secret (slipway secrets set SERVICE NAME) or an environment variable, so it stays out of the config and the state")
        #expect(singleError(minimal + sink + ", username: me }\n")
            == "4:104: notifications[0].username: give both `username` and `password` (SMTP AUTH), or neither")
        #expect(singleError(minimal + sink + ", username: me, password: \"${PW}\", tls: none }\n")
            == "4:132: notifications[0].tls: a password is never sent in plain text: with `username` and `password`, use STARTTLS (leave out `tls`) or smtps://")
        #expect(singleError(minimal + "notifications:\n  - { kind: email, url: \"smtps://mail.example.org\", from: a@example.org, to: [b@example.org], tls: starttls }\n")
            == "4:100: notifications[0].tls: an smtps:// server speaks TLS from the start; `tls` is only for smtp://")
        #expect(singleError(minimal + "notifications:\n  - { kind: webhook, url: \"http://x.org\", to: [b@example.org] }\n")
            == "4:47: notifications[0].to: `to` is for email sinks; a webhook sink takes no to")
    }

    @Test func emailAddressesAreCheckedWhereTheyStand() {
        #expect(singleError(minimal + "notifications:\n  - { kind: email, url: \"smtp://m.example.org\", from: \"Ops <ops@example.org>\", to: [b@example.org] }\n")
            == "4:55: notifications[0].from: \"Ops <ops@example.org>\" is not an email address: \" \" may not appear before the @")
        #expect(singleError(minimal + "notifications:\n  - { kind: email, url: \"smtp://m.example.org\", from: a@example.org, to: [b@example.org, \"c@example.org\\r\\nBcc: x@evil.org\"] }\n")
            == "4:90: notifications[0].to[1]: \"c@example.org\\r\\nBcc: x@evil.org\" is not an email address: write it as name@domain, without a display name")
        #expect(EmailAddress.problem("ops@example.org") == nil)
        #expect(EmailAddress.problem("o.p+s@mail-1.example.org") == nil)
        #expect(EmailAddress.problem("ops@") != nil)
        #expect(EmailAddress.problem("@example.org") != nil)
        #expect(EmailAddress.problem("a..b@example.org") != nil)
        #expect(EmailAddress.problem("a@exa_mple.org") != nil)
        #expect(EmailAddress.problem("a@-example.org") != nil)
        #expect(EmailAddress.problem("a,b@example.org") != nil)
        #expect(EmailAddress.problem("a@b@example.org") != nil)
    }

    @Test func anEmailCAFileMustBeReadablePEM() async throws {
        try await EdgeConfigTests.withCertificates { directory, certs in
            let sink = "notifications:\n  - { kind: email, url: \"smtp://m.example.org\", from: a@example.org, to: [b@example.org], ca: "
            let file = try directory.write("slipway.yml", minimal + sink + "ca.pem }\n")
            let spec = try ConfigLoader.load(file: file)
            #expect(spec.notifications[0].ca == certs.ca, "resolved against the config's directory")
            let missing = try EdgeConfigTests.errors(minimal + sink + "missing.pem }\n", in: directory)
            #expect(missing
                == ["4:95: notifications[0].ca: cannot read the certificate file \(directory.path)/missing.pem: No such file or directory"])
            let notPEM = try EdgeConfigTests.errors(minimal + sink + "key.pem }\n", in: directory)
            #expect(notPEM
                == ["4:95: notifications[0].ca: \(directory.path)/key.pem holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"])
        }
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
