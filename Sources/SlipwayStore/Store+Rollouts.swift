import Foundation
import GRDB
import SlipwayCore

extension Store {
    /// Creates a rollout unless one is already running for the service, in the same
    /// transaction as the check (two racing deploys cannot both start).
    public func createRollout(service: String, state: BlueGreenState, requestedBy: String? = nil, gates: [GateResult]? = nil) throws(StoreError) -> Int64 {
        try write { db in
            if let running = try Int64.fetchOne(db, sql: "SELECT id FROM rollout WHERE service = ? AND phase NOT IN ('succeeded', 'failed') ORDER BY id LIMIT 1", arguments: [service]) {
                throw StoreError(.conflict, "rollout \(running) of \(service) is still running; wait for it to end (slipway status \(service))", rolloutID: running)
            }
            try db.execute(sql: """
                INSERT INTO rollout (service, kind, from_version, to_version, phase, state_json, started_at, requested_by, gates_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [service, state.kind.rawValue, state.fromVersion, state.targetVersion, state.phase.rawValue, Self.encode(state), state.startedAt,
                                 requestedBy, gates.map { Self.encode($0) }])
            return db.lastInsertedRowID
        }
    }

    public func updateRollout(id: Int64, state: BlueGreenState, details: String? = nil) throws(StoreError) {
        try write { db in
            try db.execute(sql: """
                UPDATE rollout SET phase = ?, state_json = ?, reason = ?, ended_at = ?, details = COALESCE(?, details) WHERE id = ?
                """, arguments: [state.phase.rawValue, Self.encode(state), state.failureReason, state.endedAt, details, id])
        }
    }

    /// Rollouts that have not ended, with their persisted machine state.
    public func activeRollouts() throws(StoreError) -> [(id: Int64, service: String, state: BlueGreenState)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, service, state_json FROM rollout WHERE phase NOT IN ('succeeded', 'failed') ORDER BY id").map { row in
                (row["id"], row["service"], try Self.decode(BlueGreenState.self, row["state_json"]))
            }
        }
    }

    /// Ended rollouts counted per unit, kind and final phase (for `slipway_rollouts_total`).
    public func rolloutTotals() throws(StoreError) -> [ControlPlaneExposition.RolloutTotal] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT service, kind, phase, COUNT(*) AS n FROM rollout WHERE phase IN ('succeeded', 'failed') GROUP BY service, kind, phase
                """).map { row in
                ControlPlaneExposition.RolloutTotal(service: row["service"], kind: row["kind"], result: row["phase"], count: row["n"])
            }
        }
    }

