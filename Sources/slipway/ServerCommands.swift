import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer

/// `slipway servers setup|status`: the fleet servers named in `servers:`.
struct ServersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "servers",
        abstract: "Install Slipway's data plane on fleet servers and show how they are.",
        subcommands: [ServersSetupCommand.self, ServersStatusCommand.self]
    )
}

struct ServersSetupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Copy this control plane's build to every server of `servers:` over SSH and start its router there (admin).",
        discussion: "The bundle (the slipway binary and the libraries it links) is copied once per build and checked by SHA-256 on the server; a router of another build is replaced. Host keys must already be in known_hosts: unknown or changed keys are refused."
    )

    @Option(name: .long, help: ArgumentHelp("Only this server (HOST or HOST:PORT as `servers status` shows it).", valueName: "SERVER"))
    var only: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        var path = "/v1/servers/setup"
        if let only { path += "?server=\(only.urlPathEscaped)" }
        let results = try await withAPI { try await client.client().send(.POST, path, body: Optional<Int>.none, as: [ServerSetupResult].self, timeout: .seconds(1800)) }
        if client.output == .json { return try printJSON(results) }
        if results.isEmpty { return print("no servers: no service has `servers:`") }
        var failed = false
        for result in results {
            if let report = result.report {
                print("\(result.server): ok — " + report.steps.joined(separator: "; "))
            } else {
                failed = true
                print("\(result.server): FAILED — \(result.error ?? "unknown error")")
            }
        }
        if failed { throw Exit.failed }
    }
}

struct ServersStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each server's router: reachable, version and build (skew named), healthy instances, last contact."
    )

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let statuses = try await withAPI { try await client.client().send(.GET, "/v1/servers", as: [FleetServer.Status].self) }
        if client.output == .json { return try printJSON(statuses) }
        if statuses.isEmpty { return print("no servers: no service has `servers:`") }
        var rows = [["SERVER", "ROLES", "ROUTER", "VERSION", "BUILD", "HEALTHY", "REQ/MIN", "5XX", "CLOCK", "LAST CONTACT"]]
        var problems: [String] = []
        for s in statuses {
            let router = s.routerPID.map { "pid \($0)" } ?? (s.reachable ? "not running" : "unreachable")
            let build = s.build.map { String($0.dropFirst("sha256:".count).prefix(12)) + (s.current ? "" : " (skew)") } ?? "-"
            rows.append([s.server, s.roles.isEmpty ? "-" : s.roles.joined(separator: ","), router, s.version ?? "-", build,
                         "\(s.healthy)/\(s.endpoints)", s.requests.map(String.init) ?? "-", s.errors.map(String.init) ?? "-",
                         s.clockSkew.map { String(format: "%+.3fs", $0) } ?? "-", s.lastContact.map(Format.time) ?? "never"])
            if let problem = s.problem { problems.append("\(s.server): \(problem)") }
        }
        print(Format.table(rows))
        for problem in problems { print(problem) }
        if !problems.isEmpty { throw Exit.failed }
    }
}
