import Crypto
import Foundation
import SlipwayCore
#if canImport(Glibc)
import Glibc
#endif

/// A content-addressed store of the bytes local releases run (`STATE/artifacts`): a file
/// is kept as `sha256/HEX`, a directory as `sha256/HEX/…`, read-only. The same bytes are
/// kept once however many releases run them. A release records the digest; a rollback
/// finds its bytes here even after the original file was rebuilt or deleted.
public struct ArtifactStore: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// Where the bytes of `digest` (`sha256:HEX`) are kept.
    public func path(of digest: String) -> String {
        root + "/sha256/" + Self.hex(digest)
    }

    /// Copies the file or directory at `path` into the store (once) and returns what it is.
    public func keep(_ path: String, kind: ReleaseArtifact.Kind) throws(DriverError) -> ReleaseArtifact {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DriverError(.notFound, "\(path) does not exist")
        }
        do {
            try fm.createDirectory(atPath: root + "/sha256", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
        } catch {
            throw DriverError(.failed, "cannot create the artifact store \(root): \(error.localizedDescription)")
        }
        let staging = root + "/tmp/" + UUID().uuidString
        defer { try? fm.removeItem(atPath: staging) }
        let digest: String
        let bytes: Int64
        do {
            if isDirectory.boolValue {
                (digest, bytes) = try Self.copyDirectory(path, to: staging)
            } else {
                (digest, bytes) = try Self.copyFile(path, to: staging)
            }
        } catch let error as DriverError {
            throw error
        } catch {
            throw DriverError(.failed, "cannot copy \(path) into the artifact store: \(error.localizedDescription)")
        }
        let final = self.path(of: digest)
        if !fm.fileExists(atPath: final) {
            // rename(2) is atomic: a concurrent keep of the same bytes finds one or the other.
            if rename(staging, final) != 0, !fm.fileExists(atPath: final) {
                throw DriverError(.failed, "cannot move \(path) into the artifact store \(final): \(String(cString: strerror(errno)))")
            }
            if isDirectory.boolValue { Self.makeDirectoriesReadOnly(final) }
        }
        return ReleaseArtifact(kind: isDirectory.boolValue ? .directory : kind, source: path, digest: digest, bytes: bytes)
    }

    /// The stored copy of `artifact`, checked: it must exist and still hash to its digest.
    public func verified(_ artifact: ReleaseArtifact) throws(DriverError) -> String {
        let stored = path(of: artifact.digest)
        guard FileManager.default.fileExists(atPath: stored) else {
            throw DriverError(.artifactGone, "the \(artifact.kind.rawValue) \(artifact.source) (\(artifact.shortDigest)) is gone from the artifact store (\(stored))")
        }
        let actual: String?
        switch artifact.kind {
        case .directory: actual = try? Self.copyDirectory(stored, to: nil).digest
        default: actual = try? Self.digest(file: stored).digest
        }
        guard actual == artifact.digest else {
            throw DriverError(.artifactGone, "the stored copy of \(artifact.source) (\(stored)) no longer hashes to \(artifact.shortDigest); it was changed on disk")
        }
        return stored
    }

    static func hex(_ digest: String) -> String {
        digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest
    }

    /// SHA-256 and size of a file, read in 1 MiB chunks.
    public static func digest(file: String) throws -> (digest: String, bytes: Int64) {
        try copyFile(file, to: nil)
    }

    /// Hashes `source` while copying it to `destination` (nil: only hashes). The copy keeps
    /// the executable bits and is made read-only.
    static func copyFile(_ source: String, to destination: String?) throws -> (digest: String, bytes: Int64) {
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw DriverError(.notFound, "\(source) cannot be read")
        }
        defer { try? input.close() }
        var output: FileHandle?
        if let destination {
            guard FileManager.default.createFile(atPath: destination, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let handle = FileHandle(forWritingAtPath: destination) else {
                throw DriverError(.failed, "cannot write \(destination)")
            }
            output = handle
        }
        var hasher = SHA256()
        var bytes: Int64 = 0
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            try output?.write(contentsOf: chunk)
            bytes += Int64(chunk.count)
        }
        try output?.close()
        if let destination {
            let executable = (mode(of: source) & 0o111) != 0
            chmod(destination, executable ? 0o555 : 0o444)
        }
        return ("sha256:" + Hex.string(hasher.finalize()), bytes)
    }

    /// Hashes a directory tree — every entry's relative path, kind, executable bit, and
    /// contents (files) or target (symlinks), in sorted order — while copying it to
    /// `destination` (nil: only hashes).
    static func copyDirectory(_ source: String, to destination: String?) throws -> (digest: String, bytes: Int64) {
        let fm = FileManager.default
        guard let entries = fm.subpaths(atPath: source) else {
            throw DriverError(.notFound, "\(source) cannot be listed")
        }
        if let destination { try fm.createDirectory(atPath: destination, withIntermediateDirectories: false) }
        var manifest = SHA256()
        var total: Int64 = 0
        for relative in entries.sorted() {
            let full = source + "/" + relative
            let target = destination.map { $0 + "/" + relative }
            let attributes = try fm.attributesOfItem(atPath: full)
            let type = attributes[.type] as? FileAttributeType
            var line: String
            if type == .typeSymbolicLink {
                let link = try fm.destinationOfSymbolicLink(atPath: full)
                if let target { try fm.createSymbolicLink(atPath: target, withDestinationPath: link) }
                line = "link \(relative) \(link)"
            } else if type == .typeDirectory {
                if let target { try fm.createDirectory(atPath: target, withIntermediateDirectories: true) }
                line = "dir \(relative)"
            } else if type == .typeRegular {
                let (digest, bytes) = try copyFile(full, to: target)
                total += bytes
                let executable = (mode(of: full) & 0o111) != 0
                line = "file \(relative) \(executable ? "x" : "-") \(digest)"
            } else {
                throw DriverError(.invalid, "\(full) is neither a file, a directory nor a symbolic link; an artifact holds only those")
            }
            manifest.update(data: Data((line + "\n").utf8))
        }
        return ("sha256:" + Hex.string(manifest.finalize()), total)
    }

    /// Directories of a stored tree read-only, deepest first, so nothing can be added later.
    static func makeDirectoriesReadOnly(_ root: String) {
        let fm = FileManager.default
        for relative in (fm.subpaths(atPath: root) ?? []).sorted().reversed()
        where (try? fm.attributesOfItem(atPath: root + "/" + relative)[.type] as? FileAttributeType) == .typeDirectory {
            chmod(root + "/" + relative, 0o555)
        }
        chmod(root, 0o555)
    }

    static func mode(of path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode : 0
    }
}
