import Foundation
import GRDB
import SlipwayCore

public struct StoredService: Sendable, Equatable {
    public var spec: ServiceSpec
    public var configVersion: Int
    public var stableVersion: String?
    public var previousVersion: String?
    public var previousRetireAt: Double?
}

extension Store {
    /// Registers a service or stores a new config version when the spec changed.
    /// Returns the config version now current and whether it is new.
    @discardableResult
    public func apply(_ spec: ServiceSpec, source: String, now: Double) throws(StoreError) -> (version: Int, changed: Bool) {
        try write { db in
            let json = Self.encode(spec)
            if let row = try Row.fetchOne(db, sql: "SELECT config_version FROM service WHERE name = ?", arguments: [spec.name]) {
                let current: Int = row["config_version"]
                let currentJSON = try String.fetchOne(db, sql: "SELECT spec_json FROM service_config WHERE service = ? AND version = ?", arguments: [spec.name, current])
                if currentJSON == json { return (current, false) }
                let next = current + 1
                try db.execute(sql: "INSERT INTO service_config (service, version, spec_json, source, applied_at) VALUES (?, ?, ?, ?, ?)", arguments: [spec.name, next, json, source, now])
                try db.execute(sql: "UPDATE service SET config_version = ?, updated_at = ? WHERE name = ?", arguments: [next, now, spec.name])
                return (next, true)
            }
            try db.execute(sql: "INSERT INTO service (name, config_version, created_at, updated_at) VALUES (?, 1, ?, ?)", arguments: [spec.name, now, now])
            try db.execute(sql: "INSERT INTO service_config (service, version, spec_json, source, applied_at) VALUES (?, 1, ?, ?, ?)", arguments: [spec.name, json, source, now])
            return (1, true)
        }
    }

    public func serviceNames() throws(StoreError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT name FROM service ORDER BY name") }
    }

    public func service(_ name: String) throws(StoreError) -> StoredService? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT s.config_version, s.stable_version, s.previous_version, s.previous_retire_at, c.spec_json
                FROM service s JOIN service_config c ON c.service = s.name AND c.version = s.config_version
                WHERE s.name = ?
                """, arguments: [name]) else { return nil }
            return StoredService(
                spec: try Self.decode(ServiceSpec.self, row["spec_json"]),
                configVersion: row["config_version"],
                stableVersion: row["stable_version"],
                previousVersion: row["previous_version"],
                previousRetireAt: row["previous_retire_at"]
            )
        }
    }

    /// Records which release serves traffic and which one is kept warm (and until when).
    public func setReleases(service: String, stable: String?, previous: String?, previousRetireAt: Double?, now: Double) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE service SET stable_version = ?, previous_version = ?, previous_retire_at = ?, updated_at = ? WHERE name = ?",
                           arguments: [stable, previous, previousRetireAt, now, service])
        }
    }

    // MARK: releases

    /// Returns the release, creating it from the current config when it does not exist yet.
    /// A release is immutable: re-deploying a version reuses what was recorded first.
    /// The release `version` of the unit; with `creatingWith`, it is created from the unit's
    /// current config when it does not exist yet (`image` replaces the config's image
    /// reference: `deploy --image`). Returns nil when it does not exist and is not created.
    public func release(service: String, version: String, creatingWith extraEnv: [String: String]?, image: String? = nil, now: Double) throws(StoreError) -> ReleaseRecord? {
        try write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM release WHERE service = ? AND version = ?", arguments: [service, version]) {
                return try Self.releaseRecord(row, service: service)
            }
            guard let extraEnv else { return nil }
            guard let row = try Row.fetchOne(db, sql: """
                SELECT s.config_version, c.spec_json FROM service s
                JOIN service_config c ON c.service = s.name AND c.version = s.config_version WHERE s.name = ?
                """, arguments: [service]) else {
                throw StoreError(.notFound, "unknown service \(service)")
            }
            var spec = try Self.decode(ServiceSpec.self, row["spec_json"] as String)
            // The controller refuses --image for a service without `image:`.
            if let image { spec.container?.image = image }
            let specJSON = Self.encode(spec)
            let configVersion: Int = row["config_version"]
            try db.execute(sql: "INSERT INTO release (service, version, config_version, spec_json, extra_env_json, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [service, version, configVersion, specJSON, Self.encode(extraEnv), now])
            return ReleaseRecord(service: service, version: version, configVersion: configVersion,
                                 spec: spec, extraEnv: extraEnv, createdAt: now)
        }
    }

    public func releases(service: String) throws(StoreError) -> [ReleaseRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM release WHERE service = ? ORDER BY created_at", arguments: [service]).map { try Self.releaseRecord($0, service: service) }
        }
    }

    static func releaseRecord(_ row: Row, service: String) throws -> ReleaseRecord {
        ReleaseRecord(service: service, version: row["version"], configVersion: row["config_version"],
                      spec: try decode(ServiceSpec.self, row["spec_json"]),
                      extraEnv: try decode([String: String].self, row["extra_env_json"]),
                      createdAt: row["created_at"],
                      artifacts: try decode([ReleaseArtifact].self, row["artifacts_json"]))
    }

    /// Records the exact bytes a release runs. Once recorded they never change: a second
    /// call with other artifacts is a conflict (the release is immutable).
    public func recordArtifacts(service: String, version: String, _ artifacts: [ReleaseArtifact]) throws(StoreError) {
        try write { db in
            guard let current = try String.fetchOne(db, sql: "SELECT artifacts_json FROM release WHERE service = ? AND version = ?", arguments: [service, version]) else {
                throw StoreError(.notFound, "release \(version) of \(service) is not recorded")
            }
            let recorded = try Self.decode([ReleaseArtifact].self, current)
            if recorded == artifacts { return }
            guard recorded.isEmpty else {
                throw StoreError(.conflict, "release \(version) of \(service) already runs \(recorded.map(\.summary).joined(separator: ", ")); releases are immutable")
            }
            try db.execute(sql: "UPDATE release SET artifacts_json = ? WHERE service = ? AND version = ?", arguments: [Self.encode(artifacts), service, version])
        }
    }

    // MARK: meta

    /// A route-table generation higher than every one handed out before (and than `atLeast`).
    public func nextRouteGeneration(atLeast floor: UInt64) throws(StoreError) -> UInt64 {
        try write { db in
            let current = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'route_generation'").flatMap { UInt64($0) } ?? 0
            let next = max(current, floor) + 1
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('route_generation', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [String(next)])
            return next
        }
    }

    /// This state directory's identity (created on first use): labels every container it
    /// starts, so a restarted control plane adopts exactly its own and never another tool's.
    public func ownerID() throws(StoreError) -> String {
        try secret(named: "owner", bytes: 8)
    }

    /// A random secret kept in the store (created on first use): survives restarts so
    /// signed cookies stay valid.
    public func secret(named name: String, bytes: Int = 32) throws(StoreError) -> String {
        try write { db in
            let key = "secret." + name
            if let existing = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) { return existing }
            let value = Hex.random(bytes: bytes)
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
            return value
        }
    }
}
