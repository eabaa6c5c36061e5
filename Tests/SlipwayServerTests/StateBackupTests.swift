import Foundation
import SlipwayStore
import Testing
@testable import SlipwayServer

/// Names and retention of scheduled state backups.
@Suite struct ScheduledBackupNamingTests {
    @Test func namesSortByTimeAndPruningKeepsTheNewest() throws {
        let a = StateBackup.scheduledName(Date(timeIntervalSince1970: 1_795_400_000))
        let b = StateBackup.scheduledName(Date(timeIntervalSince1970: 1_795_400_300))
        #expect(a == "slipway-20261123T021320Z.sqlite")
        #expect(a < b)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("prune-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = (0..<5).map { StateBackup.scheduledName(Date(timeIntervalSince1970: 1_795_400_000 + Double($0) * 300)) }
        for name in names + ["notes.txt", "slipway-x.sqlite.partial-12"] {
            _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("x".utf8))
        }
        let pruned = StateBackup.prune(directory, keep: 2)
        #expect(pruned == Array(names.prefix(3)))
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(left == (Array(names.suffix(2)) + ["notes.txt", "slipway-x.sqlite.partial-12"]).sorted(), "other files are never touched")
    }
}
