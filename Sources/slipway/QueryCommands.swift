import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show services: stable and previous releases, the running rollout, instances and their health."
    )

    @Argument(help: "One service (default: all); a service with environments shows each of them.")
    var service: String?

    @Option(name: .long, help: ArgumentHelp("Only this environment.", valueName: "ENV"))
    var env: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try client.client()
        let statuses: [ServiceStatus] = try await withAPI {
            if let service, env != nil || service.contains(UnitName.separator) {
                return [try await api.send(.GET, "/v1/services/\(unitName(service, env).urlPathEscaped)", as: ServiceStatus.self)]
            }
            let all = try await api.send(.GET, "/v1/services", as: [ServiceStatus].self)
            guard let service else { return env == nil ? all : all.filter { UnitName.split($0.service).environment == env } }
            let mine = all.filter { UnitName.split($0.service).service == service }
            // None: the server's answer names what is wrong (unknown service, …).
            if mine.isEmpty { return [try await api.send(.GET, "/v1/services/\(service.urlPathEscaped)", as: ServiceStatus.self)] }
            return mine
        }
        if client.output == .json {
            return service == nil || statuses.count != 1 ? try printJSON(statuses) : try printJSON(statuses[0])
        }
        if statuses.isEmpty { print("no services; register one with `slipway apply -f slipway.yml`") }
        for s in statuses {
            print("\(s.service)  \(s.serviceURL)  (config v\(s.configVersion))")
            print("  stable:   \(s.stableVersion ?? "none")")
            if let previous = s.previousVersion {
                let warm = s.previousRetireAt.map { "warm until \(Format.time($0))" } ?? "stopped"
                print("  previous: \(previous) (\(warm))")
            }
            if let r = s.activeRollout {
                if let c = r.canary {
                    print("  rollout \(r.id): canary of \(r.toVersion), \(r.phase.rawValue) since \(Format.time(r.startedAt))")
                    print("    canary weight \(c.weight) %, " + (c.stepLabel.map { "step \(c.step)/\(c.steps) (\($0))" } ?? "after the last step (promotes once analysis passes)"))
                    if let why = c.pauseReason { print("    paused: \(why)") }
                    if let last = c.lastAnalysis { print("    latest analysis: \(last)") }
                } else if let rolling = r.rolling {
                    print("  rollout \(r.id): rolling \(r.kind.rawValue) to \(r.toVersion), \(r.phase.rawValue) since \(Format.time(r.startedAt))")
                    print("    \(rolling)")
                } else {
                    print("  rollout \(r.id): \(r.kind.rawValue) to \(r.toVersion), \(r.phase.rawValue) since \(Format.time(r.startedAt))")
                }
                if let a = r.approval, r.phase == .awaitingApproval {
                    let who = a.votes.filter(\.approved).map(\.principal)
                    print("    approvals: \(a.approvals) of \(a.needed)" + (who.isEmpty ? "" : " (\(who.joined(separator: ", ")))") + (a.fourEyes ? ", four eyes: not \(a.requestedBy)" : "") + "; expires \(Format.time(a.expiresAt))")
                }
            }
            if s.instances.isEmpty {
                print("  no instances")
            } else {
                var rows = [["  INSTANCE", "VERSION", "PID", "PORT", "STATE", "HEALTH", "IN-FLIGHT", "RESTARTS"]]
                for i in s.instances {
                    let health = i.healthy.map { $0 ? "healthy" : "unhealthy" + (i.lastHealthError.map { " (\($0))" } ?? "") } ?? "unknown"
                    rows.append(["  " + i.id, i.version, "\(i.pid)", "\(i.port)", i.state.rawValue, health, "\(i.inflight ?? 0)", "\(i.restarts)"])
                }
                print(Format.table(rows))
            }
        }
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List a service's rollouts, newest first."
    )

    @Argument(help: "The service.")
    var service: String

    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?

    @Option(name: .long, help: "How many rollouts to show.")
    var limit: Int = 20

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000 (got \(limit))") }
    }

    func run() async throws {
        let records = try await withAPI {
            try await client.client().send(.GET, "/v1/services/\(unitName(service, env).urlPathEscaped)/rollouts?limit=\(limit)", as: [RolloutRecord].self)
        }
        if client.output == .json { return try printJSON(records) }
        if records.isEmpty { return print("\(service) has no rollouts yet") }
        var rows = [["ID", "STARTED", "KIND", "FROM", "TO", "RESULT", "TOOK", "REASON"]]
        for r in records {
            rows.append(["\(r.id)", Format.time(r.startedAt), r.kind.rawValue, r.fromVersion ?? "-", r.toVersion, r.phase.rawValue,
                         r.endedAt.map { Format.duration($0 - r.startedAt) } ?? "-", r.reason ?? ""])
        }
        print(Format.table(rows))
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the logs of a service's instances (stdout and stderr)."
    )

    @Argument(help: "The service.")
    var service: String

    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?

    @Option(name: .long, help: "Only instances of this release.")
    var version: String?

    @Option(name: .long, help: "Lines to show from the end of each instance's log.")
    var tail: Int = 100

    @Flag(name: [.short, .long], help: "Keep printing new lines.")
    var follow = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard tail >= 0 else { throw ValidationError("--tail must not be negative (got \(tail))") }
    }

    func run() async throws {
        var path = "/v1/services/\(unitName(service, env).urlPathEscaped)/logs?tail=\(tail)"
        if let version { path += "&version=\(version.urlPathEscaped)" }
        if client.output == .json {
            // JSON lines: {"instance": …, "line": …} per log line (no follow).
            let bytes = try await withAPI { try await client.client().raw(.GET, path) }
            for line in String(buffer: bytes).split(separator: "\n") {
                var instance = ""
                var text = Substring(line)
                if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                    instance = String(line[line.index(after: line.startIndex)..<close])
                    text = line[(line.index(close, offsetBy: 2, limitedBy: line.endIndex) ?? line.endIndex)...]
                }
                let data = try JSONEncoder().encode(["instance": instance, "line": String(text)])
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        if follow { path += "&follow=1" }
        try await withAPI { try await client.client().stream(path) }
    }
}
