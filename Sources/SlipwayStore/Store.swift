import Crypto
import Foundation
import GRDB
import Synchronization
import SlipwayCore

/// Slipway's state in one SQLite file (WAL mode) through GRDB. Every method is one
/// transaction; callers never see half a change.
public final class Store: Sendable {
    let db: DatabasePool
    /// The database file (named in errors: a full disk is the one it lives on).
    let path: String
    /// Signs the audit log's head (derived from the master key; nil until it is known).
    let auditKeyBox = Mutex<SymmetricKey?>(nil)

    /// Opens (creating if needed) the store at `path` and runs pending migrations.
    public init(path: String) throws(StoreError) {
        self.path = path
        do {
            var config = Configuration()
            config.busyMode = .timeout(5)
            config.prepareDatabase { db in
                try db.execute(sql: "PRAGMA foreign_keys = ON")
            }
            db = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(db)
        } catch {
            throw StoreError(.cannotOpen, "cannot open the state database \(path): \(error)")
        }
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try db.read(body) } catch let e as StoreError { throw e } catch {
            throw StoreError(.database, "state database read failed: \(error)")
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try db.write(body) } catch let e as StoreError { throw e } catch {
            throw Self.writeFailure(error, path: path)
        }
    }

    /// A failed write, told apart: a full file system (SQLite's FULL; SQLite rolled the
    /// transaction back, nothing is half-written) names the directory to free space in.
    static func writeFailure(_ error: any Error, path: String) -> StoreError {
        if let database = error as? DatabaseError, database.resultCode == .SQLITE_FULL {
            let directory = PathText.folder(of: path)
            return StoreError(.noSpace, "the state directory \(directory) is out of space (\(database.message ?? "database or disk is full")): nothing was changed; free space there and try again (running rollouts carry on by themselves once the state can be written; traffic is not affected)")
        }
        return StoreError(.database, "state database write failed: \(error)")
    }
}

public struct StoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable { case cannotOpen, database, notFound, conflict, corrupt, noSpace }
    public let code: Code
    public let message: String
    /// For `.conflict` on rollouts: the id of the rollout already running.
    public let rolloutID: Int64?

    init(_ code: Code, _ message: String, rolloutID: Int64? = nil) {
        self.code = code
        self.message = message
        self.rolloutID = rolloutID
    }

    public var description: String { message }
}
