import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer

/// Who runs this CLI, recorded with every decision it asks for.
enum CLIActor {
    static var current: String {
        let env = ProcessInfo.processInfo.environment
        let user = env["SLIPWAY_ACTOR"] ?? env["USER"] ?? env["LOGNAME"] ?? "someone"
        return "\(user)@\(ProcessInfo.processInfo.hostName) via CLI"
    }
}

/// promote, pause, resume and abort share their shape: a service in, a rollout out.
protocol RolloutControlCommand: AsyncParsableCommand {
    var service: String { get }
    var env: String? { get }
    var client: ClientOptions { get }
    var verb: String { get }
    var body: CommandRequest { get }
}

extension RolloutControlCommand {
    var body: CommandRequest { CommandRequest(by: CLIActor.current) }

    func run() async throws {
        let api = try client.client()
        let record = try await withAPI {
            try await api.send(.POST, "/v1/services/\(unitName(service, env).urlPathEscaped)/\(verb)", body: body, as: RolloutRecord.self)
        }
        if client.output == .json { return try printJSON(record) }
        print(Format.rolloutLine(record))
        if let last = record.canary?.lastAnalysis { print("  latest analysis: \(last)") }
    }
}

struct PromoteCommand: RolloutControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Complete the current canary step (ends a pause); with --full, send all traffic to the canary now.",
        discussion: "Recorded as a decision with your name (slipway why)."
    )
    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?
    @Flag(name: .long, help: "Skip every remaining step and analysis.") var full = false
    @OptionGroup var client: ClientOptions
    var verb: String { "promote" }
    var body: CommandRequest { CommandRequest(full: full, by: CLIActor.current) }
}

struct PauseCommand: RolloutControlCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Hold a canary at its current step (analysis keeps running and still rolls back on failure).")
    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?
    @OptionGroup var client: ClientOptions
    var verb: String { "pause" }
}

struct ResumeCommand: RolloutControlCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let a paused canary go on.")
    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?
    @OptionGroup var client: ClientOptions
    var verb: String { "resume" }
}

struct AbortCommand: RolloutControlCommand {
    static let configuration = CommandConfiguration(commandName: "abort", abstract: "Stop the running rollout: all traffic back on the stable release at once, the new instances stopped.")
    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?
    @OptionGroup var client: ClientOptions
    var verb: String { "abort" }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Deploy the version of the service's last (failed) rollout again.",
        discussion: "With --wait, exits 0 when the new rollout succeeded and 1 when it failed."
    )
    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?
    @Flag(name: .long, help: "Block until the rollout ends.") var wait = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try client.client()
        let record = try await withAPI {
            try await api.send(.POST, "/v1/services/\(unitName(service, env).urlPathEscaped)/retry", body: CommandRequest(by: CLIActor.current), as: RolloutRecord.self)
        }
        try await RolloutWatcher(api: api, output: client.output).finish(record, wait: wait)
    }
}

struct WhyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why",
        abstract: "Explain a rollout's decisions: who or what decided, when, and the numbers behind it.",
        discussion: "Without ROLLOUT, explains the service's latest rollout."
    )
    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?
    @Argument(help: "The rollout id (see slipway history).") var rollout: Int64?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try client.client()
        let query = rollout.map { "?rollout=\($0)" } ?? ""
        let explanation = try await withAPI {
            try await api.send(.GET, "/v1/services/\(unitName(service, env).urlPathEscaped)/why\(query)", as: RolloutExplanation.self)
        }
        if client.output == .json { return try printJSON(explanation) }
        print(Why.render(explanation))
    }
}

/// `slipway why` in sentences.
enum Why {
    static func render(_ e: RolloutExplanation) -> String {
        let r = e.rollout
        var lines = [Format.rolloutLine(r)]
        if let gates = r.gates, !gates.isEmpty {
            lines.append("  gates checked before it started" + (r.requestedBy.map { " (asked by \($0))" } ?? "") + ":")
            lines += gates.map { "      " + $0.line }
        }
        if e.decisions.isEmpty {
            lines.append(r.canary == nil
                ? "  no decisions recorded: a \(r.kind.rawValue) without steps or analysis switches when its instances pass health checks"
                : "  no decisions yet")
            if let reason = r.reason { lines.append("  \(r.phase.rawValue): \(reason)") }
        }
        for d in e.decisions {
            let verb = d.kind.rawValue.replacingOccurrences(of: "_", with: " ")
            lines.append("  \(Format.clock(d.time))  \(verb) by \(d.actor): \(d.summary)")
            for check in d.verdict?.checks ?? [] {
                lines.append("      \(check.outcome.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(check.summary)")
            }
        }
        if let checks = e.verifications {
            lines.append("  post-deploy checks of \(r.toVersion) (verify:, on failure: \(checks.first?.onFailure.rawValue ?? "alert")):")
            for c in checks {
                let when = c.finishedAt.map { Format.clock($0) } ?? "due \(Format.time(c.dueAt))"
                var text = "      \(c.label.padding(toLength: 8, withPad: " ", startingAt: 0)) \(c.status.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(when)"
                if let summary = c.summary { text += "  \(summary)" }
                if let action = c.action { text += "; \(action)" }
                lines.append(text)
            }
        }
        return lines.joined(separator: "\n")
    }
}
