import Crypto
import Foundation
import GRDB
import Synchronization
import SlipwayCore

/// Slipway's state in one SQLite file (WAL mode) through GRDB. Every method is one
/// transaction; callers never see half a change.
public final class Store: Sendable {
    let db: DatabasePool
    /// Signs the audit log's head (derived from the master key; nil until it is known).
    let auditKeyBox = Mutex<SymmetricKey?>(nil)

    /// Opens (creating if needed) the store at `path` and runs pending migrations.
    public init(path: String) throws(StoreError) {
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
            throw StoreError(.database, "state database write failed: \(error)")
        }
    }
}

public struct StoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable { case cannotOpen, database, notFound, conflict, corrupt }
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
