import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show services: stable and previous releases, the running rollout, instances and their health.",
        discussion: """
            --watch redraws the view in place every --interval on a terminal (colours unless \
            NO_COLOR is set); when the output is not a terminal it prints the whole view again, \
            under a time stamp, each time it changes.
            """
    )

    @Argument(help: "One service (default: all); a service with environments shows each of them.")
    var service: String?

    @Option(name: .long, help: ArgumentHelp("Only this environment.", valueName: "ENV"))
    var env: String?

    @Flag(name: [.short, .long], help: "Keep the view up to date until interrupted (Ctrl-C).")
    var watch = false

    @Option(name: .long, help: ArgumentHelp("How often --watch refreshes (default 1s).", valueName: "DURATION"))
    var interval: String = "1s"

    @Option(name: .long, help: ArgumentHelp("With --watch: stop after this many refreshes.", valueName: "N"))
    var count: Int?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard let d = DurationText.parse(interval), d >= .milliseconds(100) else {
            throw ValidationError("--interval must be a duration of at least 100ms, e.g. 1s or 500ms (got \(interval))")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1 (got \(count))") }
        if count != nil, !watch { throw ValidationError("--count only goes with --watch") }
        if watch, client.output == .json { throw ValidationError("--watch shows text; use -o json without --watch for one snapshot") }
    }

    func fetch() async throws -> [ServiceStatus] {
        let api = try client.client()
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

    func run() async throws {
        if watch { return try await StatusWatch(interval: DurationText.parse(interval)!, count: count, fetch: fetch).run() }
        let statuses: [ServiceStatus] = try await withAPI { try await fetch() }
        if client.output == .json {
            return service == nil || statuses.count != 1 ? try printJSON(statuses) : try printJSON(statuses[0])
        }
        print(StatusView.render(statuses, style: .plain), terminator: "")
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
        var rows = [["ID", "STARTED", "KIND", "FROM", "TO", "DIGEST", "RESULT", "TOOK", "REASON"]]
        for r in records {
            rows.append(["\(r.id)", Format.time(r.startedAt), r.kind.rawValue, r.fromVersion ?? "-", r.toVersion, r.artifacts?.primary?.shortDigest ?? "-",
                         r.phase.rawValue, r.endedAt.map { Format.duration($0 - r.startedAt) } ?? "-", r.reason ?? ""])
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
