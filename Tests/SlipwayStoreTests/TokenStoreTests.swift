import Foundation
import GRDB
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

@Suite struct TokenStoreTests {
    func withStore(_ body: (Store, TemporaryDirectory) throws -> Void) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try body(try Store(path: dir.file("s.sqlite")), dir)
    }

    @Test func aTokenAuthenticatesAsItsPrincipalAndOnlyItsHashIsStored() throws {
        try withStore { store, dir in
            let issued = try store.createToken(name: "ci", role: .deployer, environments: ["staging"], expiresAt: nil, createdBy: "admin", now: 100)
            #expect(issued.secret.hasPrefix("slw_"))
            #expect(issued.secret.count == 4 + 43)
            let principal = try store.authenticate(issued.secret, now: 101).get()
            #expect(principal == Principal(name: "ci", role: .deployer, environments: ["staging"], tokenID: issued.record.id))
            // The secret text is nowhere in the database file.
            let db = try DatabaseQueue(path: dir.file("s.sqlite"))
            let dump = try db.read { db in try Row.fetchAll(db, sql: "SELECT * FROM token").description }
            #expect(!dump.contains(issued.secret))
            #expect(!dump.contains(String(issued.secret.dropFirst(4))))
            #expect(try store.tokens(includeRevoked: false).map(\.name) == ["ci"])
        }
    }

    @Test func malformedUnknownRevokedAndExpiredTokensAreRefusedWithTheirReason() throws {
        try withStore { store, _ in
            let a = try store.createToken(name: "a", role: .viewer, environments: [], expiresAt: nil, createdBy: "t", now: 100)
            let b = try store.createToken(name: "b", role: .viewer, environments: [], expiresAt: 200, createdBy: "t", now: 100)
            #expect(try store.authenticate("bearer", now: 101) == .failure(.malformed("expected it to start with slw_")))
            #expect(try store.authenticate("slw_abc", now: 101) == .failure(.malformed("expected slw_ followed by 43 characters, got 3")))
            #expect(try store.authenticate("slw_" + String(repeating: "!", count: 43), now: 101) == .failure(.malformed("it contains characters outside base64url (A-Z a-z 0-9 - _)")))
            #expect(try store.authenticate("slw_" + String(repeating: "A", count: 43), now: 101) == .failure(.unknown))
            // One changed character is another (unknown) token.
            var chars = Array(a.secret)
            chars[10] = chars[10] == "A" ? "B" : "A"
            #expect(try store.authenticate(String(chars), now: 101) == .failure(.unknown))
            _ = try store.revokeToken("a", by: "admin", now: 150)
            #expect(try store.authenticate(a.secret, now: 151) == .failure(.revoked(name: "a", at: 150)))
            #expect((try store.authenticate(b.secret, now: 199)).map(\.name) == .success("b"))
            #expect(try store.authenticate(b.secret, now: 200) == .failure(.expired(name: "b", at: 200)))
            #expect(TokenRejection.revoked(name: "a", at: 150).description == "the API token of a was revoked at 1970-01-01T00:02:30Z")
        }
    }

    @Test func oneLiveTokenPerNameAndRevokeNamesWhatExists() throws {
        try withStore { store, _ in
            _ = try store.createToken(name: "ci", role: .viewer, environments: [], expiresAt: nil, createdBy: "t", now: 1)
            #expect(throws: StoreError.self) { try store.createToken(name: "ci", role: .admin, environments: [], expiresAt: nil, createdBy: "t", now: 2) }
            do {
                _ = try store.revokeToken("nobody", by: "t", now: 3)
                Issue.record("revoking an unknown token succeeded")
            } catch let error as StoreError {
                #expect(error.code == .notFound)
                #expect(error.message == "no live token named or with id nobody; live tokens: ci")
            }
            let revoked = try store.revokeToken("ci", by: "t", now: 4)
            #expect(revoked.revokedBy == "t")
            _ = try store.createToken(name: "ci", role: .admin, environments: [], expiresAt: nil, createdBy: "t", now: 5)
            #expect(try store.tokens(includeRevoked: true).count == 2)
            #expect(try store.tokens(includeRevoked: false).map(\.role) == [.admin])
            #expect(try store.tokenCount() == 2)
        }
    }

    @Test func rolesAreOrderedAndEnvironmentScopesLimitActions() throws {
        #expect(Role.viewer < .deployer && Role.deployer < .approver && Role.approver < .admin)
        #expect(throws: AccessError("unknown role \"owner\"; roles are viewer, deployer, approver, admin")) { try Role.parse("owner") }
        let scoped = Principal(name: "s", role: .deployer, environments: ["staging"], tokenID: "x")
        #expect(scoped.allows(.viewer, environment: nil))
        #expect(scoped.allows(.deployer, environment: "staging"))
        #expect(!scoped.allows(.deployer, environment: "production"))
        #expect(!scoped.allows(.deployer, environment: nil))
        #expect(!scoped.allows(.approver, environment: "staging"))
        let everywhere = Principal(name: "e", role: .approver, tokenID: "y")
        #expect(everywhere.allows(.deployer, environment: nil))
        #expect(!everywhere.allows(.admin, environment: nil))
    }
}
