import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer
import SlipwayStore

/// `slipway version`: this build and, when one answers, the server's.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print this build's version, binary digest, state schema and API version, and the server's version.",
        discussion: "The server is asked at --server (or SLIPWAY_SERVER, or the default); one that does not answer is reported, not an error (exit 0).")

    @OptionGroup var client: ClientOptions
    @Flag(name: .long, help: "Only this binary: do not ask the server.")
    var clientOnly = false

    struct Report: Codable {
        struct Server: Codable {
            var url: String
            var version: String?
            var error: String?
        }

        var version: String
        var binary: String
        /// SHA-256 of the binary's bytes: what `servers` and the router compare to tell builds apart.
        var sha256: String?
        /// The last migration of the state database this build writes.
        var stateSchema: String
        var apiVersion: String
        var platform: String
        var server: Server?
    }

    func run() async throws {
        var report = Report(version: SlipwayVersion.current, binary: SelfExecutable.path, sha256: ExecutableIdentity.ofRunningProcess(),
                            stateSchema: Store.schemaVersion, apiVersion: "v" + OpenAPI.apiVersion, platform: Self.platform)
        if !clientOnly {
            let url = client.serverURL
            do {
                let api = try client.client()
                let reply = try await api.send(.GET, "/healthz", as: LivenessReply.self, timeout: .seconds(5))
                report.server = .init(url: url, version: reply.version)
            } catch let failure as APIClient.Failure {
                report.server = .init(url: url, error: failure.message)
            } catch {
                report.server = .init(url: url, error: "\(error)")
            }
        }
        if client.output == .json { return try printJSON(report) }
        print("slipway \(report.version)")
        print("  binary:        \(report.binary)")
        print("  sha256:        \(report.sha256 ?? "unreadable")")
        print("  state schema:  \(report.stateSchema)")
        print("  API:           \(report.apiVersion)")
        print("  platform:      \(report.platform)")
        if let server = report.server {
            if let version = server.version {
                print("server \(server.url): slipway \(version)\(version == report.version ? "" : " (not this build's version)")")
            } else {
                print("server \(server.url): not reachable (\(server.error ?? "no answer"))")
            }
        }
    }

    static var platform: String {
        var name = utsname()
        uname(&name)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(text(name.machine)) \(text(name.sysname)) \(text(name.release))"
    }
}
