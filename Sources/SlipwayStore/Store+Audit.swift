import Crypto
import Foundation
import GRDB
import SlipwayCore

/// One entry of the audit log. `hash` is SHA-256 over the entry's fields and the previous
/// entry's hash, so changing, removing or reordering entries breaks the chain.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var seq: Int64
    /// Microseconds since 1970 (an integer, so the hashed text never depends on float formatting).
    public var timeMicros: Int64
    public var principal: String
    public var action: String
    public var target: String
    /// JSON object text.
    public var details: String
    public var previousHash: String
    public var hash: String

    public var time: Double { Double(timeMicros) / 1_000_000 }

    /// The hash of the first entry's predecessor.
    public static let genesis = String(repeating: "0", count: 64)

    /// SHA-256 over the length-prefixed fields (unambiguous whatever the fields contain).
    public static func computeHash(seq: Int64, timeMicros: Int64, principal: String, action: String, target: String, details: String, previousHash: String) -> String {
        var text = ""
        for field in [String(seq), String(timeMicros), principal, action, target, details, previousHash] {
            text += "\(field.utf8.count):\(field);"
        }
        return Hex.string(SHA256.hash(data: Data(text.utf8)))
    }

    var recomputedHash: String {
        Self.computeHash(seq: seq, timeMicros: timeMicros, principal: principal, action: action, target: target, details: details, previousHash: previousHash)
    }
}

/// What `audit verify` found.
public struct AuditVerification: Codable, Sendable, Equatable {
    public var entries: Int
    /// The first entry that does not match (nil when the chain is intact).
    public var firstBadSeq: Int64?
    /// Why it does not match; nil when intact.
    public var problem: String?
    /// Whether the head's signature was checked (the master key was at hand).
    public var signatureChecked: Bool
    public var ok: Bool { problem == nil }

    public init(entries: Int, firstBadSeq: Int64?, problem: String?, signatureChecked: Bool = false) {
        self.entries = entries
        self.firstBadSeq = firstBadSeq
        self.problem = problem
        self.signatureChecked = signatureChecked
    }
}

/// An audit entry not yet written.
public struct AuditDraft: Sendable {
    public var principal: String
    public var action: String
    public var target: String
    public var details: [String: String]

    public init(principal: String, action: String, target: String, details: [String: String] = [:]) {
        self.principal = principal
        self.action = action
        self.target = target
        self.details = details
    }
}

extension Store {
    static let auditHeadKey = "audit_head"
    static let auditKeyPurpose = "slipway.audit-head.v1"

    /// From now on the log's head is signed (HMAC-SHA256) with a key derived from
    /// `masterKey`: rewriting the whole chain after an edit then also needs the master key.
    public func signAuditHead(with masterKey: MasterKey) {
        auditKeyBox.withLock { $0 = masterKey.derive(Self.auditKeyPurpose) }
    }

    var auditKey: SymmetricKey? { auditKeyBox.withLock { $0 } }

    static func headSignature(seq: Int64, hash: String, key: SymmetricKey) -> String {
        Hex.string(HMAC<SHA256>.authenticationCode(for: Data("\(seq) \(hash)".utf8), using: key))
    }

    static func headValue(seq: Int64, hash: String, key: SymmetricKey?) -> String {
        key.map { "\(seq) \(hash) \(headSignature(seq: seq, hash: hash, key: $0))" } ?? "\(seq) \(hash)"
    }

