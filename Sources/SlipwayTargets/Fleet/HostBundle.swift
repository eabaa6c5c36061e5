import Foundation
import Crypto
import SlipwayCore
#if canImport(Glibc)
import Glibc
#endif

/// What `slipway servers setup` installs on a server: this very `slipway` binary and the
/// shared libraries it links that a server cannot be assumed to have (the Swift runtime,
/// SQLite, libstdc++ …) — everything `ldd` names except the C library itself, which must
/// be at least as new on the server (checked). Identified by the digest of its parts, so
/// a server runs exactly the control plane's build and skew is a string comparison.
public struct HostBundle: Sendable, Equatable {
    public struct Part: Sendable, Equatable {
        /// The file on this machine.
        public var path: String
        /// Its name inside the bundle (`slipway`, `lib/libswiftCore.so`).
        public var name: String
        public var digest: String
        public var bytes: Int64
    }

    /// `sha256:…` of the binary and every library, in order.
    public var id: String
    public var binary: Part
    public var libraries: [Part]
    /// `uname -m` of this machine (the server must match).
    public var machine: String
    /// The C library version this build needs at least (`getconf GNU_LIBC_VERSION` here).
    public var glibc: String

    /// The first 16 hex digits of `id`: the bundle's directory name on servers.
    public var shortID: String { String(id.dropFirst("sha256:".count).prefix(16)) }

    /// Libraries every Linux server has with the C library, never shipped.
    static let system: Set<String> = ["libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "linux-vdso.so.1"]

    /// The bundle of `executable` (normally this process's own binary).
    public static func make(executable: String) async throws(DriverError) -> HostBundle {
        let (digest, bytes) = try Self.digest(executable)
        let binary = Part(path: executable, name: "slipway", digest: digest, bytes: bytes)
        let ldd: CheckCommand.Result
        do {
            ldd = try await CheckCommand.run(executable: "/usr/bin/ldd", arguments: ["ldd", executable], environment: ["PATH": "/usr/bin:/bin"], workingDirectory: nil, timeout: .seconds(30))
        } catch {
            throw DriverError(.failed, "cannot run ldd on \(executable): \(error)")
        }
        guard ldd.exit == .status(0) else { throw DriverError(.failed, "ldd \(executable) failed: \(ldd.stderr)") }
        var libraries: [Part] = []
        for line in ldd.stdout.split(separator: "\n") {
            // "libswiftCore.so => /opt/swift/…/libswiftCore.so (0x…)"
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 3, fields[1] == "=>", fields[2].hasPrefix("/") else {
                if line.contains("not found") { throw DriverError(.notFound, "\(executable) needs a library this machine lacks: \(line.trimmingCharacters(in: .whitespaces))") }
                continue
            }
            let name = String(fields[0])
            guard !system.contains(name) else { continue }
            let path = String(fields[2])
            let (libraryDigest, libraryBytes) = try Self.digest(path)
            libraries.append(Part(path: path, name: "lib/" + name, digest: libraryDigest, bytes: libraryBytes))
        }
        libraries.sort { $0.name < $1.name }
        var hasher = SHA256()
        for part in [binary] + libraries { hasher.update(data: Data("\(part.name) \(part.digest)\n".utf8)) }
        let id = "sha256:" + Hex.string(hasher.finalize())
        return HostBundle(id: id, binary: binary, libraries: libraries, machine: Self.machine(), glibc: await Self.glibcVersion())
    }

    static func digest(_ path: String) throws(DriverError) -> (digest: String, bytes: Int64) {
        do {
            return try ArtifactStore.digest(file: path)
        } catch let error as DriverError {
            throw error
        } catch {
            throw DriverError(.failed, "cannot read \(path): \(error)")
        }
    }

    public var parts: [Part] { [binary] + libraries }
    public var totalBytes: Int64 { parts.reduce(0) { $0 + $1.bytes } }

    static func machine() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// `2.36` (from `getconf GNU_LIBC_VERSION`), or `unknown`.
    static func glibcVersion() async -> String {
        let result = try? await CheckCommand.run(executable: "/usr/bin/getconf", arguments: ["getconf", "GNU_LIBC_VERSION"], environment: [:], workingDirectory: nil, timeout: .seconds(10))
        return result?.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "unknown"
    }

    /// Whether a server's C library (`2.36`) is at least `needed`.
    public static func glibc(_ available: String, satisfies needed: String) -> Bool {
        let a = available.split(separator: ".").compactMap { Int($0) }
        let n = needed.split(separator: ".").compactMap { Int($0) }
        for index in 0..<max(a.count, n.count) {
            let (x, y) = (index < a.count ? a[index] : 0, index < n.count ? n[index] : 0)
            if x != y { return x > y }
        }
        return true
    }
}
