import GRDB

extension Store {
    /// What one retention sweep deleted.
    public struct Pruned: Sendable, Equatable {
        public var events: Int
        public var notifications: Int
        public init(events: Int, notifications: Int) {
            self.events = events
            self.notifications = notifications
        }
    }

    /// Deletes events older than `cutoff` (except those of a rollout still running) and
    /// notifications older than `cutoff` that are settled (delivered or given up; pending ones
    /// stay whatever their age). Rollouts, their decisions, releases and the audit log are
    /// history and are kept. Freed pages are reused by later writes, so the file stops growing
    /// once the history it keeps is as large as what is added within `cutoff`.
    public func pruneHistory(before cutoff: Double) throws(StoreError) -> Pruned {
        try write { db in
            try db.execute(sql: """
                DELETE FROM event WHERE time < ?
                AND (rollout_id IS NULL OR rollout_id NOT IN (SELECT id FROM rollout WHERE phase NOT IN ('succeeded', 'failed')))
                """, arguments: [cutoff])
            let events = db.changesCount
            try db.execute(sql: "DELETE FROM notification WHERE created_at < ? AND status IN ('delivered', 'failed')", arguments: [cutoff])
            return Pruned(events: events, notifications: db.changesCount)
        }
    }
}
