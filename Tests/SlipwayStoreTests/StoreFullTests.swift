import Foundation
import GRDB
import SlipwayCore
@testable import SlipwayStore
import SlipwayTesting
import Testing

/// A write that finds the file system full (SQLite's FULL, reached here through the
/// writer connection's `max_page_count`; the end-to-end test fills a real tmpfs) is told
/// apart from other failures, names the state directory, and changes nothing.
@Suite struct StoreFullTests {
    @Test func aFullFileSystemIsNamedAndTheWriteChangesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("slipway.db"))
        try store.apply(ServiceSpec(name: "web", run: ["./web"], replicas: 1), source: "a.yml", now: 1)
        try store.db.write { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
        var big = ServiceSpec(name: "web", run: ["./web"], replicas: 3)
        big.env = ["BLOB": String(repeating: "x", count: 1 << 20)]
        let error = #expect(throws: StoreError.self) { try store.apply(big, source: "a.yml", now: 2) }
        #expect(error?.code == .noSpace)
        #expect(error?.message.hasPrefix("the state directory \(dir.path) is out of space") == true, "\(error?.message ?? "")")
        #expect(try store.service("web")?.spec.replicas == 1, "the failed write changed nothing")
    }

    @Test func otherWriteFailuresStayDatabaseErrors() {
        let failure = Store.writeFailure(DatabaseError(resultCode: .SQLITE_READONLY, message: "attempt to write a readonly database"), path: "/srv/state/slipway.db")
        #expect(failure.code == .database)
        #expect(failure.message.contains("readonly"))
    }
}
