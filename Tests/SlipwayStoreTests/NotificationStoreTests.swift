import Foundation
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

/// The outbox: queued with its event, due, retried, delivered, given up; reopened intact.
@Suite struct NotificationStoreTests {
    let sink = NotificationSink(kind: .webhook, url: "http://127.0.0.1:1/", secret: "${HOOK}")

    func payload(_ event: NotificationEvent, service: String = "web") -> NotificationPayload {
        NotificationPayload(event: event, service: service, version: "v2", message: "m", time: 10)
    }

    @Test func eventAndNotificationsAreWrittenTogetherAndSurviveReopening() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let store = try Store(path: dir.file("s.sqlite"))
            try store.appendEvent(service: "web", rolloutID: nil, kind: "failed", message: "m", time: 10,
                                  notifications: [(sink, payload(.failed)), (NotificationSink(kind: .slack, url: "http://x.org"), payload(.failed))])
            try store.appendEvent(service: "web@production", rolloutID: nil, kind: "started", message: "m", time: 11,
                                  notifications: [(sink, payload(.started, service: "web@production"))])
        }
        let store = try Store(path: dir.file("s.sqlite"))
        #expect(try store.events(service: "web", limit: 10).map(\.kind) == ["failed"])
        let due = try store.dueNotifications(now: 10, limit: 10)
        #expect(due.map(\.sink.kind) == [.webhook, .slack])
        #expect(due.first?.sink.secret == "${HOOK}", "stored unresolved")
        #expect(try store.dueNotifications(now: 11, limit: 10).count == 3)
        #expect(try store.notifications(service: "web", status: nil, limit: 10).count == 3, "a service covers its environments")
        #expect(try store.notifications(service: "web@production", status: nil, limit: 10).count == 1)
        #expect(try store.nextNotificationDue() == 10)
    }

    @Test func retriedDeliveredAndFailed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        try store.enqueueNotifications(service: "web", [(sink, payload(.failed)), (sink, payload(.succeeded))], time: 10)
        let (a, b) = try { () throws -> (NotificationRecord, NotificationRecord) in
            let due = try store.dueNotifications(now: 10, limit: 10)
            return (due[0], due[1])
        }()
        try store.notificationAttemptFailed(id: a.id, attempts: 1, error: "answered 500", nextAttemptAt: 20)
        try store.notificationAttemptFailed(id: b.id, attempts: 1, error: "answered 404 (not retried)", nextAttemptAt: nil)
        #expect(try store.dueNotifications(now: 15, limit: 10).isEmpty)
        #expect(try store.nextNotificationDue() == 20)
        try store.notificationsDueNow(now: 16)
        #expect(try store.dueNotifications(now: 16, limit: 10).map(\.id) == [a.id])
        try store.markNotificationDelivered(id: a.id, attempts: 2, now: 17)
        let delivered = try #require(try store.notification(id: a.id))
        #expect(delivered.status == .delivered)
        #expect(delivered.attempts == 2)
        #expect(delivered.lastError == "answered 500")
        #expect(delivered.deliveredAt == 17)
        let failed = try #require(try store.notification(id: b.id))
        #expect(failed.status == .failed)
        #expect(try store.notifications(service: nil, status: .failed, limit: 10).map(\.id) == [b.id])
        #expect(try store.nextNotificationDue() == nil)
    }

    @Test func alertStatesPersist() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        var state = AlertState()
        state.phase = .firing
        state.firingSince = 5
        try store.saveAlertState(service: "web", name: "errors", state: state)
        #expect(try store.alertStates()["web"]?["errors"]?.phase == .firing)
        try store.saveAlertState(service: "web", name: "errors", state: nil)
        #expect(try store.alertStates().isEmpty)
    }
}

/// `--retention`: events and settled notifications older than the cutoff go; a running
/// rollout's events and pending notifications stay whatever their age; rollouts stay.
@Suite struct RetentionTests {
    @Test func oldEventsAndSettledNotificationsArePrunedTheRestKept() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        let sink = NotificationSink(kind: .webhook, url: "http://127.0.0.1:1/")
        let payload = NotificationPayload(event: .started, service: "web", version: "v2", message: "m", time: 10)
        try store.apply(ServiceSpec(name: "web", run: ["./web"]), source: "a.yml", now: 1)
        func state(_ target: String) -> BlueGreenState {
            BlueGreenState(kind: .deploy, targetVersion: target, fromVersion: nil, replicas: 1, warm: false, spec: BlueGreenSpec(), now: 5)
        }
        let finished = try store.createRollout(service: "web", state: state("v1"))
        var done = state("v1")
        done.phase = .succeeded
        done.endedAt = 8
        try store.updateRollout(id: finished, state: done)
        let running = try store.createRollout(service: "web", state: state("v2"))
        _ = try store.appendEvent(service: "web", rolloutID: finished, kind: "old", message: "m", time: 10)
        _ = try store.appendEvent(service: "web", rolloutID: running, kind: "old-running", message: "m", time: 10)
        _ = try store.appendEvent(service: "web", rolloutID: nil, kind: "old-loose", message: "m", time: 10)
        _ = try store.appendEvent(service: "web", rolloutID: finished, kind: "new", message: "m", time: 200)
        try store.enqueueNotifications(service: "web", [(sink, payload), (sink, payload), (sink, payload)], time: 10)
        let due = try store.dueNotifications(now: 10, limit: 10)
        try store.markNotificationDelivered(id: due[0].id, attempts: 1, now: 11)
        try store.notificationAttemptFailed(id: due[1].id, attempts: 1, error: "404", nextAttemptAt: nil)
        try store.enqueueNotifications(service: "web", [(sink, payload)], time: 200)

        let pruned = try store.pruneHistory(before: 100)
        #expect(pruned == Store.Pruned(events: 2, notifications: 2))
        #expect(try store.events(service: "web", limit: 10).map(\.kind).sorted() == ["new", "old-running"])
        let left = try store.notifications(service: "web", status: nil, limit: 10)
        #expect(left.count == 2 && left.allSatisfy { $0.status == .pending }, "the old pending one and the new one")
        #expect(try store.pruneHistory(before: 100) == Store.Pruned(events: 0, notifications: 0))
        #expect(try store.rollouts(service: "web", limit: 10).count == 2, "rollouts are history and stay")
    }
}
