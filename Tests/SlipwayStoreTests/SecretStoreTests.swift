import Foundation
import GRDB
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

@Suite struct SecretStoreTests {
    let value = "s3cr3t-" + UUID().uuidString

    func store(_ dir: TemporaryDirectory) throws -> Store {
        let store = try Store(path: dir.file("s.sqlite"))
        try store.apply(ServiceSpec(name: "web", run: ["./web"]), source: "a.yml", now: 1)
        try store.apply(ServiceSpec(name: "api", run: ["./api"], listen: ListenAddress(host: "127.0.0.1", port: 9999)), source: "b.yml", now: 1)
        return store
    }

    @Test func setListRemoveWithVersionsAndNoValues() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try store(dir)
        let key = MasterKey.generate(source: .caller)
        let first = try store.setSecret(service: "web", name: "API_TOKEN", value: value, by: "alice", key: key, now: 10)
        #expect(first.version == 1)
        let second = try store.setSecret(service: "web", name: "API_TOKEN", value: value + "2", by: "bob", key: key, now: 20)
        #expect(second == SecretInfo(service: "web", env: "", name: "API_TOKEN", version: 2, createdAt: 10, updatedAt: 20, createdBy: "alice", updatedBy: "bob"))
        try store.setSecret(service: "web", env: "staging", name: "DB_URL", value: "postgres://x", by: nil, key: key, now: 30)
        #expect(try store.secrets(service: "web").map(\.name) == ["API_TOKEN", "DB_URL"])
        #expect(try store.secrets(service: "web", env: "").map(\.name) == ["API_TOKEN"])
        #expect(try store.secretValues(service: "web", key: key) == ["API_TOKEN": value + "2"])
        #expect(try store.secretValues(service: "web", env: "staging", key: key) == ["DB_URL": "postgres://x"])
        #expect(try store.secretValues(service: "api", key: key) == [:])

        try store.removeSecret(service: "web", name: "API_TOKEN")
        #expect(try store.secrets(service: "web", env: "").isEmpty)
        #expect(throws: StoreError.self) { try store.removeSecret(service: "web", name: "API_TOKEN") }
    }

    @Test func badNamesValuesAndServicesArePreciseErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try store(dir)
        let key = MasterKey.generate(source: .caller)
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        #expect(message { try store.setSecret(service: "web", name: "1BAD", value: "x", by: nil, key: key, now: 1) }.contains("not a valid environment variable name"))
        #expect(message { try store.setSecret(service: "web", name: "A-B", value: "x", by: nil, key: key, now: 1) }.contains("\"A-B\""))
        #expect(message { try store.setSecret(service: "web", name: "PORT", value: "x", by: nil, key: key, now: 1) }.contains("reserved"))
        #expect(message { try store.setSecret(service: "web", name: "SLIPWAY_X", value: "x", by: nil, key: key, now: 1) }.contains("reserved"))
        #expect(message { try store.setSecret(service: "web", name: "EMPTY", value: "", by: nil, key: key, now: 1) }.contains("empty"))
        #expect(message { try store.setSecret(service: "nope", name: "OK", value: "x", by: nil, key: key, now: 1) } == "unknown service nope")
        #expect(try store.secrets(service: "web").isEmpty)
    }

    @Test func valuesAreSealedAndBoundToTheirRow() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try store(dir)
        let key = MasterKey.generate(source: .caller)
        try store.setSecret(service: "web", name: "A", value: value, by: nil, key: key, now: 1)
        try store.setSecret(service: "web", name: "B", value: "other value", by: nil, key: key, now: 1)
        let raw = try DatabaseQueue(path: dir.file("s.sqlite"))
        let sealed = try raw.read { db in try Data.fetchAll(db, sql: "SELECT sealed FROM secret ORDER BY name") }
        #expect(sealed.count == 2)
        #expect(!sealed[0].contains(Data(value.utf8)), "stored in clear text")

        // Copy A's ciphertext onto B: B must not open (associated data binds the row).
        try raw.write { db in try db.execute(sql: "UPDATE secret SET sealed = ? WHERE name = 'B'", arguments: [sealed[0]]) }
        var error: StoreError?
        do { _ = try store.secretValues(service: "web", key: key) } catch let e { error = e }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("secret B (version 1) of service web cannot be decrypted") == true, "\(String(describing: error))")
        #expect(error?.message.contains(value) == false)
        // Listing still works, and redaction still knows the rows that open.
        #expect(try store.secrets(service: "web").map(\.name) == ["A", "B"])
        #expect(store.allSecretValues(key: key) == ["A": value])

        // A wrong key opens nothing.
        #expect(throws: StoreError.self) { try store.secretValues(service: "web", key: MasterKey.generate(source: .caller)) }
    }

    @Test func rotationReencryptsEverythingInOneTransaction() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try store(dir)
        let old = MasterKey.generate(source: .caller)
        try store.verifyMasterKey(old)
        try store.setSecret(service: "web", name: "A", value: value, by: nil, key: old, now: 1)
        try store.setSecret(service: "api", name: "B", value: "bee", by: nil, key: old, now: 1)
        let new = MasterKey.generate(source: .caller)

        // A failure before commit leaves everything as it was.
        struct Boom: Error {}
        #expect(throws: StoreError.self) { try store.rotateMasterKey(from: old, to: new, beforeCommit: { throw Boom() }) }
        #expect(try store.masterKeyID() == old.id)
        #expect(try store.secretValues(service: "web", key: old) == ["A": value])

        #expect(try store.rotateMasterKey(from: old, to: new) == 2)
        #expect(try store.masterKeyID() == new.id)
        #expect(try store.secretValues(service: "web", key: new) == ["A": value])
        #expect(try store.secretValues(service: "api", key: new) == ["B": "bee"])
        #expect(throws: StoreError.self) { try store.secretValues(service: "web", key: old) }
        #expect(throws: MasterKeyError.self) { try store.verifyMasterKey(old) }
        try store.verifyMasterKey(new)

        // Rotating with the wrong "old" key is refused and changes nothing.
        #expect(throws: StoreError.self) { try store.rotateMasterKey(from: old, to: MasterKey.generate(source: .caller)) }
        #expect(try store.masterKeyID() == new.id)
    }

    @Test func rotationStopsAtACorruptRowWithNothingHalfDone() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try store(dir)
        let old = MasterKey.generate(source: .caller)
        try store.verifyMasterKey(old)
        try store.setSecret(service: "api", name: "A", value: "first", by: nil, key: old, now: 1)
        try store.setSecret(service: "web", name: "Z", value: value, by: nil, key: old, now: 1)
        let raw = try DatabaseQueue(path: dir.file("s.sqlite"))
        try raw.write { db in try db.execute(sql: "UPDATE secret SET sealed = zeroblob(40) WHERE name = 'Z'") }
        var error: StoreError?
        do { try store.rotateMasterKey(from: old, to: MasterKey.generate(source: .caller)) } catch let e { error = e }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("secret Z (version 1) of service web") == true)
        #expect(try store.masterKeyID() == old.id)
        #expect(try store.secretValues(service: "api", key: old) == ["A": "first"], "A was re-encrypted before Z failed, and rolled back")
    }
}
