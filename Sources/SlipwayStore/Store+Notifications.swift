import Foundation
import GRDB
import SlipwayCore

/// The notification outbox: a row per (event, sink) written in the same transaction as
/// the event, delivered and retried by the server's notifier until delivered or given up.
extension Store {
    /// Appends an event to the service's log and queues its notifications, atomically:
    /// an event that is in the log has its notifications queued, even across a crash.
    @discardableResult
    public func appendEvent(service: String, rolloutID: Int64?, kind: String, message: String, time: Double,
                            notifications: [(sink: NotificationSink, payload: NotificationPayload)]) throws(StoreError) -> Int64 {
        try write { db in
            try db.execute(sql: "INSERT INTO event (rollout_id, service, time, kind, message) VALUES (?, ?, ?, ?, ?)",
                           arguments: [rolloutID, service, time, kind, message])
            let eventID = db.lastInsertedRowID
            for (sink, payload) in notifications {
                try Self.insertNotification(db, service: service, eventID: eventID, sink: sink, payload: payload, time: time)
            }
            return eventID
        }
    }

    /// Queues notifications that belong to no event-log entry.
    public func enqueueNotifications(service: String, _ notifications: [(sink: NotificationSink, payload: NotificationPayload)], time: Double) throws(StoreError) {
        try write { db in
            for (sink, payload) in notifications {
                try Self.insertNotification(db, service: service, eventID: nil, sink: sink, payload: payload, time: time)
            }
        }
    }

    static func insertNotification(_ db: Database, service: String, eventID: Int64?, sink: NotificationSink, payload: NotificationPayload, time: Double) throws {
        try db.execute(sql: """
            INSERT INTO notification (service, event_id, event, payload_json, sink_json, status, attempts, next_attempt_at, created_at)
            VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)
            """, arguments: [service, eventID, payload.event.rawValue, encode(payload), encode(sink), time, time])
    }

    /// Pending notifications whose next attempt is due at `now`, oldest first.
    public func dueNotifications(now: Double, limit: Int) throws(StoreError) -> [NotificationRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM notification WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                             arguments: [now, limit]).map(Self.notificationRecord)
        }
    }

    /// When the earliest pending notification is due (nil: none pending).
    public func nextNotificationDue() throws(StoreError) -> Double? {
        try read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(next_attempt_at) FROM notification WHERE status = 'pending'")
        }
    }

    /// Makes every pending notification due at `now` (at start: the receiver may have
    /// come back while the control plane was down).
    public func notificationsDueNow(now: Double) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE notification SET next_attempt_at = ? WHERE status = 'pending' AND next_attempt_at > ?", arguments: [now, now])
        }
    }

    public func markNotificationDelivered(id: Int64, attempts: Int, now: Double) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE notification SET status = 'delivered', attempts = ?, delivered_at = ?, next_attempt_at = NULL WHERE id = ?",
                           arguments: [attempts, now, id])
        }
    }

    /// After a failed attempt: try again at `nextAttemptAt`, or (nil) give up as failed.
    public func notificationAttemptFailed(id: Int64, attempts: Int, error: String, nextAttemptAt: Double?) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE notification SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
                           arguments: [nextAttemptAt == nil ? "failed" : "pending", attempts, error, nextAttemptAt, id])
        }
    }

    /// Newest first; `service` matches the unit or every unit of a service (`web` → `web@…`).
    public func notifications(service: String?, status: NotificationRecord.Status?, limit: Int) throws(StoreError) -> [NotificationRecord] {
        try read { db in
            var sql = "SELECT * FROM notification WHERE 1 = 1"
            var arguments: StatementArguments = []
            if let service {
                sql += " AND (service = ? OR substr(service, 1, ?) = ?)"
                arguments += [service, service.count + 1, service + String(UnitName.separator)]
            }
            if let status {
                sql += " AND status = ?"
                arguments += [status.rawValue]
            }
            sql += " ORDER BY id DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.notificationRecord)
        }
    }

    public func notification(id: Int64) throws(StoreError) -> NotificationRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM notification WHERE id = ?", arguments: [id]).map(Self.notificationRecord)
        }
    }

    static func notificationRecord(_ row: Row) throws -> NotificationRecord {
        NotificationRecord(
            id: row["id"], service: row["service"],
            event: NotificationEvent(rawValue: row["event"]) ?? .failed,
            payload: try decode(NotificationPayload.self, row["payload_json"]),
            sink: try decode(NotificationSink.self, row["sink_json"]),
            status: NotificationRecord.Status(rawValue: row["status"]) ?? .failed,
            attempts: row["attempts"], nextAttemptAt: row["next_attempt_at"], lastError: row["last_error"],
            createdAt: row["created_at"], deliveredAt: row["delivered_at"])
    }

    // MARK: alert states

    /// Every stored alert state by unit and rule name (so a restart neither re-fires nor
    /// forgets to resolve an alert).
    public func alertStates() throws(StoreError) -> [String: [String: AlertState]] {
        try read { db in
            var result: [String: [String: AlertState]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM alert_state") {
                let service: String = row["service"], name: String = row["name"], json: String = row["state_json"]
                if let state = try? Self.decode(AlertState.self, json) {
                    result[service, default: [:]][name] = state
                }
            }
            return result
        }
    }

    public func saveAlertState(service: String, name: String, state: AlertState?) throws(StoreError) {
        try write { db in
            if let state {
                try db.execute(sql: "INSERT OR REPLACE INTO alert_state (service, name, state_json) VALUES (?, ?, ?)", arguments: [service, name, Self.encode(state)])
            } else {
                try db.execute(sql: "DELETE FROM alert_state WHERE service = ? AND name = ?", arguments: [service, name])
            }
        }
    }
}

extension Store {
    /// Outbox rows per status (every status present, 0 when none), for `/metrics`.
    public func notificationCounts() throws(StoreError) -> [(status: String, count: Int)] {
        let rows = try read { db in
            try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM notification GROUP BY status").map { ($0["status"] as String, $0["n"] as Int) }
        }
        let found = Dictionary(rows, uniquingKeysWith: +)
        return NotificationRecord.Status.allCases.map { ($0.rawValue, found[$0.rawValue] ?? 0) }
    }
}
