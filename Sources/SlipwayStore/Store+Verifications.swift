import GRDB
import SlipwayCore

/// Post-deploy checks (`verify:`): scheduled when a deploy succeeded, run when due, their
/// outcomes kept with the rollout.
extension Store {
    /// Adds the checks of one rollout; offsets it already has are left as they are (so a
    /// restart that schedules again changes nothing).
    public func scheduleVerifications(_ records: [VerificationRecord]) throws(StoreError) {
        guard !records.isEmpty else { return }
        try write { db in
            for r in records {
                try db.execute(sql: """
                    INSERT OR IGNORE INTO verification (service, rollout_id, version, previous_version, after_seconds, due_at, status, on_failure)
                    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
                    """, arguments: [r.service, r.rolloutID, r.version, r.previousVersion, r.afterSeconds, r.dueAt, r.onFailure.rawValue])
            }
        }
    }

    /// Whether rollout `id` has any checks scheduled.
    public func hasVerifications(rolloutID id: Int64) throws(StoreError) -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM verification WHERE rollout_id = ?)", arguments: [id]) ?? false
        }
    }

    /// The checks of rollout `id`, earliest first.
    public func verifications(rolloutID id: Int64) throws(StoreError) -> [VerificationRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM verification WHERE rollout_id = ? ORDER BY after_seconds", arguments: [id]).map(Self.verificationRecord)
        }
    }

    /// The unit's checks, newest rollout first, then by offset (`limit` nil: all).
    public func verifications(service: String, limit: Int? = nil) throws(StoreError) -> [VerificationRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM verification WHERE service = ? ORDER BY rollout_id DESC, after_seconds LIMIT ?",
                             arguments: [service, limit ?? -1]).map(Self.verificationRecord)
        }
    }

    /// Pending checks due at `now` or before, earliest first.
    public func dueVerifications(now: Double) throws(StoreError) -> [VerificationRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM verification WHERE status = 'pending' AND due_at <= ? ORDER BY due_at, id",
                             arguments: [now]).map(Self.verificationRecord)
        }
    }

    /// When the next pending check is due (nil: none is pending).
    public func nextVerificationDue() throws(StoreError) -> Double? {
        try read { db in try Double.fetchOne(db, sql: "SELECT MIN(due_at) FROM verification WHERE status = 'pending'") }
    }

    public func markVerificationRunning(id: Int64, now: Double) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE verification SET status = 'running', started_at = ? WHERE id = ?", arguments: [now, id])
        }
    }

    public func finishVerification(id: Int64, status: VerificationStatus, summary: String, action: String? = nil, now: Double) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE verification SET status = ?, summary = ?, action = COALESCE(?, action), finished_at = ? WHERE id = ?",
                           arguments: [status.rawValue, summary, action, now, id])
        }
    }

    public func setVerificationAction(id: Int64, action: String) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE verification SET action = ? WHERE id = ?", arguments: [action, id])
        }
    }

    /// When another rollout of the unit succeeded: the pending checks of earlier rollouts
    /// will never run (their release no longer serves). Returns how many were skipped.
    @discardableResult
    public func skipPendingVerifications(service: String, before rolloutID: Int64, summary: String, now: Double) throws(StoreError) -> Int {
        try write { db in
            try db.execute(sql: "UPDATE verification SET status = 'skipped', summary = ?, finished_at = ? WHERE service = ? AND rollout_id < ? AND status = 'pending'",
                           arguments: [summary, now, service, rolloutID])
            return db.changesCount
        }
    }

    /// After a restart: checks that were running when the control plane stopped run again.
    @discardableResult
    public func requeueRunningVerifications() throws(StoreError) -> Int {
        try write { db in
            try db.execute(sql: "UPDATE verification SET status = 'pending', started_at = NULL WHERE status = 'running'")
            return db.changesCount
        }
    }

    static func verificationRecord(_ row: Row) -> VerificationRecord {
        VerificationRecord(
            id: row["id"], service: row["service"], rolloutID: row["rollout_id"], version: row["version"], previousVersion: row["previous_version"],
            afterSeconds: row["after_seconds"], dueAt: row["due_at"],
            status: VerificationStatus(rawValue: row["status"] ?? "") ?? .pending,
            onFailure: VerifyFailureAction(rawValue: row["on_failure"] ?? "") ?? .alert,
            summary: row["summary"], action: row["action"], startedAt: row["started_at"], finishedAt: row["finished_at"])
    }
}
