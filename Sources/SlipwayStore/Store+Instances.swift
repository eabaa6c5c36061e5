import Foundation
import GRDB
import SlipwayCore

extension Store {
    public func saveInstance(_ i: InstanceRecord) throws(StoreError) {
        try write { db in
            try db.execute(sql: """
                INSERT INTO instance (id, service, version, port, pid, pid_start_time, state, restarts, started_at, stopped_at, last_exit, restart_at, log_path,
                                      target, container_id, host, server)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET port = excluded.port, pid = excluded.pid, pid_start_time = excluded.pid_start_time,
                  state = excluded.state, restarts = excluded.restarts, started_at = excluded.started_at, stopped_at = excluded.stopped_at,
                  last_exit = excluded.last_exit, restart_at = excluded.restart_at, log_path = excluded.log_path,
                  target = excluded.target, container_id = excluded.container_id, host = excluded.host, server = excluded.server
                """, arguments: [i.id, i.service, i.version, i.port, Int64(i.pid), Int64(bitPattern: i.pidStartTime), i.state.rawValue, i.restarts,
                                 i.startedAt, i.stoppedAt, i.lastExit, i.restartAt, i.logPath, i.target.rawValue, i.containerID, i.host, i.server])
        }
    }

    /// Instances that are not stopped (running, crashed awaiting restart, stopping).
    public func liveInstances(service: String? = nil, version: String? = nil) throws(StoreError) -> [InstanceRecord] {
        try instances(service: service, version: version, includeStopped: false)
    }

    public func instances(service: String?, version: String?, includeStopped: Bool, limit: Int = 1000) throws(StoreError) -> [InstanceRecord] {
        try read { db in
            var sql = "SELECT * FROM instance WHERE 1 = 1"
            var args: [any DatabaseValueConvertible] = []
            if let service { sql += " AND service = ?"; args.append(service) }
            if let version { sql += " AND version = ?"; args.append(version) }
            if !includeStopped { sql += " AND state != 'stopped'" }
            sql += " ORDER BY started_at DESC, id LIMIT ?"
            args.append(limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(Self.instanceRecord)
        }
    }

    static func instanceRecord(_ row: Row) -> InstanceRecord {
        let startTime: Int64 = row["pid_start_time"]
        let pid: Int64 = row["pid"]
        var record = InstanceRecord(
            id: row["id"], service: row["service"], version: row["version"], port: row["port"],
            pid: Int32(truncatingIfNeeded: pid), pidStartTime: UInt64(bitPattern: startTime),
            state: InstanceState(rawValue: row["state"]) ?? .stopped, restarts: row["restarts"],
            startedAt: row["started_at"], stoppedAt: row["stopped_at"], lastExit: row["last_exit"],
            restartAt: row["restart_at"], logPath: row["log_path"])
        record.target = TargetKind(rawValue: row["target"]) ?? .local
        record.containerID = row["container_id"]
        record.host = row["host"]
        record.server = row["server"]
        return record
    }
}