    /// Every ended rollout with what `DeliveryReport` needs: first traffic on the target
    /// version, the automatic rollback's time and the release's commit time.
    public func reportRollouts() throws(StoreError) -> [DeliveryReport.Rollout] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.id, r.service, r.kind, r.from_version, r.to_version, r.phase, r.started_at, r.ended_at,
                    (SELECT MIN(e.time) FROM event e WHERE e.rollout_id = r.id AND e.kind IN ('switched', 'decision_weight_set', 'batch_started')) AS traffic_at,
                    (SELECT MIN(d.time) FROM decision d WHERE d.rollout_id = r.id AND d.kind = 'rolled_back') AS rolled_back_at,
                    (SELECT m.commit_time FROM release_manifest m WHERE m.version = r.to_version AND m.service =
                        CASE WHEN instr(r.service, '@') > 0 THEN substr(r.service, 1, instr(r.service, '@') - 1) ELSE r.service END) AS commit_time
                FROM rollout r WHERE r.phase IN ('succeeded', 'failed') AND r.ended_at IS NOT NULL ORDER BY r.id
                """).compactMap { row in
                guard let kind = RolloutKind(rawValue: row["kind"]) else { return nil }
                return DeliveryReport.Rollout(id: row["id"], unit: row["service"], kind: kind, fromVersion: row["from_version"], toVersion: row["to_version"],
                                              succeeded: (row["phase"] as String) == "succeeded", startedAt: row["started_at"], endedAt: row["ended_at"],
                                              trafficAt: row["traffic_at"], rolledBackAt: row["rolled_back_at"], commitTime: row["commit_time"])
            }
        }
    }

    public func rollouts(service: String, limit: Int) throws(StoreError) -> [RolloutRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rollout WHERE service = ? ORDER BY id DESC LIMIT ?", arguments: [service, limit]).map(Self.rolloutRecord)
        }
    }

    public func rollout(id: Int64, withEvents: Bool = true) throws(StoreError) -> RolloutRecord? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM rollout WHERE id = ?", arguments: [id]) else { return nil }
            var record = try Self.rolloutRecord(row)
            if withEvents {
                record.events = try Row.fetchAll(db, sql: "SELECT * FROM event WHERE rollout_id = ? ORDER BY id", arguments: [id]).map(Self.eventRecord)
            }
            return record
        }
    }

    public func activeRollout(service: String) throws(StoreError) -> RolloutRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM rollout WHERE service = ? AND phase NOT IN ('succeeded', 'failed') ORDER BY id LIMIT 1", arguments: [service]).map(Self.rolloutRecord)
        }
    }

    // MARK: events

    @discardableResult
    public func appendEvent(service: String, rolloutID: Int64?, kind: String, message: String, time: Double) throws(StoreError) -> Int64 {
        try write { db in
            try db.execute(sql: "INSERT INTO event (rollout_id, service, time, kind, message) VALUES (?, ?, ?, ?, ?)",
                           arguments: [rolloutID, service, time, kind, message])
            return db.lastInsertedRowID
        }
    }

    public func events(service: String, limit: Int) throws(StoreError) -> [RolloutEventRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM (SELECT * FROM event WHERE service = ? ORDER BY id DESC LIMIT ?) ORDER BY id", arguments: [service, limit]).map(Self.eventRecord)
        }
    }

    static func rolloutRecord(_ row: Row) throws -> RolloutRecord {
        var record = RolloutRecord(
            id: row["id"], service: row["service"],
            kind: RolloutKind(rawValue: row["kind"]) ?? .deploy,
            fromVersion: row["from_version"], toVersion: row["to_version"],
            phase: RolloutPhase(rawValue: row["phase"]) ?? .failed,
            startedAt: row["started_at"], endedAt: row["ended_at"],
            reason: row["reason"], details: row["details"])
        record.environment = UnitName.split(record.service).environment
        record.requestedBy = row["requested_by"]
        if let json: String = row["gates_json"] { record.gates = try? decode([GateResult].self, json) }
        if let json: String = row["state_json"], let state = try? decode(BlueGreenState.self, json) {
            record.approval = state.approval
            if let progress = state.canary { record.canary = CanaryStatus(progress) }
            if let progress = state.rolling { record.rolling = progress.summary(replicas: state.replicas) }
            if let progress = state.waves { record.waves = progress.summary }
        }
        return record
    }

    // MARK: decisions

    @discardableResult
    public func appendDecision(service: String, rolloutID: Int64, draft: DecisionDraft, time: Double) throws(StoreError) -> Int64 {
        let key = auditKey
        return try write { db in
            try db.execute(sql: "INSERT INTO decision (rollout_id, service, time, kind, actor, summary, draft_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [rolloutID, service, time, draft.kind.rawValue, draft.actor, draft.summary, Self.encode(draft)])
            let id = db.lastInsertedRowID
            // Every decision, automatic or human, also enters the audit chain (same transaction).
            _ = try Self.appendAudit(AuditDraft(principal: draft.actor, action: "decision.\(draft.kind.rawValue)", target: "service/\(service)",
                                                details: ["rollout": String(rolloutID), "decision": String(id), "summary": draft.summary]),
                                     time: time, in: db, key: key)
            return id
        }
    }

    public func decisions(rolloutID: Int64) throws(StoreError) -> [DecisionRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM decision WHERE rollout_id = ? ORDER BY id", arguments: [rolloutID]).map { row in
                DecisionRecord(id: row["id"], service: row["service"], rolloutID: row["rollout_id"], time: row["time"],
                               draft: try Self.decode(DecisionDraft.self, row["draft_json"]))
            }
        }
    }

    /// The newest rollout of the service that has decisions (the one `slipway why` explains).
    public func latestRolloutWithDecisions(service: String) throws(StoreError) -> Int64? {
        try read { db in
            try Int64.fetchOne(db, sql: "SELECT rollout_id FROM decision WHERE service = ? ORDER BY id DESC LIMIT 1", arguments: [service])
        }
    }

    static func eventRecord(_ row: Row) throws -> RolloutEventRecord {
        RolloutEventRecord(id: row["id"], rolloutID: row["rollout_id"], service: row["service"], time: row["time"], kind: row["kind"], message: row["message"])
    }
}
