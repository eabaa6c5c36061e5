import Foundation
import SlipwayCore
import Testing

/// Database files, backups and their partial copies are created 0600 whatever the umask,
/// and a file that cannot be created is named in the error (the callers used to ignore
/// FileManager's result and let SQLite create the file with the umask's mode).
@Suite struct PrivateFileTests {
    private func mode(_ path: String) throws -> Int {
        try #require((FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue)
    }

    @Test func aNewFileIsEmptyAndOnlyItsOwnerMayReadIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("private-file-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let previous = umask(0)
        defer { umask(previous) }
        let path = dir + "/new.sqlite"
        try PrivateFile.createEmpty(atPath: path)
        #expect(try mode(path) == 0o600)
        #expect(FileManager.default.contents(atPath: path) == Data())
    }

    @Test func anExistingFileIsEmptiedAndMadePrivate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("private-file-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/old.sqlite"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("old contents".utf8), attributes: [.posixPermissions: 0o644]))
        try PrivateFile.createEmpty(atPath: path)
        #expect(try mode(path) == 0o600)
        #expect(FileManager.default.contents(atPath: path) == Data())
    }

    @Test(arguments: ["/proc/slipway-private-file", "/nonexistent-slipway-dir/x.sqlite"])
    func aFileThatCannotBeCreatedIsNamed(path: String) {
        #expect {
            try PrivateFile.createEmpty(atPath: path)
        } throws: { error in
            let failure = error as? PrivateFile.Failure
            return failure?.path == path && failure?.description.hasPrefix("cannot create \(path): ") == true && failure?.reason.isEmpty == false
        }
    }
}
