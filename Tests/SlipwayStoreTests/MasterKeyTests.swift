import Crypto
import Foundation
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

@Suite struct MasterKeyTests {
    let hex = String(repeating: "ab", count: 32)

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func bytes(_ key: SymmetricKey) -> Data { key.withUnsafeBytes { Data($0) } }

    @Test func parsesHexAndBase64AndNamesTheVariableOnBadInput() throws {
        let fromHex = try MasterKey.parse(hex, source: .environment)
        let fromBase64 = try MasterKey.parse(Data(repeating: 0xab, count: 32).base64EncodedString() + "\n", source: .environment)
        #expect(fromHex.id == fromBase64.id)
        #expect(fromHex.id.count == 8)

        let short = message { _ = try MasterKey.parse(Data(repeating: 1, count: 16).base64EncodedString(), source: .environment) }
        #expect(short == "SLIPWAY_MASTER_KEY must hold 32 bytes (256 bits) as base64 or hex; it decodes to 16 bytes")
        let garbage = message { _ = try MasterKey.parse("not a key at all!", source: .environment) }
        #expect(garbage.hasPrefix("SLIPWAY_MASTER_KEY is neither base64 nor hex"))
        #expect(!garbage.contains("not a key at all"), "the error must not quote the value")
        #expect(message { _ = try MasterKey.parse("  ", source: .environment) }.hasPrefix("SLIPWAY_MASTER_KEY is empty"))
    }

    @Test func deriveGivesStableIndependentKeysPerPurpose() throws {
        let key = try MasterKey.parse(hex, source: .environment)
        #expect(bytes(key.derive("audit")) == bytes(key.derive("audit")))
        #expect(bytes(key.derive("audit")) != bytes(key.derive("slipway.secrets.v1")))
        #expect(key.derive("audit").bitCount == 256)
        #expect(bytes(MasterKey.generate(source: .caller).derive("audit")) != bytes(key.derive("audit")))
    }

