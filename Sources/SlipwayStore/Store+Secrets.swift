import Foundation
import GRDB
import SlipwayCore

/// Encrypted secrets: one row per (service, env, name), the value sealed with AES-GCM
/// under a key derived from the master key (see `SecretSeal`). Values only leave the
/// store through `secretValues`, for instance environments and redaction.
extension Store {
    /// Seals and stores a secret's value; the version goes up by one on every set.
    @discardableResult
    public func setSecret(service: String, env: String = "", name: String, value: String, by: String?, key: MasterKey, now: Double) throws(StoreError) -> SecretInfo {
        if let problem = SecretName.problem(name) { throw StoreError(.conflict, problem) }
        if let problem = SecretName.valueProblem(value, name: name) { throw StoreError(.conflict, problem) }
        return try write { db in
            try Self.requireService(db, service)
            let existing = try Row.fetchOne(db, sql: "SELECT version, created_at, created_by FROM secret WHERE service = ? AND env = ? AND name = ?", arguments: [service, env, name])
            let version = (existing.map { $0["version"] as Int } ?? 0) + 1
            let sealed = try SecretSeal.seal(value, at: .init(service: service, env: env, name: name, version: version), key: key)
            let createdAt = existing.map { $0["created_at"] as Double } ?? now
            let createdBy = existing.map { $0["created_by"] as String? } ?? by
            try db.execute(sql: """
                INSERT INTO secret (service, env, name, version, sealed, created_at, updated_at, created_by, updated_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(service, env, name) DO UPDATE SET version = excluded.version, sealed = excluded.sealed,
                  updated_at = excluded.updated_at, updated_by = excluded.updated_by
                """, arguments: [service, env, name, version, sealed, createdAt, now, createdBy, by])
            return SecretInfo(service: service, env: env, name: name, version: version, createdAt: createdAt, updatedAt: now, createdBy: createdBy, updatedBy: by)
        }
    }

    /// Names, versions and dates of a service's secrets (of `env`, or of every env when nil).
    public func secrets(service: String, env: String? = nil) throws(StoreError) -> [SecretInfo] {
        try read { db in
            var sql = "SELECT service, env, name, version, created_at, updated_at, created_by, updated_by FROM secret WHERE service = ?"
            var args: [any DatabaseValueConvertible] = [service]
            if let env { sql += " AND env = ?"; args.append(env) }
            return try Row.fetchAll(db, sql: sql + " ORDER BY env, name", arguments: StatementArguments(args)).map { row in
                SecretInfo(service: row["service"], env: row["env"], name: row["name"], version: row["version"],
                           createdAt: row["created_at"], updatedAt: row["updated_at"], createdBy: row["created_by"], updatedBy: row["updated_by"])
            }
        }
    }

    /// Deletes a secret; `.notFound` when there is none by that name.
    public func removeSecret(service: String, env: String = "", name: String) throws(StoreError) {
        try write { db in
            try db.execute(sql: "DELETE FROM secret WHERE service = ? AND env = ? AND name = ?", arguments: [service, env, name])
            if db.changesCount == 0 {
                throw StoreError(.notFound, "service \(service) has no secret \(name)" + (env.isEmpty ? "" : " in environment \(env)"))
            }
        }
    }

    /// The decrypted values of a service's secrets for `env` (name → value). A row that
    /// does not open is a `.corrupt` error naming service, name and version (never a value).
    public func secretValues(service: String, env: String = "", key: MasterKey) throws(StoreError) -> [String: String] {
        let rows = try read { db in
            try Row.fetchAll(db, sql: "SELECT name, version, sealed FROM secret WHERE service = ? AND env = ? ORDER BY name", arguments: [service, env])
        }
        var values: [String: String] = [:]
        for row in rows {
            let name: String = row["name"]
            let version: Int = row["version"]
            guard let sealed = row["sealed"] as Data?,
                  let value = SecretSeal.open(sealed, at: .init(service: service, env: env, name: name, version: version), key: key) else {
                throw Self.corruptSecret(service: service, env: env, name: name, version: version)
            }
            values[name] = value
        }
        return values
    }

    /// Every value that opens, of every service (name → value, names qualified when two
    /// services share one): what redaction must hide. Rows that do not open are skipped.
    public func allSecretValues(key: MasterKey) -> [String: String] {
        Self.open(allSealedSecrets(), key: key)
    }

    /// One stored secret as it is on disk: where it lives and its sealed value. Every set
    /// seals with a fresh nonce, so two reads that return equal rows hold equal values.
    public struct SealedSecret: Sendable, Equatable {
        var address: SecretSeal.Address
        var sealed: Data
    }

    /// Every secret row, sealed (nothing decrypted); empty when the table cannot be read.
    public func allSealedSecrets() -> [SealedSecret] {
        guard let rows = try? read({ db in try Row.fetchAll(db, sql: "SELECT service, env, name, version, sealed FROM secret ORDER BY service, env, name") }) else { return [] }
        return rows.compactMap { row in
            guard let sealed = row["sealed"] as Data? else { return nil }
            return SealedSecret(address: SecretSeal.Address(service: row["service"], env: row["env"], name: row["name"], version: row["version"]), sealed: sealed)
        }
    }

    /// The values of `rows` that open with `key` (name → value, qualified by service when
    /// two services share a name).
    public static func open(_ rows: [SealedSecret], key: MasterKey) -> [String: String] {
        var values: [String: String] = [:]
        for row in rows {
            guard let value = SecretSeal.open(row.sealed, at: row.address, key: key) else { continue }
            values[values[row.address.name] == nil ? row.address.name : "\(row.address.service)/\(row.address.name)"] = value
        }
        return values
    }

    static func corruptSecret(service: String, env: String, name: String, version: Int) -> StoreError {
        StoreError(.corrupt, "secret \(name) (version \(version)) of service \(service)\(env.isEmpty ? "" : " in environment \(env)") cannot be decrypted: "
                   + "its stored ciphertext is damaged or does not belong to this row; set it again with `slipway secrets set \(service) \(name)` or remove it")
    }

    /// A service name with a registered unit: itself, or one of its environments (`web@staging`).
    static func requireService(_ db: Database, _ service: String) throws {
        let unitPrefix = UnitName.make(service: service, environment: "")
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM service WHERE name = ? OR substr(name, 1, ?) = ? LIMIT 1",
                                arguments: [service, unitPrefix.count, unitPrefix]) == true else {
            throw StoreError(.notFound, "unknown service \(service)")
        }
    }
}
