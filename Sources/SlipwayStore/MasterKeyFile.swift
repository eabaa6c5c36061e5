import Foundation
import SlipwayCore
#if canImport(Glibc)
import Glibc
#endif

/// The key file in the state directory: base64 of 32 random bytes and a newline, mode
/// 0600. A file readable by group or others is refused.
public enum MasterKeyFile {
    /// Reads a key file, refusing one whose mode is wider than 0600.
    public static func read(_ path: String) throws(MasterKeyError) -> MasterKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw MasterKeyError(.unreadable, "cannot read the master key file \(path): \(String(cString: strerror(errno)))")
        }
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw MasterKeyError(.insecureFile, "the master key file \(path) has mode \(String(mode, radix: 8, uppercase: false).leftPadded(to: 4)), wider than 0600: others could read it; fix it with `chmod 600 \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MasterKeyError(.unreadable, "cannot read the master key file \(path)")
        }
        if data.count == MasterKey.byteCount {
            return try MasterKey(bytes: data, source: .file(path))
        }
        return try MasterKey.parse(String(decoding: data, as: UTF8.self), source: .file(path))
    }

    /// Writes `key` to `path` (created or replaced, mode 0600) and fsyncs it and its
    /// folder, so the file is on disk before the caller goes on.
    public static func write(_ key: MasterKey, to path: String) throws(MasterKeyError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw cannotWrite(path) }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw cannotWrite(path) }
        let bytes = Array((key.base64 + "\n").utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw cannotWrite(path) }
        try syncDirectory(of: path)
    }

    /// Renames `from` over `to` and fsyncs the folder.
    public static func replace(_ to: String, with from: String) throws(MasterKeyError) {
        guard rename(from, to) == 0 else { throw cannotWrite(to) }
        try syncDirectory(of: to)
    }

    static func syncDirectory(of path: String) throws(MasterKeyError) {
        let directory = PathText.openableFolder(of: path)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw cannotWrite(directory) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw cannotWrite(directory) }
    }

    private static func cannotWrite(_ path: String) -> MasterKeyError {
        MasterKeyError(.cannotWrite, "cannot write the master key file \(path): \(String(cString: strerror(errno)))")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
