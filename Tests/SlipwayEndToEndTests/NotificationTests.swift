import Crypto
import Foundation
import SlipwayCore
import SlipwayTesting
import Synchronization
import Testing

/// Notifications from the real `slipway` binary to loopback receivers: signed webhooks,
/// retries, the outbox across a SIGKILL of the control plane, and a real Alertmanager.
@Suite(.serialized) struct NotificationTests {
    /// What `GET /v1/notifications` answers (the fields the tests read).
    struct Delivery: Decodable {
        var id: Int64
        var service: String
        var event: String
        var status: String
        var attempts: Int
        var lastError: String?
        var version: String?
        var createdAt: Double
        var deliveredAt: Double?
    }

    static let secret = "whsec-test-\(UUID().uuidString)"

    static func deliveries(_ h: SlipwayHarness, query: String = "") async throws -> [Delivery] {
        let reply = try await h.api("/v1/notifications" + query)
        guard reply.status == 200 else { throw Failure(description: "GET /v1/notifications answered \(reply.status): \(reply.body)") }
        return try decode([Delivery].self, reply.body)
    }

    /// The hello service (1 replica) with `extra` config, the server started with
    /// `arguments` and `environment`, v1 serving.
    static func withService(extra: String, arguments: [String] = [], environment: [String: String]? = nil,
                            _ body: (SlipwayHarness, Int) async throws -> Void) async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 1, extra: extra, keepPrevious: "1m", deployTimeout: "20s", drainTimeout: "2s")
            try await h.startServer(configs: [config], extraArguments: arguments, environment: environment)
            _ = try await eventually("v1 to serve through the router") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
            try await body(h, port)
        }
    }

    static func json(_ body: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    }

    static func expectedSignature(timestamp: String, body: String, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    @Test func deploySendsSignedStartedAndSucceeded() async throws {
        let receiver = try await StubHTTPServer { _ in .init(status: 204, body: "") }
        defer { Task { await receiver.close() } }
        let extra = """
            notifications:
              - { kind: webhook, url: "\(receiver.url)/hook", secret: "${HOOK_SECRET}", events: [started, succeeded, failed] }
            """
        try await Self.withService(extra: extra, environment: ["HOOK_SECRET": Self.secret]) { h, _ in
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let requests = try await eventually("started and succeeded of v2 at the receiver") { () -> [StubHTTPServer.Request]? in
                let r = receiver.requests
                let v2 = r.filter { $0.body.contains(#""version":"v2""#) }
                return v2.count >= 2 ? r : nil
            }
            // v1's first release and v2's deploy: started and succeeded each, nothing else.
            var seen: [String] = []
            for request in requests {
                #expect(request.method == "POST")
                #expect(request.path == "/hook")
                let timestamp = try #require(request.header("X-Slipway-Timestamp"))
                let signature = try #require(request.header("X-Slipway-Signature"))
                #expect(signature == Self.expectedSignature(timestamp: timestamp, body: request.body, secret: Self.secret), "signature of \(request.body)")
                #expect(signature != Self.expectedSignature(timestamp: timestamp, body: request.body, secret: "wrong"))
                #expect(abs((Double(timestamp) ?? 0) - Date().timeIntervalSince1970) < 120)
                let object = try Self.json(request.body)
                #expect(request.header("X-Slipway-Delivery") == (object["id"] as? NSNumber).map { "\($0)" })
                #expect(object["service"] as? String == "hello")
                #expect(object["severity"] as? String == "info")
                #expect((object["message"] as? String)?.isEmpty == false)
                seen.append("\(object["event"] as? String ?? "?") \(object["version"] as? String ?? "?")")
                if object["version"] as? String == "v2" {
                    #expect(object["from_version"] as? String == "v1")
                    #expect(object["rollout"] is NSNumber)
                }
            }
            #expect(seen.sorted() == ["started v1", "started v2", "succeeded v1", "succeeded v2"])
            #expect(!requests.contains { $0.body.contains(Self.secret) }, "the secret is never sent")

            let deliveries = try await Self.deliveries(h, query: "?service=hello&status=delivered")
            #expect(deliveries.count == 4)
            #expect(deliveries.allSatisfy { $0.attempts == 1 && $0.status == "delivered" })
            // The notifier is woken when a row is queued (no polling interval): v2's events
            // reach the receiver well within the 30 s the notifier would otherwise sleep.
            for d in deliveries where d.version == "v2" {
                let latency = (d.deliveredAt ?? .infinity) - d.createdAt
                #expect(latency < 5, "event to delivery took \(latency) s")
            }
            let text = try await h.cli(["notifications", "--service", "hello"])
            #expect(text.status == 0)
            #expect(text.stdout.contains("succeeded"), "\(text.stdout)")
            #expect(!text.stdout.contains(Self.secret))
        }
    }

    /// `${NAME}` is resolved when sending: the service's secret wins over the server's
    /// environment, and a name neither knows is a retried failure that names it.
    @Test func referencesResolveAtSendTimeSecretsFirst() async throws {
        let receiver = try await StubHTTPServer { _ in .init(status: 200, body: "") }
        defer { Task { await receiver.close() } }
        let extra = """
            notifications:
              - { kind: webhook, url: "\(receiver.url)/hook", secret: "${HOOK_SECRET}", events: [succeeded] }
              - { kind: webhook, url: "${NOPE_URL}", events: [succeeded] }
            """
        try await Self.withService(extra: extra, environment: ["HOOK_SECRET": "from-the-environment"]) { h, _ in
            let first = try await eventually("v1's succeeded") { receiver.requests.first }
            let timestamp1 = try #require(first.header("X-Slipway-Timestamp"))
            #expect(first.header("X-Slipway-Signature") == Self.expectedSignature(timestamp: timestamp1, body: first.body, secret: "from-the-environment"))

            #expect(try await h.cli(["secrets", "set", "hello", "HOOK_SECRET"], stdin: "from-slipway-secrets").status == 0)
            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--wait"]).status == 0)
            let second = try await eventually("v2's succeeded") { receiver.requests.first { $0.body.contains(#""version":"v2""#) } }
            let timestamp2 = try #require(second.header("X-Slipway-Timestamp"))
            #expect(second.header("X-Slipway-Signature") == Self.expectedSignature(timestamp: timestamp2, body: second.body, secret: "from-slipway-secrets"))

            let unresolved = try await eventually("the unresolvable sink's attempt") { () -> Delivery? in
                try await Self.deliveries(h, query: "?status=pending").first { $0.attempts >= 1 }
            }
            #expect(unresolved.lastError == "cannot resolve url: ${NOPE_URL} is neither a secret of the service nor a variable of the server's environment",
                    "\(unresolved.lastError ?? "")")
        }
    }

    @Test func failedDeliveriesAreRetriedUntilTheReceiverTakesThem() async throws {
        let count = Counter()
        let receiver = try await StubHTTPServer { _ in
            let n = count.next()
            return n <= 2 ? .init(status: 500, body: "busy") : .init(status: 200, body: "ok")
        }
        defer { Task { await receiver.close() } }
        let extra = """
            notifications:
              - { kind: webhook, url: "\(receiver.url)/hook", events: [succeeded] }
            """
        try await Self.withService(extra: extra, arguments: ["--notification-retry-base", "200ms"]) { h, _ in
            let delivery = try await eventually("the succeeded notification to be delivered", timeout: .seconds(30)) { () -> Delivery? in
                try await Self.deliveries(h).first { $0.status == "delivered" }
            }
            #expect(delivery.attempts == 3)
            #expect(delivery.event == "succeeded")
            #expect(delivery.lastError?.contains("answered 500") == true, "\(delivery.lastError ?? "")")
            let requests = receiver.requests
            #expect(requests.count == 3)
            #expect(Set(requests.compactMap { $0.header("X-Slipway-Delivery") }) == ["\(delivery.id)"], "one delivery id for every attempt")
            #expect(requests.allSatisfy { $0.header("X-Slipway-Signature") == nil }, "no secret: no signature")

            let json = try await h.cli(["notifications", "--status", "delivered", "-o", "json"])
            #expect(json.status == 0)
            #expect(try decode([Delivery].self, json.stdout).map(\.attempts) == [3])

            // The attempts and the outbox on /metrics, which promtool accepts.
            let metrics = try await h.api("/metrics").body
            #expect(metrics.contains(#"slipway_notification_attempts_total{sink="webhook",outcome="retry"} 2"#), "\(metrics)")
            #expect(metrics.contains(#"slipway_notification_attempts_total{sink="webhook",outcome="delivered"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"slipway_notification_delivery_seconds_count{sink="webhook"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"slipway_notifications{status="delivered"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"slipway_notifications{status="pending"} 0"#), "\(metrics)")
            try await MetricsTests.lint(metrics, in: h)
        }
    }

    @Test func permanentFailuresAndExhaustedRetriesEndFailedAndStayListed() async throws {
        let receiver = try await StubHTTPServer { path in
            path == "/gone" ? .init(status: 404, body: "no such hook") : .init(status: 503, body: "down")
        }
        defer { Task { await receiver.close() } }
        let extra = """
            notifications:
              - { kind: webhook, url: "\(receiver.url)/gone", events: [succeeded] }
              - { kind: slack, url: "\(receiver.url)/down", events: [succeeded] }
            """
        try await Self.withService(extra: extra, arguments: ["--notification-retry-base", "100ms", "--notification-attempts", "3"]) { h, _ in
            let failed = try await eventually("both notifications to be given up", timeout: .seconds(30)) { () -> [Delivery]? in
                let failed = try await Self.deliveries(h, query: "?status=failed")
                return failed.count == 2 ? failed : nil
            }
            let gone = try #require(failed.first { $0.lastError?.contains("answered 404") == true })
            #expect(gone.attempts == 1, "a 404 is not retried")
            #expect(gone.lastError?.contains("(not retried)") == true, "\(gone.lastError ?? "")")
            let down = try #require(failed.first { $0.lastError?.contains("answered 503") == true })
            #expect(down.attempts == 3)
            #expect(receiver.paths.filter { $0 == "/gone" }.count == 1)
            #expect(receiver.paths.filter { $0 == "/down" }.count == 3)
            let text = try await h.cli(["notifications", "--status", "failed"])
            #expect(text.stdout.contains("failed") && text.stdout.contains("503"), "\(text.stdout)")
        }
    }

    @Test func notificationsQueuedBeforeACrashAreDeliveredAfterRestart() async throws {
        let port = freeLoopbackPort()
        let extra = """
            notifications:
              - { kind: webhook, url: "http://127.0.0.1:\(port)/hook", events: [succeeded] }
            """
        try await Self.withService(extra: extra, arguments: ["--notification-retry-base", "300ms"]) { h, _ in
            // The receiver is down: the notification waits in the outbox.
            let pending = try await eventually("a failed attempt") { () -> Delivery? in
                try await Self.deliveries(h).first { $0.status == "pending" && $0.attempts >= 1 }
            }
            #expect(pending.lastError?.contains("did not answer") == true, "\(pending.lastError ?? "")")
            try await h.killServer()

            let receiver = try await StubHTTPServer(port: port) { _ in .init(status: 200, body: "") }
            defer { Task { await receiver.close() } }
            try await h.startServer(configs: [], extraArguments: ["--notification-retry-base", "300ms"])
            let request = try await eventually("the queued notification after the restart", timeout: .seconds(30)) {
                receiver.requests.first
            }
            #expect(request.header("X-Slipway-Delivery") == "\(pending.id)")
            #expect(request.body.contains(#""event":"succeeded""#))
            let delivered = try await eventually("delivered in the API") { () -> Delivery? in
                try await Self.deliveries(h).first { $0.id == pending.id && $0.status == "delivered" }
            }
            #expect(delivered.attempts > pending.attempts)
            #expect(receiver.requests.count == 1, "delivered once")
        }
    }

    @Test func crashesAndInstanceDownAlertsReachTheWebhook() async throws {
        let receiver = try await StubHTTPServer { _ in .init(status: 200, body: "") }
        defer { Task { await receiver.close() } }
        let extra = """
            notifications:
              - { kind: webhook, url: "\(receiver.url)/hook", events: [instance_crashed, alert_firing, alert_resolved] }
              - { kind: webhook, url: "\(receiver.url)/production-only", environments: [production] }
            alerts:
              - { name: down, metric: instance_down, for: 0s, severity: critical }
            """
        try await Self.withService(extra: extra) { h, _ in
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_CRASH_AFTER_S=3", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let events = try await eventually("a crash, the alert firing and resolving", timeout: .seconds(40)) { () -> [[String: Any]]? in
                let bodies = try receiver.requests.map { try Self.json($0.body) }
                let kinds = Set(bodies.compactMap { $0["event"] as? String })
                return kinds.isSuperset(of: ["instance_crashed", "alert_firing", "alert_resolved"]) ? bodies : nil
            }
            let crash = try #require(events.first { $0["event"] as? String == "instance_crashed" })
            #expect(crash["version"] as? String == "v2")
            #expect(crash["severity"] as? String == "warning")
            let firing = try #require(events.first { $0["event"] as? String == "alert_firing" })
            #expect(firing["alert"] as? String == "down")
            #expect(firing["severity"] as? String == "critical")
            #expect((firing["message"] as? String)?.contains("instance(s) down") == true)
            #expect(!receiver.requests.contains { $0.path == "/production-only" }, "a sink limited to production gets nothing from a service without environments")
        }
    }

    @Test func canaryStepsPausesAndPromotionsAreNotified() async throws {
        let receiver = try await StubHTTPServer { _ in .init(status: 200, body: "") }
        defer { Task { await receiver.close() } }
        let extra = """
            notifications:
              - { kind: slack, url: "\(receiver.url)/slack", events: [step_completed, paused, promoted, succeeded] }
            analysis:
              default:
                interval: 500ms
                checks:
                  - { metric: request_rate, min: 0, window: 2s }
            """
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 1, extra: extra,
                                                   strategy: "canary: { steps: [ {weight: 50}, {pause: {}} ], keep_previous: 1m, deploy_timeout: 20s, drain_timeout: 2s }")
            try await h.startServer(configs: [config])
            _ = try await eventually("v1 to serve") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
            let probe = TrafficProbe(port: port, pace: .milliseconds(20))
            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            _ = try await eventually("the pause at the receiver", timeout: .seconds(40)) {
                receiver.requests.contains { $0.body.contains("rollout paused") } ? true : nil
            }
            #expect(try await h.cli(["promote", "hello"]).status == 0)
            let texts = try await eventually("promoted and succeeded", timeout: .seconds(40)) { () -> [String]? in
                let texts = try receiver.requests.map { try Self.json($0.body)["text"] as? String ?? "" }
                return texts.contains { $0.contains("hello v2: rollout succeeded") } ? texts : nil
            }
            _ = await probe.stop()
            #expect(texts.contains { $0.hasPrefix("*hello v2: canary step completed*") }, "\(texts)")
            #expect(texts.contains { $0.contains("canary promoted") }, "\(texts)")
            #expect(receiver.requests.allSatisfy { $0.path == "/slack" && $0.header("X-Slipway-Signature") == nil })
        }
    }

    @Test func awaitingApprovalGoesOnlyToTheEnvironmentsSink() async throws {
        let receiver = try await StubHTTPServer { _ in .init(status: 200, body: "") }
        defer { Task { await receiver.close() } }
        let off = "gates: { coverage: off, test_pass_rate: off, critical_vulns: off, high_vulns: off, secrets: off }"
        try await withHarness { h in
            let config = try h.directory.write("web.yml", """
                service: web
                run: ["hello-app", "--port", "{{port}}", "--version", "{{version}}"]
                health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 1, unhealthy: 3, grace: 5s }
                notifications:
                  - { kind: webhook, url: "\(receiver.url)/prod", events: [awaiting_approval, failed], environments: [production] }
                environments:
                  staging: { listen: 127.0.0.1:\(freeLoopbackPort()), \(off) }
                  production: { listen: 127.0.0.1:\(freeLoopbackPort()), approvals: 1, approval_timeout: 1s, \(off) }
                """)
            try await h.startServer(configs: [config])
            #expect(try await h.cli(["deploy", "web", "--env", "staging", "--version", "1.0", "--wait"]).status == 0)
            #expect(try await h.cli(["deploy", "web", "--env", "production", "--version", "1.0"]).status == 0)
            // It waits for an approval nobody gives: awaiting_approval, then failed at the timeout.
            let bodies = try await eventually("awaiting_approval and failed at the production sink", timeout: .seconds(30)) { () -> [[String: Any]]? in
                let bodies = try receiver.requests.map { try Self.json($0.body) }
                return bodies.count >= 2 ? bodies : nil
            }
            #expect(bodies.map { $0["event"] as? String } == ["awaiting_approval", "failed"])
            #expect(bodies.allSatisfy { $0["environment"] as? String == "production" && $0["unit"] as? String == "web@production" })
            #expect((bodies.first?["message"] as? String)?.contains("slipway approve web --env production") == true)
        }
    }

    /// A firing alert survives a SIGKILL of the control plane: the restarted one neither
    /// fires it again nor forgets to resolve it.
    @Test func aFiringAlertIsNeitherRepeatedNorForgottenAcrossARestart() async throws {
        let receiver = try await StubHTTPServer { _ in .init(status: 200, body: "") }
        defer { Task { await receiver.close() } }
        let extra = """
            notifications:
              - { kind: webhook, url: "\(receiver.url)/hook", events: [alert_firing, alert_resolved] }
            alerts:
              - { name: errors, metric: error_rate, max: 0.5, for: 0s, window: 10s, min_samples: 5 }
            """
        // A 10 s window: a loaded machine that stalls the probe for a few seconds must not
        // starve the window (no data resolves an alert, and it would fire again).
        struct Rule: Decodable { var phase: String; var evaluatedAt: Double? }
        // Delivery is at least once: a SIGKILL between a delivery and its bookkeeping sends
        // that notification again with the same X-Slipway-Delivery id, which receivers use
        // to drop repeats. What must not happen is a second notification (a new id).
        func events() throws -> [String] {
            var seen: Set<String> = []
            return try receiver.requests.compactMap { request in
                let id = request.headers.first { $0.0.lowercased() == "x-slipway-delivery" }?.1 ?? UUID().uuidString
                guard seen.insert(id).inserted else { return nil }
                return try Self.json(request.body)["event"] as? String
            }
        }
        try await Self.withService(extra: extra) { h, port in
            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=1", "--wait"]).status == 0)
            let probe = TrafficProbe(port: port, pace: .milliseconds(20))
            _ = try await eventually("the alert to fire") { try events().contains("alert_firing") ? true : nil }
            try await h.killServer()
            let restarted = Date().timeIntervalSince1970
            try await h.startServer()
            _ = try await eventually("two evaluations after the restart, still firing") { () -> Bool? in
                let rules = try decode([Rule].self, try await h.api("/v1/alerts").body)
                guard let rule = rules.first, rule.phase == "firing", (rule.evaluatedAt ?? 0) > restarted + 1 else { return nil }
                return true
            }
            let afterRestart = try events()
            #expect(afterRestart == ["alert_firing"], "not fired again after the restart: \(afterRestart)")
            _ = await probe.stop()
            _ = try await eventually("the resolution after the restart", timeout: .seconds(60)) { try events().contains("alert_resolved") ? true : nil }
            let all = try events()
            #expect(all == ["alert_firing", "alert_resolved"], "\(all)")
        }
    }

    // MARK: a real Alertmanager

    @Test func alertRuleFiresAndResolvesInARealAlertmanager() async throws {
        let amPort = freeLoopbackPort()
        let extra = """
            notifications:
              - { kind: alertmanager, url: "http://127.0.0.1:\(amPort)" }
            alerts:
              - { name: high_errors, metric: error_rate, max: 0.5, for: 1s, window: 3s, min_samples: 5, severity: critical }
            """
        try await Self.withService(extra: extra) { h, port in
            try await Self.withAlertmanager(port: amPort, directory: h.directory) { base in
                let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=1", "--wait"])
                #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
                let probe = TrafficProbe(port: port, pace: .milliseconds(20))
                let alert = try await eventually("high_errors in Alertmanager", timeout: .seconds(30)) { () -> [String: Any]? in
                    try await Self.alerts(base).first { ($0["labels"] as? [String: String])?["alertname"] == "high_errors" }
                }
                let labels = try #require(alert["labels"] as? [String: String])
                #expect(labels["service"] == "hello")
                #expect(labels["severity"] == "critical")
                #expect((alert["annotations"] as? [String: String])?["summary"]?.contains("firing") == true)
                let states = try decode([AlertView].self, try await h.cli(["alerts", "-o", "json"]).stdout)
                #expect(states.first?.phase == "firing")
                let text = try await h.cli(["alerts"])
                #expect(text.stdout.contains("high_errors") && text.stdout.contains("firing") && text.stdout.contains("error_rate > 50.0 %"), "\(text.stdout)")

                _ = await probe.stop()
                // No traffic: after the 3s window there is no data, and the alert resolves (endsAt).
                _ = try await eventually("high_errors to be resolved in Alertmanager", timeout: .seconds(30)) { () -> Bool? in
                    try await Self.alerts(base).contains { ($0["labels"] as? [String: String])?["alertname"] == "high_errors" } ? nil : true
                }
                // Alertmanager drops the alert when the resolved one arrives, which can be before
                // Slipway has its answer and records the delivery.
                let deliveries = try await eventually("the resolved alert's delivery to be recorded", timeout: .seconds(10)) { () -> [Delivery]? in
                    let all = try await Self.deliveries(h)
                    return all.contains { $0.event == "alert_resolved" && $0.status == "delivered" } ? all : nil
                }
                #expect(deliveries.contains { $0.event == "alert_firing" && $0.status == "delivered" })
                #expect(!deliveries.contains { $0.event == "started" }, "an Alertmanager sink takes alerts only by default")
                let events = try await h.api("/v1/services/hello/events?limit=100")
                #expect(events.body.contains("alert_firing") && events.body.contains("alert_resolved"))
            }
        }
    }

    struct AlertView: Decodable {
        var name: String
        var phase: String
    }

    static func alerts(_ base: String) async throws -> [[String: Any]] {
        let reply = try await TestHTTP.get("\(base)/api/v2/alerts", timeout: .seconds(2))
        guard reply.status == 200 else { return [] }
        return (try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]]) ?? []
    }

    /// Debian's `prometheus-alertmanager` on `port` with its own storage and no cluster.
    static func withAlertmanager(port: Int, directory: TemporaryDirectory, _ body: (String) async throws -> Void) async throws {
        let executable = "/usr/bin/prometheus-alertmanager"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(description: "\(executable) is not installed; scripts/test.sh installs it (apt-get install -y prometheus-alertmanager)")
        }
        let config = try directory.write("alertmanager.yml", """
            route:
              receiver: nobody
            receivers:
              - name: nobody

            """)
        let am = try ChildProcess(executable: executable, arguments: [
            "--config.file=\(config)",
            "--storage.path=\(directory.file("alertmanager-data"))",
            "--web.listen-address=127.0.0.1:\(port)",
            "--cluster.listen-address=",
            "--log.level=warn",
        ])
        let base = "http://127.0.0.1:\(port)"
        do {
            _ = try await eventually("alertmanager to be ready", timeout: .seconds(60)) { () async throws -> Bool? in
                if !am.isRunning { throw Failure(description: "alertmanager exited with \(am.process.terminationStatus): \(am.stderr)") }
                return (try? await TestHTTP.get("\(base)/-/ready", timeout: .seconds(2)))?.status == 200 ? true : nil
            }
            try await body(base)
        } catch {
            await PrometheusProviderTests.stop(am)
            throw error
        }
        await PrometheusProviderTests.stop(am)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    final class Counter: Sendable {
        private let value = Mutex(0)
        func next() -> Int { value.withLock { $0 += 1; return $0 } }
    }
}
