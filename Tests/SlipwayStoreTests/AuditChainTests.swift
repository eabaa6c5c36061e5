import Foundation
import GRDB
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

/// The audit log is tamper-evident: every way of editing the SQLite file directly —
/// changing a field, deleting an entry (first, middle, last), reordering, renumbering —
/// is found by `verifyAudit`, which names the first entry that does not match.
@Suite struct AuditChainTests {
    /// A store with `count` entries, and a raw connection to the same file.
    func withLog(count: Int = 6, _ body: (Store, DatabaseQueue) throws -> Void) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        for i in 1...count {
            try store.appendAudit(AuditDraft(principal: i % 2 == 0 ? "alice" : "slipway", action: "rollout.deploy", target: "service/web",
                                             details: ["version": "v\(i)", "note": "line\nbreak;\(i):"]), time: 1_700_000_000 + Double(i) * 0.25)
        }
        try body(store, try DatabaseQueue(path: dir.file("s.sqlite")))
    }

    func expectBroken(_ store: Store, at seq: Int64, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try store.verifyAudit()
        #expect(!result.ok, "tampering went unnoticed", sourceLocation: sourceLocation)
        #expect(result.firstBadSeq == seq, "\(result.problem ?? "")", sourceLocation: sourceLocation)
        #expect(result.problem?.contains(text) == true, "\(result.problem ?? "")", sourceLocation: sourceLocation)
    }

    @Test func anIntactLogVerifiesAndEachEntryChainsToThePrevious() throws {
        try withLog { store, _ in
            let result = try store.verifyAudit()
            #expect(result == AuditVerification(entries: 6, firstBadSeq: nil, problem: nil))
            let entries = try store.auditEntries()
            #expect(entries.map(\.seq) == [1, 2, 3, 4, 5, 6])
            #expect(entries[0].previousHash == AuditEntry.genesis)
            for (a, b) in zip(entries, entries.dropFirst()) { #expect(b.previousHash == a.hash) }
            #expect(entries[2].time == 1_700_000_000.75)
            #expect(try store.recentAuditEntries(limit: 2).map(\.seq) == [5, 6])
            #expect(try store.auditEntries(since: 1_700_000_001.25).map(\.seq) == [5, 6])
            #expect(try store.auditEntries(afterSeq: 4, limit: 1).map(\.seq) == [5])
        }
    }

    @Test func editingAnyFieldIsFound() throws {
        for column in ["principal", "action", "target", "details"] {
            try withLog { store, raw in
                try raw.write { db in try db.execute(sql: "UPDATE audit SET \(column) = \(column) || 'x' WHERE seq = 3") }
                try expectBroken(store, at: 3, containing: "entry 3 was changed")
            }
        }
        try withLog { store, raw in
            try raw.write { db in try db.execute(sql: "UPDATE audit SET time_us = time_us + 1 WHERE seq = 4") }
            try expectBroken(store, at: 4, containing: "entry 4 was changed")
        }
    }

    @Test func anEditWhoseHashWasRecomputedIsFoundAtTheNextEntry() throws {
        try withLog { store, raw in
            let e = try #require(store.auditEntries().first { $0.seq == 2 })
            let forged = AuditEntry.computeHash(seq: 2, timeMicros: e.timeMicros, principal: "mallory", action: e.action, target: e.target, details: e.details, previousHash: e.previousHash)
            try raw.write { db in try db.execute(sql: "UPDATE audit SET principal = 'mallory', hash = ? WHERE seq = 2", arguments: [forged]) }
            try expectBroken(store, at: 3, containing: "entry 3 does not follow entry 2")
        }
    }

    @Test func deletingTheFirstAMiddleOrTheLastEntryIsFound() throws {
        try withLog { store, raw in
            try raw.write { db in try db.execute(sql: "DELETE FROM audit WHERE seq = 1") }
            try expectBroken(store, at: 1, containing: "entry 1 missing")
        }
        try withLog { store, raw in
            try raw.write { db in try db.execute(sql: "DELETE FROM audit WHERE seq IN (3, 4)") }
            try expectBroken(store, at: 3, containing: "entry 3–4 missing: entry 5 follows entry 2")
        }
        try withLog { store, raw in
            try raw.write { db in try db.execute(sql: "DELETE FROM audit WHERE seq = 6") }
            try expectBroken(store, at: 6, containing: "entry 6 missing: the log ends at entry 5 but its recorded head is entry 6")
        }
        try withLog { store, raw in
            try raw.write { db in try db.execute(sql: "DELETE FROM audit WHERE seq >= 5") }
            try expectBroken(store, at: 5, containing: "entries 5–6 missing")
        }
    }

    @Test func deletingAnEntryAndRenumberingTheRestIsFound() throws {
        try withLog { store, raw in
            try raw.write { db in
                try db.execute(sql: "DELETE FROM audit WHERE seq = 3")
                try db.execute(sql: "UPDATE audit SET seq = seq - 1 WHERE seq > 3")
            }
            try expectBroken(store, at: 3, containing: "entry 3 does not follow entry 2")
        }
    }

    @Test func reorderingEntriesIsFound() throws {
        try withLog { store, raw in
            // Swap the contents of rows 2 and 5, keeping their numbers.
            try raw.write { db in
                try db.execute(sql: "UPDATE audit SET seq = -2 WHERE seq = 2")
                try db.execute(sql: "UPDATE audit SET seq = 2 WHERE seq = 5")
                try db.execute(sql: "UPDATE audit SET seq = 5 WHERE seq = -2")
            }
            try expectBroken(store, at: 2, containing: "entry 2 does not follow entry 1")
        }
    }

    @Test func appendingAForgedEntryOrRemovingTheHeadIsFound() throws {
        try withLog { store, raw in
            let last = try #require(store.auditEntries().last)
            let hash = AuditEntry.computeHash(seq: 7, timeMicros: last.timeMicros + 1, principal: "mallory", action: "token.create", target: "token/m", details: "{}", previousHash: last.hash)
            try raw.write { db in
                try db.execute(sql: "INSERT INTO audit VALUES (7, ?, 'mallory', 'token.create', 'token/m', '{}', ?, ?)", arguments: [last.timeMicros + 1, last.hash, hash])
            }
            try expectBroken(store, at: 7, containing: "the log's last entry 7 does not match its recorded head (entry 6")
        }
        try withLog { store, raw in
            try raw.write { db in try db.execute(sql: "DELETE FROM meta WHERE key = 'audit_head'") }
            try expectBroken(store, at: 1, containing: "no recorded head")
        }
    }

    @Test func decisionsEnterTheChainInTheSameTransaction() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        try store.apply(ServiceSpec(name: "web", run: ["./web"]), source: "a.yml", now: 1)
        let id = try store.createRollout(service: "web", state: BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false, spec: BlueGreenSpec(), now: 2))
        try store.appendDecision(service: "web", rolloutID: id, draft: DecisionDraft(kind: .rolledBack, actor: "analysis", summary: "error rate 20 % > 5 %"), time: 3)
        let entry = try #require(store.auditEntries().last)
        #expect(entry.principal == "analysis")
        #expect(entry.action == "decision.rolled_back")
        #expect(entry.target == "service/web")
        #expect(entry.details.contains("error rate 20 % > 5 %"))
        #expect(try store.verifyAudit().ok)
    }
}

