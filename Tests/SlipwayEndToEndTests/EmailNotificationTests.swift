import Foundation
import SlipwayTesting
import Testing

/// `kind: email` sinks from the real `slipway` binary to a real SMTP server: aiosmtpd from
/// PyPI (scripts/smtp_server.py; scripts/test.sh installs it) with certificates from a test
/// CA. STARTTLS and smtps, AUTH, a retry after the server refused once, and the refusals
/// that keep a password off the wire.
@Suite(.serialized) struct EmailNotificationTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/smtp_server.py").path

    /// One message (or refusal) the SMTP server recorded.
    struct Received: Decodable {
        var event: String
        var mailFrom: String?
        var rcptTos: [String]?
        var tls: Bool?
        var login: String?
        var subject: String?
        var headers: [String: String]?
        var body: String?
        var raw: String?
        var mechanism: String?
    }

    /// scripts/smtp_server.py with `arguments`, on a port it picked, recording to a file.
    struct MailServer {
        let process: ChildProcess
        let port: Int
        let log: String

        var received: [Received] {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return text.split(separator: "\n").compactMap { try? decoder.decode(Received.self, from: Data($0.utf8)) }
        }

        /// Synchronous, so a `defer` stops it before the test returns (a Task started in a
        /// defer may never run before the test process exits, leaving the server behind).
        /// SIGKILL: the server keeps nothing in memory (each record is appended and closed),
        /// and a SIGTERM the runner's children inherit as ignored would not stop it.
        func stop() {
            process.signal(SIGKILL)
        }
    }

    static func startMailServer(_ name: String, in directory: TemporaryDirectory, _ arguments: [String]) async throws -> MailServer {
        let log = directory.file("\(name).jsonl")
        let process = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", script, "--out", log] + arguments)
        let port = try await eventually("\(name) SMTP server to listen", timeout: .seconds(30)) { () -> Int? in
            if !process.isRunning { throw PollStop("smtp_server.py exited: \(process.stderr)") }
            return process.stdout.split(separator: "\n").first { $0.hasPrefix("ready ") }.flatMap { Int($0.dropFirst(6)) }
        }
        return MailServer(process: process, port: port, log: log)
    }

    static let password = "smtp-\(UUID().uuidString)"

    @Test func startTLSWithAuthIsRetriedAfterARefusalAndSMTPSDelivers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let certs = try await TestCertificates.make(in: directory.path)
            let starttls = try await Self.startMailServer("starttls", in: directory, [
                "--cert", certs.cert, "--key", certs.key, "--user", "deployer", "--password", Self.password, "--refuse-first", "1",
            ])
            let smtps = try await Self.startMailServer("smtps", in: directory, ["--cert", certs.cert, "--key", certs.key, "--implicit"])
            defer { starttls.stop(); smtps.stop() }
            let extra = """
                notifications:
                  - kind: email
                    url: smtp://127.0.0.1:\(starttls.port)
                    from: slipway@example.org
                    to: [ops@example.org, dev@example.org]
                    username: deployer
                    password: ${SMTP_PASSWORD}
                    ca: \(certs.ca)
                    events: [succeeded]
                  - { kind: email, url: "smtps://localhost:\(smtps.port)", from: slipway@example.org, to: [ops@example.org], ca: "\(certs.ca)", events: [succeeded] }
                """
            try await NotificationTests.withService(extra: extra, arguments: ["--notification-retry-base", "200ms"],
                                                    environment: ["SMTP_PASSWORD": Self.password]) { h, _ in
                let deliveries = try await eventually("both emails of v1's success to be delivered", timeout: .seconds(30)) { () -> [NotificationTests.Delivery]? in
                    let delivered = try await NotificationTests.deliveries(h, query: "?status=delivered")
                    return delivered.count == 2 ? delivered : nil
                }
                #expect(deliveries.map(\.attempts).sorted() == [1, 2], "the STARTTLS server refused the first DATA: \(deliveries.map { ($0.attempts, $0.lastError ?? "") })")
                let retried = try #require(deliveries.first { $0.attempts == 2 })
                #expect(retried.lastError?.contains("answered the message with 451 4.3.0 try again later") == true, "\(retried.lastError ?? "")")

                let received = starttls.received
                #expect(received.map(\.event) == ["refused", "delivered"])
                let mail = try #require(received.last)
                #expect(mail.tls == true, "STARTTLS before anything else")
                #expect(mail.login == "deployer")
                #expect(mail.mailFrom == "slipway@example.org")
                #expect(mail.rcptTos == ["ops@example.org", "dev@example.org"])
                // What Python's email parser reads: the subject, headers and the decoded body.
                #expect(mail.subject == "[slipway] hello v1: rollout succeeded")
                #expect(mail.headers?["X-Slipway-Event"] == "succeeded")
                #expect(mail.headers?["Auto-Submitted"] == "auto-generated")
                #expect(mail.headers?["To"] == "ops@example.org, dev@example.org")
                let body = try #require(mail.body).replacingOccurrences(of: "\r\n", with: "\n")
                #expect(body.hasPrefix("rollout to v1 succeeded\n\nService:  hello\nEvent:    succeeded\nSeverity: info\nVersion:  v1\nRollout:  1 (explained by: slipway why hello 1)\nTime:     "), "\(body)")
                #expect(!(mail.raw ?? "").contains(Self.password), "the password is never in the message")

                let implicit = try #require(smtps.received.last)
                #expect(smtps.received.count == 1)
                #expect(implicit.event == "delivered" && implicit.tls == true && implicit.login == nil)
                #expect(implicit.subject == "[slipway] hello v1: rollout succeeded")

                // The outbox lists them as sent; nothing shows the password.
                let text = try await h.cli(["notifications", "--service", "hello"])
                #expect(text.status == 0 && text.stdout.contains("delivered"), "\(text.stdout)")
                #expect(!text.stdout.contains(Self.password))
                let metrics = try await h.api("/metrics").body
                #expect(metrics.contains(#"slipway_notification_attempts_total{sink="email",outcome="delivered"} 2"#), "\(metrics)")
                #expect(metrics.contains(#"slipway_notification_attempts_total{sink="email",outcome="retry"} 1"#), "\(metrics)")
            }
        }
    }

    @Test func refusalsNameTheirCauseAndNeverSendThePasswordInPlainText() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let certs = try await TestCertificates.make(in: directory.path)
            // No certificate: this server cannot do STARTTLS, but would take AUTH in plain text.
            let plain = try await Self.startMailServer("plain", in: directory, ["--refuse-rcpt", "nobody@example.org"])
            let strict = try await Self.startMailServer("strict", in: directory, [
                "--cert", certs.cert, "--key", certs.key, "--user", "deployer", "--password", "right",
            ])
            defer { plain.stop(); strict.stop() }
            let extra = """
                notifications:
                  - { kind: email, url: "smtp://127.0.0.1:\(plain.port)", from: a@example.org, to: [b@example.org], username: u, password: "${SMTP_PASSWORD}", events: [succeeded] }
                  - { kind: email, url: "smtp://127.0.0.1:\(strict.port)", from: a@example.org, to: [b@example.org], username: deployer, password: "${SMTP_PASSWORD}", ca: "\(certs.ca)", events: [succeeded] }
                  - { kind: email, url: "smtp://localhost:\(strict.port)", from: a@example.org, to: [b@example.org], username: deployer, password: "${SMTP_PASSWORD}", events: [succeeded] }
                  - { kind: email, url: "smtp://127.0.0.1:\(plain.port)", from: a@example.org, to: [nobody@example.org], tls: none, events: [succeeded] }
                """
            try await NotificationTests.withService(extra: extra, arguments: ["--notification-retry-base", "100ms", "--notification-attempts", "2"],
                                                    environment: ["SMTP_PASSWORD": "wrong-\(Self.password)"]) { h, _ in
                let failed = try await eventually("every email to be given up", timeout: .seconds(30)) { () -> [NotificationTests.Delivery]? in
                    let all = try await NotificationTests.deliveries(h)
                    return all.count == 4 && all.allSatisfy({ $0.status != "pending" }) ? all : nil
                }
                let errors = failed.map { $0.lastError ?? "" }
                // 1. No STARTTLS: refused before any credential is sent, and not retried.
                let noTLS = try #require(failed.first { $0.lastError?.contains("does not offer STARTTLS") == true }, "\(errors)")
                #expect(noTLS.status == "failed" && noTLS.attempts == 1)
                #expect(!plain.received.contains { $0.event == "auth_refused" }, "no AUTH was tried in plain text")
                // 2. A wrong password: 535 is permanent.
                let auth = try #require(failed.first { $0.lastError?.contains("AUTH") == true && $0.lastError?.contains("535") == true }, "\(errors)")
                #expect(auth.status == "failed" && auth.attempts == 1)
                #expect(strict.received.contains { $0.event == "auth_refused" })
                // 3. A certificate from a CA the sink does not trust: retried, then given up.
                let untrusted = try #require(failed.first { $0.lastError?.contains("TLS") == true }, "\(errors)")
                #expect(untrusted.status == "failed" && untrusted.attempts == 2, "\(untrusted.lastError ?? "")")
                // 4. Plain text where the sink allows it, and a refused recipient (550): permanent.
                let rcpt = try #require(failed.first { $0.lastError?.contains("RCPT TO:<nobody@example.org>") == true }, "\(errors)")
                #expect(rcpt.status == "failed" && rcpt.attempts == 1 && rcpt.lastError?.contains("550") == true)
                #expect(plain.received.contains { $0.event == "rcpt_refused" })
                #expect(!failed.contains { ($0.lastError ?? "").contains(Self.password) })
                #expect(plain.received.allSatisfy { $0.event != "delivered" } && strict.received.allSatisfy { $0.event != "delivered" })
            }
        }
    }
}
