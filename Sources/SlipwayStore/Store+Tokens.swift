import Crypto
import Foundation
import GRDB
import SlipwayCore

/// An API token as stored: everything but the secret, of which only the SHA-256 is kept.
public struct TokenRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: Role
    public var environments: [String]
    public var createdAt: Double
    public var createdBy: String
    public var expiresAt: Double?
    public var revokedAt: Double?
    public var revokedBy: String?
    public var lastUsedAt: Double?

    public var principal: Principal { Principal(name: name, role: role, environments: environments, tokenID: id) }
}

/// A token just created: the only moment its secret text exists outside the client.
public struct IssuedToken: Sendable {
    public var record: TokenRecord
    /// `slw_` followed by 32 random bytes in unpadded base64url (43 characters).
    public var secret: String
}

/// Why a presented token was not accepted. The messages never repeat the token.
public enum TokenRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case missing
    case malformed(String)
    case unknown
    case revoked(name: String, at: Double)
    case expired(name: String, at: Double)

    public var description: String {
        switch self {
        case .missing: "no API token: send `Authorization: Bearer <token>` (the CLI reads SLIPWAY_TOKEN or the credentials file written by `slipway login`)"
        case .malformed(let why): "malformed API token: \(why)"
        case .unknown: "unknown API token"
        case .revoked(let name, let at): "the API token of \(name) was revoked at \(Timestamp.iso(at))"
        case .expired(let name, let at): "the API token of \(name) expired at \(Timestamp.iso(at))"
        }
    }

    /// A short label for counters.
    public var reason: String {
        switch self {
        case .missing: "missing"
        case .malformed: "malformed"
        case .unknown: "unknown"
        case .revoked: "revoked"
        case .expired: "expired"
        }
    }
}

/// The text form of API tokens.
public enum TokenText {
    public static let prefix = "slw_"
    static let randomBytes = 32
    /// Unpadded base64url length of 32 bytes.
    static let encodedLength = 43

    static func generate() -> (text: String, hash: Data) {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<randomBytes).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        return (prefix + base64url(bytes), Data(SHA256.hash(data: bytes)))
    }

    /// The SHA-256 of the token's random bytes, or why the text is not a token.
    public static func hash(of text: String) -> Result<Data, TokenRejection> {
        guard text.hasPrefix(prefix) else {
            return .failure(.malformed("expected it to start with \(prefix)"))
        }
        let body = text.dropFirst(prefix.count)
        guard body.utf8.count == encodedLength else {
            return .failure(.malformed("expected \(prefix) followed by \(encodedLength) characters, got \(body.utf8.count)"))
        }
        guard let bytes = decodeBase64url(body), bytes.count == randomBytes else {
            return .failure(.malformed("it contains characters outside base64url (A-Z a-z 0-9 - _)"))
        }
        return .success(Data(SHA256.hash(data: bytes)))
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64url(_ text: Substring) -> [UInt8]? {
        guard text.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}

enum Timestamp {
    static func iso(_ seconds: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: seconds))
    }
}

/// Principal names: what people type after `slipway token create`.
public enum PrincipalName {
    public static func validate(_ name: String) throws(AccessError) {
        guard !name.isEmpty, name.count <= 64,
              name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_.@".unicodeScalars.contains($0) }),
              name.unicodeScalars.allSatisfy(\.isASCII) else {
            throw AccessError("token name \"\(name)\" must be 1-64 ASCII letters, digits, '-', '_', '.' or '@'")
        }
    }
}

extension Store {
    /// Creates a token for `name`. A name has at most one live (unrevoked, unexpired) token.
    public func createToken(name: String, role: Role, environments: [String], expiresAt: Double?, createdBy: String, now: Double) throws(StoreError) -> IssuedToken {
        let (secret, hash) = TokenText.generate()
        let id = Hex.random(bytes: 4)
        let record = TokenRecord(id: id, name: name, role: role, environments: environments.sorted(), createdAt: now, createdBy: createdBy, expiresAt: expiresAt)
        try write { db in
            let live = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM token WHERE name = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", arguments: [name, now]) ?? 0
            if live > 0 {
                throw StoreError(.conflict, "\(name) already has a live token; revoke it first (slipway token revoke \(name))")
            }
            try db.execute(sql: """
                INSERT INTO token (id, name, role, environments_json, hash, created_at, created_by, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, name, role.rawValue, Self.encode(record.environments), hash, now, createdBy, expiresAt])
        }
        return IssuedToken(record: record, secret: secret)
    }

    public func tokens(includeRevoked: Bool) throws(StoreError) -> [TokenRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM token \(includeRevoked ? "" : "WHERE revoked_at IS NULL") ORDER BY created_at, id").map(Self.tokenRecord)
        }
    }

    /// Number of tokens ever created (a state directory with none gets its first admin).
    public func tokenCount() throws(StoreError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM token") ?? 0 }
    }

    /// Revokes the live token of a name, or a token by id.
    public func revokeToken(_ nameOrID: String, by: String, now: Double) throws(StoreError) -> TokenRecord {
        try write { db in
            let row = try Row.fetchOne(db, sql: "SELECT * FROM token WHERE revoked_at IS NULL AND (id = ? OR name = ?) ORDER BY created_at DESC LIMIT 1", arguments: [nameOrID, nameOrID])
            guard let row else {
                let known = try String.fetchAll(db, sql: "SELECT name FROM token WHERE revoked_at IS NULL ORDER BY name")
                throw StoreError(.notFound, "no live token named or with id \(nameOrID); live tokens: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
            }
            var record = try Self.tokenRecord(row)
            try db.execute(sql: "UPDATE token SET revoked_at = ?, revoked_by = ? WHERE id = ?", arguments: [now, by, record.id])
            record.revokedAt = now
            record.revokedBy = by
            return record
        }
    }

    /// The principal of a presented token, or why it is refused. Records the use (at most
    /// once a minute per token, so reads do not turn into writes).
    public func authenticate(_ text: String, now: Double) throws(StoreError) -> Result<Principal, TokenRejection> {
        let hash: Data
        switch TokenText.hash(of: text) {
        case .success(let h): hash = h
        case .failure(let why): return .failure(why)
        }
        let record: TokenRecord? = try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM token WHERE hash = ?", arguments: [hash]).map(Self.tokenRecord)
        }
        guard let record else { return .failure(.unknown) }
        if let at = record.revokedAt { return .failure(.revoked(name: record.name, at: at)) }
        if let at = record.expiresAt, at <= now { return .failure(.expired(name: record.name, at: at)) }
        if (record.lastUsedAt ?? 0) < now - 60 {
            // Bookkeeping only: a state directory out of space must not lock operators out
            // of reading what happens (the next use records it again).
            do {
                try write { db in try db.execute(sql: "UPDATE token SET last_used_at = ? WHERE id = ?", arguments: [now, record.id]) }
            } catch where error.code == .noSpace {}
        }
        return .success(record.principal)
    }

    static func tokenRecord(_ row: Row) throws -> TokenRecord {
        let id: String = row["id"]
        let roleText: String = row["role"]
        guard let role = Role(rawValue: roleText) else {
            throw StoreError(.corrupt, "token \(id) has an unknown role \"\(roleText)\" in the state database")
        }
        return TokenRecord(id: id, name: row["name"], role: role,
                    environments: try decode([String].self, row["environments_json"]),
                    createdAt: row["created_at"], createdBy: row["created_by"], expiresAt: row["expires_at"],
                    revokedAt: row["revoked_at"], revokedBy: row["revoked_by"], lastUsedAt: row["last_used_at"])
    }
}