    /// Re-signs the recorded head with `key` (a master-key rotation, in its transaction).
    static func resignAuditHead(in db: Database, key: SymmetricKey) throws {
        guard let head = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [auditHeadKey]) else { return }
        let parts = head.split(separator: " ")
        guard parts.count >= 2, let seq = Int64(parts[0]) else { return }
        try db.execute(sql: "UPDATE meta SET value = ? WHERE key = ?", arguments: [headValue(seq: seq, hash: String(parts[1]), key: key), auditHeadKey])
    }

    /// Appends an entry in its own transaction.
    @discardableResult
    public func appendAudit(_ draft: AuditDraft, time: Double) throws(StoreError) -> AuditEntry {
        let key = auditKey
        return try write { db in try Self.appendAudit(draft, time: time, in: db, key: key) }
    }

    /// Appends an entry inside a caller's transaction (the change and its entry commit together).
    static func appendAudit(_ draft: AuditDraft, time: Double, in db: Database, key: SymmetricKey?) throws -> AuditEntry {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        let seq: Int64 = (last?["seq"] as Int64? ?? 0) + 1
        let previous: String = last?["hash"] ?? AuditEntry.genesis
        let details = encode(draft.details)
        let micros = Int64((time * 1_000_000).rounded())
        let hash = AuditEntry.computeHash(seq: seq, timeMicros: micros, principal: draft.principal, action: draft.action, target: draft.target, details: details, previousHash: previous)
        try db.execute(sql: "INSERT INTO audit (seq, time_us, principal, action, target, details, previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       arguments: [seq, micros, draft.principal, draft.action, draft.target, details, previous, hash])
        try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [auditHeadKey, headValue(seq: seq, hash: hash, key: key)])
        return AuditEntry(seq: seq, timeMicros: micros, principal: draft.principal, action: draft.action, target: draft.target, details: details, previousHash: previous, hash: hash)
    }

    /// Entries in order, from `since` (seconds since 1970) and after `afterSeq`, at most `limit`.
    public func auditEntries(since: Double? = nil, afterSeq: Int64 = 0, limit: Int = Int.max) throws(StoreError) -> [AuditEntry] {
        try read { db in
            let micros = since.map { Int64(($0 * 1_000_000).rounded(.down)) } ?? Int64.min
            return try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE seq > ? AND time_us >= ? ORDER BY seq LIMIT ?",
                                    arguments: [afterSeq, micros, min(limit, Int(Int32.max))]).map(Self.auditEntry)
        }
    }

    /// The newest `limit` entries, oldest first.
    public func recentAuditEntries(limit: Int) throws(StoreError) -> [AuditEntry] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT ?) ORDER BY seq", arguments: [limit]).map(Self.auditEntry)
        }
    }

    /// Recomputes the chain from the first entry and compares the last with the recorded
    /// head (and, once the master key is known, the head's signature), naming the first
    /// entry that does not match.
    public func verifyAudit() throws(StoreError) -> AuditVerification {
        let key = auditKey
        return try read { db in
            var expectedSeq: Int64 = 1
            var previous = AuditEntry.genesis
            var count = 0
            let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY seq")
            while let row = try cursor.next() {
                let entry: AuditEntry
                do { entry = try Self.auditEntry(row) } catch {
                    let seq: Int64? = row["seq"]
                    return AuditVerification(entries: count, firstBadSeq: seq ?? expectedSeq, problem: "entry \(seq.map(String.init) ?? "?") cannot be read: \(error)")
                }
                if entry.seq != expectedSeq {
                    let problem = entry.seq > expectedSeq
                        ? "entry \(expectedSeq)\(entry.seq - expectedSeq > 1 ? "–\(entry.seq - 1)" : "") missing: entry \(entry.seq) follows entry \(expectedSeq - 1)"
                        : "entry \(entry.seq) is out of order after entry \(expectedSeq - 1)"
                    return AuditVerification(entries: count, firstBadSeq: expectedSeq, problem: problem)
                }
                if entry.previousHash != previous {
                    return AuditVerification(entries: count, firstBadSeq: entry.seq,
                                             problem: "entry \(entry.seq) does not follow entry \(entry.seq - 1): its previous-hash \(entry.previousHash.prefix(12))… is not entry \(entry.seq - 1)'s hash \(previous.prefix(12))… (an entry was replaced, moved or removed)")
                }
                if entry.recomputedHash != entry.hash {
                    return AuditVerification(entries: count, firstBadSeq: entry.seq,
                                             problem: "entry \(entry.seq) was changed: its contents no longer match its hash")
                }
                previous = entry.hash
                expectedSeq += 1
                count += 1
            }
            let head = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [Self.auditHeadKey])
            if let head {
                let parts = head.split(separator: " ")
                guard parts.count >= 2, let headSeq = Int64(parts[0]) else {
                    return AuditVerification(entries: count, firstBadSeq: expectedSeq, problem: "the recorded head of the log is unreadable (\(head))")
                }
                if headSeq > expectedSeq - 1 {
                    return AuditVerification(entries: count, firstBadSeq: expectedSeq,
                                             problem: "entr\(headSeq == expectedSeq ? "y \(expectedSeq)" : "ies \(expectedSeq)–\(headSeq)") missing: the log ends at entry \(expectedSeq - 1) but its recorded head is entry \(headSeq)")
                }
                if headSeq < expectedSeq - 1 || String(parts[1]) != previous {
                    return AuditVerification(entries: count, firstBadSeq: headSeq + 1 <= expectedSeq - 1 ? headSeq + 1 : expectedSeq - 1,
                                             problem: "the log's last entry \(expectedSeq - 1) does not match its recorded head (entry \(headSeq), hash \(parts[1].prefix(12))…)")
                }
                if let key {
                    let signed = parts.count >= 3 && String(parts[2]) == Self.headSignature(seq: headSeq, hash: String(parts[1]), key: key)
                    if !signed {
                        return AuditVerification(entries: count, firstBadSeq: 1,
                                                 problem: "the log's recorded head (entry \(headSeq)) " + (parts.count >= 3 ? "carries a signature that this state directory's master key did not make" : "is not signed, but this state directory signs it with its master key") + ": the log was rewritten")
                    }
                }
            } else if count > 0 {
                return AuditVerification(entries: count, firstBadSeq: 1, problem: "the log has \(count) entries but no recorded head")
            }
            return AuditVerification(entries: count, firstBadSeq: nil, problem: nil, signatureChecked: key != nil && head != nil)
        }
    }

    static func auditEntry(_ row: Row) throws -> AuditEntry {
        guard let seq: Int64 = row["seq"], let micros: Int64 = row["time_us"],
              let principal: String = row["principal"], let action: String = row["action"], let target: String = row["target"],
              let details: String = row["details"], let previous: String = row["previous_hash"], let hash: String = row["hash"] else {
            throw StoreError(.corrupt, "an audit entry has an empty or mistyped column")
        }
        return AuditEntry(seq: seq, timeMicros: micros, principal: principal, action: action, target: target, details: details, previousHash: previous, hash: hash)
    }
}
