import GRDB

extension Store {
    /// After a step of the wall clock by `delta` seconds: the warm previous releases' retire
    /// times, pending notifications' next attempts and pending post-deploy checks move with it (rollouts are moved by
    /// the controller, which knows their states).
    public func shiftPendingTimes(by delta: Double) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE service SET previous_retire_at = previous_retire_at + ? WHERE previous_retire_at IS NOT NULL", arguments: [delta])
            try db.execute(sql: "UPDATE verification SET due_at = due_at + ? WHERE status = 'pending'", arguments: [delta])
            try db.execute(sql: "UPDATE notification SET next_attempt_at = next_attempt_at + ? WHERE status = 'pending' AND next_attempt_at IS NOT NULL", arguments: [delta])
        }
    }
}