/// With the master key at hand the head is signed: rewriting the whole chain after an
/// edit (every hash recomputed, the head updated) is found too.
@Suite struct SignedAuditHeadTests {
    /// Rewrites entry 2's principal and recomputes every later hash and the head, as someone
    /// with write access to the file but without the master key could.
    static func rewriteChain(_ raw: DatabaseQueue, store: Store) throws {
        var entries = try store.auditEntries()
        entries[1].principal = "mallory"
        var previous = AuditEntry.genesis
        for i in entries.indices {
            entries[i].previousHash = previous
            entries[i].hash = AuditEntry.computeHash(seq: entries[i].seq, timeMicros: entries[i].timeMicros, principal: entries[i].principal, action: entries[i].action,
                                                     target: entries[i].target, details: entries[i].details, previousHash: previous)
            previous = entries[i].hash
        }
        try raw.write { db in
            for e in entries {
                try db.execute(sql: "UPDATE audit SET principal = ?, previous_hash = ?, hash = ? WHERE seq = ?", arguments: [e.principal, e.previousHash, e.hash, e.seq])
            }
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'audit_head'", arguments: ["\(entries.last!.seq) \(entries.last!.hash)"])
        }
    }

    @Test func aRewrittenChainIsFoundOnlyThroughTheSignedHead() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        let key = MasterKey.generate(source: .caller)
        store.signAuditHead(with: key)
        for i in 1...4 { try store.appendAudit(AuditDraft(principal: "alice", action: "rollout.deploy", target: "service/web", details: ["version": "v\(i)"]), time: Double(i)) }
        let intact = try store.verifyAudit()
        #expect(intact.ok && intact.signatureChecked)
        try Self.rewriteChain(try DatabaseQueue(path: dir.file("s.sqlite")), store: store)
        let found = try store.verifyAudit()
        #expect(!found.ok)
        #expect(found.problem == "the log's recorded head (entry 4) is not signed, but this state directory signs it with its master key: the log was rewritten", "\(found.problem ?? "")")
        // Without the key the same rewrite passes: the documented limit of a bare hash chain.
        let unkeyed = try Store(path: dir.file("s.sqlite"))
        #expect(try unkeyed.verifyAudit().ok)
        // A head signed with another key does not pass either.
        let other = try Store(path: dir.file("s.sqlite"))
        other.signAuditHead(with: .generate(source: .caller))
        try other.appendAudit(AuditDraft(principal: "mallory", action: "token.create", target: "token/m"), time: 9)
        #expect(try store.verifyAudit().problem?.contains("carries a signature that this state directory's master key did not make") == true)
    }

    @Test func rotatingTheMasterKeyResignsTheHead() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        let old = MasterKey.generate(source: .caller)
        try store.verifyMasterKey(old)
        store.signAuditHead(with: old)
        try store.appendAudit(AuditDraft(principal: "alice", action: "secret.set", target: "service/web"), time: 1)
        let new = MasterKey.generate(source: .caller)
        try store.rotateMasterKey(from: old, to: new)
        #expect(try store.verifyAudit().ok)
        let reopened = try Store(path: dir.file("s.sqlite"))
        reopened.signAuditHead(with: new)
        let result = try reopened.verifyAudit()
        #expect(result.ok && result.signatureChecked, "\(result.problem ?? "")")
        reopened.signAuditHead(with: old)
        #expect(try reopened.verifyAudit().ok == false, "the old key no longer signs the head")
    }
}