    @Test func aNewStateDirectoryGetsA0600KeyFileThatIsUsedAgain() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        let keyFile = dir.file("master.key"), pending = dir.file("master.key.new")
        let key = try store.unlockSecrets(environment: [:], keyFile: keyFile, pendingFile: pending)
        #expect(try mode(keyFile) == 0o600)
        #expect(try store.masterKeyID() == key.id)
        #expect(key.source == .file(keyFile))
        let again = try store.unlockSecrets(environment: [:], keyFile: keyFile, pendingFile: pending)
        #expect(again.id == key.id)
    }

    @Test func aKeyFileReadableByOthersIsRefusedWithTheFix() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        let keyFile = dir.file("master.key")
        _ = try store.unlockSecrets(environment: [:], keyFile: keyFile, pendingFile: dir.file("master.key.new"))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile)
        let text = message { _ = try store.unlockSecrets(environment: [:], keyFile: keyFile, pendingFile: dir.file("master.key.new")) }
        #expect(text == "the master key file \(keyFile) has mode 0644, wider than 0600: others could read it; fix it with `chmod 600 \(keyFile)`")
    }

    @Test func aWrongKeyIsRefusedAndChangesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        try store.apply(ServiceSpec(name: "web", run: ["./web"]), source: "a.yml", now: 1)
        let right = try store.unlockSecrets(environment: ["SLIPWAY_MASTER_KEY": hex], keyFile: dir.file("master.key"), pendingFile: dir.file("master.key.new"))
        try store.setSecret(service: "web", name: "A", value: "v", by: nil, key: right, now: 1)
        #expect(!FileManager.default.fileExists(atPath: dir.file("master.key")), "with the variable set no key file is made")

        let wrong = String(repeating: "cd", count: 32)
        let wrongID = try MasterKey.parse(wrong, source: .environment).id
        let text = message { _ = try store.unlockSecrets(environment: ["SLIPWAY_MASTER_KEY": wrong], keyFile: dir.file("master.key"), pendingFile: dir.file("master.key.new")) }
        #expect(text == "the master key from SLIPWAY_MASTER_KEY (key id \(wrongID)) does not open this state directory's secrets (they were sealed with key id \(right.id)); nothing was changed")
        #expect(try store.masterKeyID() == right.id)
        #expect(try store.secretValues(service: "web", key: right) == ["A": "v"])

        // Without the variable and without a key file: a precise "missing" error.
        let missing = message { _ = try store.unlockSecrets(environment: [:], keyFile: dir.file("master.key"), pendingFile: dir.file("master.key.new")) }
        #expect(missing.hasPrefix("this state directory's secrets were sealed with key id \(right.id), but \(dir.file("master.key")) is missing"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("master.key")))
    }

    @Test func preflightRefusesAWrongKeyOnAReadOnlyConnection() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("s.sqlite")
        do {
            let store = try Store(path: path)
            try store.apply(ServiceSpec(name: "web", run: ["./web"]), source: "a.yml", now: 1)
            let key = try store.unlockSecrets(environment: ["SLIPWAY_MASTER_KEY": hex], keyFile: dir.file("master.key"), pendingFile: dir.file("master.key.new"))
            try store.setSecret(service: "web", name: "A", value: "v", by: nil, key: key, now: 1)
        }
        // (A missing WAL and an empty one hold the same: nothing.)
        let before = [path, path + "-wal"].map { FileManager.default.contents(atPath: $0) ?? Data() }
        let wrong = message {
            try Store.preflightMasterKey(databasePath: path, environment: ["SLIPWAY_MASTER_KEY": String(repeating: "cd", count: 32)],
                                         keyFile: dir.file("master.key"), pendingFile: dir.file("master.key.new"))
        }
        #expect(wrong.contains("does not open this state directory's secrets"))
        #expect([path, path + "-wal"].map { FileManager.default.contents(atPath: $0) ?? Data() } == before)
        // The right key, and a fresh directory, pass.
        try Store.preflightMasterKey(databasePath: path, environment: ["SLIPWAY_MASTER_KEY": hex], keyFile: dir.file("master.key"), pendingFile: dir.file("master.key.new"))
        try Store.preflightMasterKey(databasePath: dir.file("none.sqlite"), environment: [:], keyFile: dir.file("k"), pendingFile: dir.file("k.new"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("k")))
    }

    /// A key-file rotation writes `master.key.new`, commits, then renames. A crash after the
    /// commit leaves both files: the next start keeps the new key.
    @Test func aCrashBetweenCommitAndRenameAdoptsTheNewKey() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        try store.apply(ServiceSpec(name: "web", run: ["./web"]), source: "a.yml", now: 1)
        let keyFile = dir.file("master.key"), pending = dir.file("master.key.new")
        let old = try store.unlockSecrets(environment: [:], keyFile: keyFile, pendingFile: pending)
        try store.setSecret(service: "web", name: "A", value: "v", by: nil, key: old, now: 1)
        let new = MasterKey.generate(source: .file(keyFile))
        try store.rotateMasterKey(from: old, to: new) { try MasterKeyFile.write(new, to: pending) }
        // (crash: no rename)
        let adopted = try store.unlockSecrets(environment: [:], keyFile: keyFile, pendingFile: pending)
        #expect(adopted.id == new.id)
        #expect(!FileManager.default.fileExists(atPath: pending))
        #expect(try MasterKeyFile.read(keyFile).id == new.id)
        #expect(try mode(keyFile) == 0o600)
        #expect(try store.secretValues(service: "web", key: adopted) == ["A": "v"])
    }

    /// A crash after writing `master.key.new` but before the commit: the old key still
    /// opens the store, and the orphan new key is dropped.
    @Test func aCrashBeforeCommitKeepsTheOldKey() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        try store.apply(ServiceSpec(name: "web", run: ["./web"]), source: "a.yml", now: 1)
        let keyFile = dir.file("master.key"), pending = dir.file("master.key.new")
        let old = try store.unlockSecrets(environment: [:], keyFile: keyFile, pendingFile: pending)
        try store.setSecret(service: "web", name: "A", value: "v", by: nil, key: old, now: 1)
        struct Crash: Error {}
        let new = MasterKey.generate(source: .file(keyFile))
        _ = try? store.rotateMasterKey(from: old, to: new) {
            try MasterKeyFile.write(new, to: pending)
            throw Crash()
        }
        #expect(FileManager.default.fileExists(atPath: pending))
        let kept = try store.unlockSecrets(environment: [:], keyFile: keyFile, pendingFile: pending)
        #expect(kept.id == old.id)
        #expect(!FileManager.default.fileExists(atPath: pending))
        #expect(try store.secretValues(service: "web", key: kept) == ["A": "v"])
    }
}
