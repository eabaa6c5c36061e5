import Foundation
import SlipwayCore
import SlipwayStore

/// Secrets: set, list, remove, rotate the master key; the values injected into
/// instances and the redaction of anything that could echo them.
extension Controller {
    public struct RotateKeyResult: Codable, Sendable {
        /// The new key's id, and the old one's.
        public var keyID: String
        public var previousKeyID: String
        public var reencrypted: Int
        /// `file` or `environment`.
        public var keySource: String
        public var note: String
    }

    public func setSecret(service: String, env: String, name: String, value: String, by: String) throws -> SecretInfo {
        try requireSecretsTarget(service)
        let key = masterKey, now = clock.now()
        let info = try Self.translating([.conflict: .invalid]) {
            try store.setSecret(service: service, env: env, name: name, value: value, by: by, key: key, now: now)
        }
        try recordEvent(service: service, rolloutID: nil, kind: "secret_set",
                              message: "secret \(name)\(Self.envLabel(env)) set to version \(info.version) by \(by)", time: clock.now())
        return info
    }

    public func secrets(service: String, env: String?) throws -> [SecretInfo] {
        try requireSecretsTarget(service)
        return try store.secrets(service: service, env: env)
    }

    public func removeSecret(service: String, env: String, name: String, by: String) throws {
        try requireSecretsTarget(service)
        try Self.translating([.notFound: .notFound]) {
            try store.removeSecret(service: service, env: env, name: name)
        }
        try recordEvent(service: service, rolloutID: nil, kind: "secret_removed",
                              message: "secret \(name)\(Self.envLabel(env)) removed by \(by)", time: clock.now())
    }

    /// Re-encrypts every secret under a new master key in one transaction. With a key
    /// file, the new key (random unless given) is written to `master.key.new` and fsynced
    /// before the commit and renamed over `master.key` after it; a crash in between is
    /// settled at the next start (`Store.unlockSecrets`). With `SLIPWAY_MASTER_KEY`, the
    /// caller must give the new key and then update the variable.
    public func rotateMasterKey(newKey: MasterKey?) throws -> RotateKeyResult {
        let old = masterKey
        let (new, count) = try rotate(from: old, newKey: newKey)
        let note: String
        if case .file(let path) = new.source {
            note = "the new key is in \(path); back it up: the old key no longer opens the secrets"
        } else {
            note = "set \(MasterKey.environmentVariable) to the new key before the server's next start: the old key no longer opens the secrets"
        }
        logger.info("master key rotated", metadata: ["slipway.key_id": "\(new.id)", "slipway.previous_key_id": "\(old.id)", "slipway.reencrypted": "\(count)"])
        return RotateKeyResult(keyID: new.id, previousKeyID: old.id, reencrypted: count,
                               keySource: new.source == .environment ? "environment" : "file", note: note)
    }

    private func rotate(from old: MasterKey, newKey: MasterKey?) throws -> (MasterKey, Int) {
        guard case .file(let keyFile) = old.source else {
            guard let newKey else {
                throw ControllerError(.invalid, "the master key comes from \(MasterKey.environmentVariable): give the new key (`slipway secrets rotate-key --new-key-stdin`), then set \(MasterKey.environmentVariable) to it before the server's next start")
            }
            let new = newKey.from(.environment)
            let count = try storeRotation(from: old, to: new, beforeCommit: {})
            masterKey = new
            return (new, count)
        }
        let new = (newKey ?? MasterKey.generate(source: .file(keyFile))).from(.file(keyFile))
        let pending = stateDirectory.masterKeyPending
        let count = try storeRotation(from: old, to: new, beforeCommit: { try MasterKeyFile.write(new, to: pending) })
        masterKey = new
        do {
            try MasterKeyFile.replace(keyFile, with: pending)
        } catch {
            throw ControllerError(.unavailable, "the secrets were re-encrypted under key id \(new.id), which is in \(pending), but it could not replace \(keyFile) (\(error)); the next server start adopts it")
        }
        return (new, count)
    }

    private func storeRotation(from old: MasterKey, to new: MasterKey, beforeCommit: () throws -> Void) throws -> Int {
        try Self.translating([.corrupt: .invalid, .conflict: .invalid, .database: .unavailable]) {
            try store.rotateMasterKey(from: old, to: new, beforeCommit: beforeCommit)
        }
    }

    /// Runs `body`, turning the store errors named in `codes` into controller errors
    /// (so the API answers 404 / 422 / 503 instead of 500).
    static func translating<T>(_ codes: [StoreError.Code: ControllerError.Code], _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            if let code = codes[error.code] { throw ControllerError(code, error.message) }
            throw error
        }
    }

    /// The decrypted secrets an instance of `service` gets, or a precise error naming the
    /// secret that does not open (never its value).
    /// A unit of an environment gets the service-wide secrets and those of its scope
    /// (`secrets_scope`, default the environment's name); the scope's win.
    func secretEnvironment(service unit: String) throws -> [String: String] {
        let key = masterKey
        let (base, environment) = UnitName.split(unit)
        let scope = try store.service(unit)?.spec.environment?.secretsScope ?? environment
        return try Self.translating([.corrupt: .invalid]) {
            var values = try store.secretValues(service: base, env: "", key: key)
            if let scope { values.merge(try store.secretValues(service: base, env: scope, key: key)) { _, scoped in scoped } }
            return values
        }
    }

    /// The secrets a unit's instances get (names and versions, never values).
    func secretInfos(unit spec: ServiceSpec) throws -> [SecretInfo] {
        var infos = try store.secrets(service: spec.serviceName, env: "")
        if let scope = spec.environment?.secretsScope { infos += try store.secrets(service: spec.serviceName, env: scope) }
        return infos
    }

    /// Hides every known secret value in text that could echo an instance's environment.
    /// Every secret value, to hide in events, logs and traces. Kept while the stored rows
    /// and the key stay the same (every set seals with a fresh nonce, so equal rows are
    /// equal values): an event costs one read of the table, not a decryption per secret.
    var redaction: SecretRedaction {
        let rows = store.allSealedSecrets()
        if let cached = redactionCache, cached.keyID == masterKey.id, cached.rows == rows { return cached.redaction }
        let redaction = SecretRedaction(Store.open(rows, key: masterKey))
        redactionCache = RedactionCache(rows: rows, keyID: masterKey.id, redaction: redaction)
        return redaction
    }

    /// Secrets belong to a service (all its environments, or one scope): a service name
    /// with units. Without environments that is the service itself.
    func requireSecretsTarget(_ service: String) throws {
        if try store.service(service) != nil { return }
        try requireServiceName(service)
    }

    static func envLabel(_ env: String) -> String {
        env.isEmpty ? "" : " (environment \(env))"
    }
}

/// The last redaction made and what it was made from (`Controller.redaction`).
struct RedactionCache {
    var rows: [Store.SealedSecret]
    var keyID: String
    var redaction: SecretRedaction
}
