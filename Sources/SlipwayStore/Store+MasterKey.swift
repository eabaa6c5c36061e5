import Foundation
import GRDB
import SlipwayCore

/// The master key's check value and rotation. The meta rows `secrets.key_id` and
/// `secrets.key_check` (a sealed known plaintext) tell at start-up whether the key at
/// hand is the one the secrets were sealed with.
extension Store {
    /// The id of the key this store's secrets are sealed with, or nil before the first key.
    public func masterKeyID() throws(StoreError) -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'secrets.key_id'") }
    }

    /// Whether `key` opens the stored check value: true, false, or nil when there is none yet.
    func opensKeyCheck(_ key: MasterKey) throws(StoreError) -> Bool? {
        let stored = try read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'secrets.key_check'") }
        guard let stored else { return nil }
        guard let sealed = Data(base64Encoded: stored) else { return false }
        return SecretSeal.opensKeyCheck(sealed, key: key)
    }

    /// Checks `key` against the stored check value, storing one for it when there is none.
    /// A wrong key changes nothing and throws `.wrongKey` naming both key ids.
    public func verifyMasterKey(_ key: MasterKey) throws(MasterKeyError) {
        let opens: Bool?
        let storedID: String?
        do {
            opens = try opensKeyCheck(key)
            storedID = try masterKeyID()
        } catch {
            throw MasterKeyError(.unreadable, "cannot read the master key check from the state database: \(error)")
        }
        switch opens {
        case true?:
            return
        case false?:
            throw Self.wrongKey(key, storedID: storedID)
        case nil:
            do {
                try write { db in try Self.storeKeyCheck(db, key) }
            } catch {
                throw MasterKeyError(.cannotWrite, "cannot store the master key check: \(error)")
            }
        }
    }

    static func wrongKey(_ key: MasterKey, storedID: String?) -> MasterKeyError {
        if storedID == key.id {
            return MasterKeyError(.wrongKey, "the master key check in the state database is damaged (key id \(key.id) matches, but its check value does not open); nothing was changed")
        }
        return MasterKeyError(.wrongKey, "the master key from \(key.source.label) (key id \(key.id)) does not open this state directory's secrets "
                              + "(they were sealed with key id \(storedID ?? "unknown")); nothing was changed")
    }

    static func storeKeyCheck(_ db: Database, _ key: MasterKey) throws {
        let check = try SecretSeal.keyCheck(key).base64EncodedString()
        for (name, value) in [("secrets.key_check", check), ("secrets.key_id", key.id)] {
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [name, value])
        }
    }

    /// Re-encrypts every secret and the key check from `old` to `new` in one transaction.
    /// `beforeCommit` runs inside it, after every row is re-sealed (a key file rotation
    /// writes the new key to disk there); if it throws, or any row does not open under
    /// `old`, nothing changes. Returns how many values were re-encrypted.
    @discardableResult
    public func rotateMasterKey(from old: MasterKey, to new: MasterKey, beforeCommit: () throws -> Void = {}) throws(StoreError) -> Int {
        let count = try write { db in
            if let stored = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'secrets.key_check'"),
               !(Data(base64Encoded: stored).map { SecretSeal.opensKeyCheck($0, key: old) } ?? false) {
                throw StoreError(.conflict, Self.wrongKey(old, storedID: try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'secrets.key_id'")).message)
            }
            let rows = try Row.fetchAll(db, sql: "SELECT service, env, name, version, sealed FROM secret ORDER BY service, env, name")
            for row in rows {
                let address = SecretSeal.Address(service: row["service"], env: row["env"], name: row["name"], version: row["version"])
                guard let sealed = row["sealed"] as Data?, let value = SecretSeal.open(sealed, at: address, key: old) else {
                    let e = Self.corruptSecret(service: address.service, env: address.env, name: address.name, version: address.version)
                    throw StoreError(.corrupt, e.message + "; the key was not rotated and nothing was changed")
                }
                try db.execute(sql: "UPDATE secret SET sealed = ? WHERE service = ? AND env = ? AND name = ?",
                               arguments: [try SecretSeal.seal(value, at: address, key: new), address.service, address.env, address.name])
            }
            try Self.storeKeyCheck(db, new)
            // The audit log's head is signed with a key derived from the master key.
            if auditKey != nil { try Self.resignAuditHead(in: db, key: new.derive(Self.auditKeyPurpose)) }
            do { try beforeCommit() } catch let e as StoreError { throw e } catch {
                throw StoreError(.database, "\(error); the key was not rotated and nothing was changed")
            }
            return rows.count
        }
        if auditKey != nil { signAuditHead(with: new) }
        return count
    }

    /// The master key for this state directory, checked against the stored key check:
    ///
    /// 1. `SLIPWAY_MASTER_KEY` from `environment` when set (base64 or hex of 32 bytes);
    /// 2. otherwise the key file. When `pendingFile` exists a rotation was interrupted
    ///    between its commit and its rename: whichever of the two keys opens the check
    ///    is kept (the pending one is renamed over the key file, or deleted);
    /// 3. when neither exists and no secret was ever sealed, a new random key is written
    ///    to `keyFile` (mode 0600).
    ///
    /// A wrong key, a key file readable by others, a malformed variable: each a precise
    /// `MasterKeyError`, with nothing changed.
    public func unlockSecrets(environment: [String: String], keyFile: String, pendingFile: String) throws(MasterKeyError) -> MasterKey {
        let snapshot: KeyCheckSnapshot
        do {
            snapshot = try read { db in try KeyCheckSnapshot(db) }
        } catch {
            throw MasterKeyError(.unreadable, "cannot read the master key check from the state database: \(error)")
        }
        let key = try Self.chooseKey(snapshot, environment: environment, keyFile: keyFile, pendingFile: pendingFile, apply: true)
        guard let key else { throw MasterKeyError(.missing, "no master key") }
        try verifyMasterKey(key)
        return key
    }

    /// The checks of `unlockSecrets` on a read-only connection, changing nothing on disk:
    /// run before the store is opened for writing, so a wrong key leaves the database
    /// byte-for-byte as it was (a writable connection may checkpoint the WAL on close).
    public static func preflightMasterKey(databasePath: String, environment: [String: String], keyFile: String, pendingFile: String) throws(MasterKeyError) {
        guard FileManager.default.fileExists(atPath: databasePath) else { return }
        var config = Configuration()
        config.readonly = true
        guard let queue = try? DatabaseQueue(path: databasePath, configuration: config),
              let snapshot = try? queue.read({ db in try KeyCheckSnapshot(db) }) else { return }
        _ = try chooseKey(snapshot, environment: environment, keyFile: keyFile, pendingFile: pendingFile, apply: false)
    }

    /// The stored key id and check value, read once.
    struct KeyCheckSnapshot {
        var keyID: String?
        var check: Data?
        init(_ db: Database) throws {
            guard try db.tableExists("meta") else { return }
            keyID = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'secrets.key_id'")
            check = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'secrets.key_check'").map { Data(base64Encoded: $0) ?? Data() }
        }
        /// nil when there is no check yet.
        func opens(_ key: MasterKey) -> Bool? { check.map { SecretSeal.opensKeyCheck($0, key: key) } }
    }

    /// Picks the key (see `unlockSecrets`). With `apply` false nothing on disk changes and
    /// nil stands for "a new key would be created".
    static func chooseKey(_ snapshot: KeyCheckSnapshot, environment: [String: String], keyFile: String, pendingFile: String, apply: Bool) throws(MasterKeyError) -> MasterKey? {
        if let text = environment[MasterKey.environmentVariable] {
            let key = try MasterKey.parse(text, source: .environment)
            if snapshot.opens(key) == false { throw wrongKey(key, storedID: snapshot.keyID) }
            return key
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: pendingFile) {
            let pending = try MasterKeyFile.read(pendingFile)
            let current = fm.fileExists(atPath: keyFile) ? try MasterKeyFile.read(keyFile) : nil
            if let current, snapshot.opens(current) != false {
                // The rotation never committed: its new key is dropped.
                if apply { try? fm.removeItem(atPath: pendingFile) }
                return current
            }
            if snapshot.opens(pending) != false {
                if apply { try MasterKeyFile.replace(keyFile, with: pendingFile) }
                return pending.from(.file(keyFile))
            }
            throw MasterKeyError(.wrongKey, "neither \(keyFile) (key id \(current?.id ?? "missing")) nor \(pendingFile) (key id \(pending.id)) opens this state directory's secrets "
                                 + "(they were sealed with key id \(snapshot.keyID ?? "unknown")); nothing was changed")
        }
        if fm.fileExists(atPath: keyFile) {
            let key = try MasterKeyFile.read(keyFile)
            if snapshot.opens(key) == false { throw wrongKey(key, storedID: snapshot.keyID) }
            return key
        }
        if let storedID = snapshot.keyID ?? (snapshot.check == nil ? nil : "unknown") {
            throw MasterKeyError(.missing, "this state directory's secrets were sealed with key id \(storedID), but \(keyFile) is missing and \(MasterKey.environmentVariable) is not set; "
                                 + "restore the key file (mode 0600) or set \(MasterKey.environmentVariable); nothing was changed")
        }
        guard apply else { return nil }
        let key = MasterKey.generate(source: .file(keyFile))
        try MasterKeyFile.write(key, to: keyFile)
        return key
    }
}
