import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SlipwayCore
import SlipwayStore

/// Delivers the notification outbox: every due row is sent, then marked delivered, or
/// scheduled again with backoff, or given up as failed. Woken at once when the
/// controller queues a row; otherwise sleeps until the next retry is due. After a
/// restart it simply finds the rows still pending.
public struct NotifierService: Service {
    public struct Options: Sendable {
        public var retry: RetryPolicy
        /// Per request.
        public var timeout: Duration
        /// Rows sent at once.
        public var batch: Int

        public init(retry: RetryPolicy = RetryPolicy(), timeout: Duration = .seconds(10), batch: Int = 16) {
            self.retry = retry
            self.timeout = timeout
            self.batch = batch
        }
    }

    let controller: Controller
    let store: Store
    let signal: OutboxSignal
    let options: Options
    let logger: Logger
    let http: HTTPClient
    let metrics: ControlPlaneMetrics

    public init(controller: Controller, options: Options, http: HTTPClient, logger: Logger) {
        self.controller = controller
        self.metrics = controller.metrics
        self.store = controller.store
        self.signal = controller.outbox
        self.options = options
        self.http = http
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await loop()
        }
    }

    func loop() async {
        // After a restart, whatever is pending is tried at once (it may have waited long).
        do {
            try store.notificationsDueNow(now: Date().timeIntervalSince1970)
        } catch {
            logger.error("notification outbox unreadable", metadata: ["slipway.error": "\(error)"])
        }
        while !Task.isCancelled {
            var wait: Duration = .seconds(30)
            do {
                let now = Date().timeIntervalSince1970
                let due = try store.dueNotifications(now: now, limit: options.batch)
                if !due.isEmpty {
                    // One receiver at a time in queue order (a firing alert before its
                    // resolution); different receivers concurrently, so a slow one delays
                    // only its own notifications.
                    var byReceiver: [String: [NotificationRecord]] = [:]
                    for record in due { byReceiver["\(record.sink.kind.rawValue) \(record.sink.url)", default: []].append(record) }
                    await withTaskGroup(of: Void.self) { group in
                        for records in byReceiver.values {
                            group.addTask { for record in records { await deliver(record) } }
                        }
                    }
                    continue
                }
                if let next = try store.nextNotificationDue() {
                    wait = .milliseconds(Int64(max(0, min(30, next - Date().timeIntervalSince1970)) * 1000) + 5)
                }
            } catch {
                logger.error("notification outbox unreadable", metadata: ["slipway.error": "\(error)"])
                wait = .seconds(1)
            }
            await signal.wait(upTo: wait)
        }
    }

    /// One attempt at one notification.
    func deliver(_ record: NotificationRecord) async {
        let attempts = record.attempts + 1
        let lookup = await controller.notificationLookup(service: record.service)
        let outcome: DeliveryOutcome
        if record.sink.kind == .email {
            switch EmailRequest.make(record, lookup: { lookup[$0] }) {
            case .failure(let error):
                outcome = .retry("cannot resolve \(error.message)")
            case .success(let request):
                outcome = await send(request)
            }
        } else {
            switch NotificationRequest.make(record, lookup: { lookup[$0] }, now: Date().timeIntervalSince1970) {
            case .failure(let error):
                outcome = .retry("cannot resolve \(error.message)")
            case .success(let request):
                outcome = await send(request)
            }
        }
        let metadata: Logger.Metadata = ["slipway.service": "\(record.service)", "slipway.notification": "\(record.id)",
                                         "slipway.event": "\(record.event.rawValue)", "slipway.sink": "\(record.sink.kind.rawValue)"]
        do {
            switch outcome {
            case .delivered:
                let now = Date().timeIntervalSince1970
                try store.markNotificationDelivered(id: record.id, attempts: attempts, now: now)
                metrics.notificationAttempt(sink: record.sink.kind.rawValue, outcome: "delivered", queuedFor: max(0, now - record.createdAt))
                logger.debug("notification delivered", metadata: metadata)
            case .retry(let error), .permanent(let error):
                var permanent = false
                if case .permanent = outcome { permanent = true }
                let next = options.retry.next(afterAttempts: attempts, permanent: permanent, random: { Double.random(in: 0..<1) })
                var at: Double?
                if case .retry(let after) = next { at = Date().timeIntervalSince1970 + after }
                try store.notificationAttemptFailed(id: record.id, attempts: attempts, error: error, nextAttemptAt: at)
                metrics.notificationAttempt(sink: record.sink.kind.rawValue, outcome: at == nil ? "given_up" : "retry", queuedFor: nil)
                var m = metadata
                m["slipway.error"] = "\(error)"
                m["slipway.attempts"] = "\(attempts)"
                if at == nil {
                    logger.error("notification given up", metadata: m)
                } else {
                    logger.warning("notification delivery failed; will retry", metadata: m)
                }
            }
        } catch {
            logger.error("notification outbox write failed", metadata: ["slipway.error": "\(error)"])
        }
    }

    enum DeliveryOutcome {
        case delivered
        case retry(String)
        case permanent(String)
    }

    func send(_ request: NotificationRequest) async -> DeliveryOutcome {
        var http = HTTPClientRequest(url: request.url)
        http.method = .POST
        for (name, value) in request.headers { http.headers.add(name: name, value: value) }
        http.body = .bytes(ByteBuffer(string: request.body))
        do {
            let response = try await self.http.execute(http, timeout: .milliseconds(options.timeout.milliseconds))
            let body = try? await response.body.collect(upTo: 4096)
            let code = Int(response.status.code)
            if (200..<300).contains(code) { return .delivered }
            let excerpt = body.map { String(buffer: $0).prefix(200) }.map { $0.isEmpty ? "" : ": \($0)" } ?? ""
            let message = "\(Self.host(request.url)) answered \(code)\(excerpt)"
            if (400..<500).contains(code), code != 408, code != 429 { return .permanent(message + " (not retried)") }
            return .retry(message)
        } catch {
            return .retry("\(Self.host(request.url)) did not answer: \(error)")
        }
    }

    func send(_ request: EmailRequest) async -> DeliveryOutcome {
        let client = SMTPClient(group: http.eventLoopGroup, timeout: options.timeout)
        do {
            try await client.send(request)
            return .delivered
        } catch let error as SMTPError {
            return error.permanent ? .permanent(error.description) : .retry(error.description)
        } catch {
            return .retry("\(request.server): \(error)")
        }
    }

    /// Scheme, host and port only: URLs of Slack-style hooks hold their token in the path.
    static func host(_ url: String) -> String {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return "the receiver" }
        return "\(scheme)://\(host)" + (c.port.map { ":\($0)" } ?? "")
    }
}
