import Foundation
import SlipwayCore
import SlipwayServer

/// Where the CLI finds its API token, in order: `SLIPWAY_TOKEN`; the credentials file
/// `slipway login` writes (`SLIPWAY_CREDENTIALS` or `~/.config/slipway/credentials.json`,
/// mode 0600, one token per server URL); for a server on this machine, the first admin
/// token in the state directory (`SLIPWAY_STATE_DIR` or `./.slipway`).
enum Credentials {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct File: Codable {
        var servers: [String: Entry] = [:]
        struct Entry: Codable {
            var token: String
            var principal: String?
            var savedAt: String?
        }
    }

    static var path: String {
        if let p = ProcessInfo.processInfo.environment["SLIPWAY_CREDENTIALS"], !p.isEmpty { return p }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return home + "/.config/slipway/credentials.json"
    }

    /// The token to send to `server`, or nil (the server then explains what is missing).
    static func token(for server: String) throws -> String? {
        let env = ProcessInfo.processInfo.environment
        if let t = env["SLIPWAY_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty { return t }
        if let file = try read(), let entry = file.servers[server] { return entry.token }
        if let url = URL(string: server), let host = url.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) || host.hasPrefix("127.") {
            let state = env["SLIPWAY_STATE_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".slipway"
            let tokenFile = state + "/admin.token"
            if FileManager.default.isReadableFile(atPath: tokenFile) {
                try requirePrivate(tokenFile)
                return (try? String(contentsOfFile: tokenFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        return nil
    }

    static func read() throws -> File? {
        let p = path
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        try requirePrivate(p)
        guard let data = FileManager.default.contents(atPath: p) else { throw Failure(description: "cannot read \(p)") }
        do {
            return try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw Failure(description: "\(p) is not a credentials file written by `slipway login`: \(error)")
        }
    }

    static func save(server: String, token: String, principal: String) throws {
        let p = path
        var file = try read() ?? File()
        let f = ISO8601DateFormatter()
        file.servers[server] = .init(token: token, principal: principal, savedAt: f.string(from: Date()))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(file)
        let dir = PathText.folder(of: p)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temp = p + ".tmp\(getpid())"
        guard FileManager.default.createFile(atPath: temp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw Failure(description: "cannot write \(temp)")
        }
        chmod(temp, 0o600)
        guard rename(temp, p) == 0 else {
            unlink(temp)
            throw Failure(description: "cannot replace \(p): \(String(cString: strerror(errno)))")
        }
    }

    /// Refuses a token file that other users can read.
    static func requirePrivate(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        if st.st_mode & 0o077 != 0 {
            throw Failure(description: "\(path) is readable by other users (mode \(String(st.st_mode & 0o777, radix: 8))); run `chmod 600 \(path)`")
        }
    }
}
