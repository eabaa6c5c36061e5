#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files only their owner may read: databases, backups and their partial copies, which
/// hold token hashes, the audit log and sealed secrets.
public enum PrivateFile {
    /// Why a file could not be created: the path and the system's reason.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let reason: String
        public var description: String { "cannot create \(path): \(reason)" }
    }

    /// Creates `path` empty with mode 0600, or empties an existing file and sets its mode
    /// to 0600, so what is written into it next (SQLite's copy, a download) is never
    /// readable by other users, whatever the umask.
    public static func createEmpty(atPath path: String) throws(Failure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
    }
}
