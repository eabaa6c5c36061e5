import Foundation
import GRDB
import SlipwayCore
import SlipwayEvidence

extension Store {
    /// Records a release with its evidence; a release is immutable, so a second create of
    /// the same service and version is a conflict.
    public func createRelease(_ manifest: ReleaseManifest) throws(StoreError) {
        try write { db in
            if let created = try Double.fetchOne(db, sql: "SELECT created_at FROM release_manifest WHERE service = ? AND version = ?", arguments: [manifest.service, manifest.version]) {
                throw StoreError(.conflict, "release \(manifest.version) of \(manifest.service) already exists (created \(Timestamps.format(created))); releases are immutable: build a new version")
            }
            try db.execute(sql: "INSERT INTO release_manifest (service, version, commit_sha, commit_time, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [manifest.service, manifest.version, manifest.commit, manifest.commitTime, manifest.createdAt, manifest.createdBy])
            for (seq, item) in manifest.evidence.enumerated() {
                try db.execute(sql: "INSERT INTO release_evidence (service, version, seq, format, file, sha256, bytes, item_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               arguments: [manifest.service, manifest.version, seq, item.format.rawValue, item.file, item.sha256, item.bytes, Self.encode(item)])
            }
        }
    }

    public func releaseManifest(service: String, version: String) throws(StoreError) -> ReleaseManifest? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM release_manifest WHERE service = ? AND version = ?", arguments: [service, version]) else { return nil }
            return try Self.manifest(row, db)
        }
    }

    public func releaseManifests(service: String) throws(StoreError) -> [ReleaseManifest] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM release_manifest WHERE service = ? ORDER BY created_at", arguments: [service]).map { try Self.manifest($0, db) }
        }
    }

    static func manifest(_ row: Row, _ db: Database) throws -> ReleaseManifest {
        let service: String = row["service"], version: String = row["version"]
        let items = try String.fetchAll(db, sql: "SELECT item_json FROM release_evidence WHERE service = ? AND version = ? ORDER BY seq", arguments: [service, version])
            .map { try decode(EvidenceItem.self, $0) }
        return ReleaseManifest(service: service, version: version, commit: row["commit_sha"], commitTime: row["commit_time"],
                               createdAt: row["created_at"], createdBy: row["created_by"], evidence: items)
    }

    /// The latest successful deploy of `version` to the unit (what `promote_from` asks for).
    public func succeededDeploy(service: String, version: String) throws(StoreError) -> RolloutRecord? {
        try read { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM rollout WHERE service = ? AND to_version = ? AND phase = 'succeeded' AND kind IN ('deploy', 'initial')
                ORDER BY id DESC LIMIT 1
                """, arguments: [service, version]).map(Self.rolloutRecord)
        }
    }
}
