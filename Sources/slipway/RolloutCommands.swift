import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Roll out a release of a service (blue-green, canary or rolling, as its config says).",
        discussion: """
            With --wait, exits 0 when the rollout succeeded and 1 when it failed, with the reason. \
            A canary paused for a person (a `pause: {}` step, `slipway pause`) or a rollout awaiting \
            approval is waited through, with a line saying which command moves it on; --timeout \
            bounds the wait: exit 2 when the rollout is still running then.
            """
    )

    @Argument(help: "The service.")
    var service: String

    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?

    @Option(name: .long, help: "The release's version label.")
    var version: String

    @Option(name: .customLong("set-env"), help: ArgumentHelp("An environment variable of this release (repeatable).", valueName: "KEY=VALUE"))
    var setEnv: [String] = []

    @Option(name: .long, help: ArgumentHelp("Container services: deploy this image (REPOSITORY[:TAG][@sha256:DIGEST]) as the release, instead of the config's `image:` with {{version}}.", valueName: "REF"))
    var image: String?

    @Flag(name: .long, help: "Block until the rollout ends.")
    var wait = false

    @Option(name: .long, help: ArgumentHelp("With --wait: stop waiting after this long (e.g. 90s, 10m) and exit 2 when the rollout is still running; it goes on.", valueName: "DURATION"))
    var timeout: String?

    @Option(name: .customLong("override-freeze"), help: ArgumentHelp("Admins only: deploy inside a freeze window; the reason goes to the audit log.", valueName: "REASON"))
    var overrideFreeze: String?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        for pair in setEnv {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw ValidationError("--set-env expects KEY=VALUE (got \(pair))")
            }
            let key = pair[..<eq]
            guard key.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }), !(key.first?.isNumber ?? true) else {
                throw ValidationError("--set-env \(pair): \(key) is not a valid environment variable name")
            }
        }
        if let image, let problem = ImageReference.problem(image) {
            throw ValidationError("--image: \(problem)")
        }
        _ = try waitLimit()
    }

    /// `--timeout` as a duration; only with `--wait`, and more than zero.
    func waitLimit() throws -> Duration? {
        guard let timeout else { return nil }
        guard wait else { throw ValidationError("--timeout bounds --wait: add --wait, or leave --timeout out") }
        guard let limit = DurationText.parse(timeout), limit > .zero else {
            throw ValidationError("--timeout \(timeout): expected a duration above zero such as 90s, 10m or 1h30m")
        }
        return limit
    }

    func run() async throws {
        var variables: [String: String] = [:]
        for pair in setEnv {
            let eq = pair.firstIndex(of: "=")!
            variables[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        let api = try client.client()
        let record = try await withAPI {
            try await api.send(.POST, "/v1/services/\(unitName(service, env).urlPathEscaped)/deploy", body: DeployRequest(version: version, env: variables, overrideFreeze: overrideFreeze, image: image), as: RolloutRecord.self)
        }
        try await RolloutWatcher(api: api, output: client.output).finish(record, wait: wait, limit: try waitLimit())
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Put traffic back on the previous (or named) release: at once when it is still warm.",
        discussion: "Waits for the rollback to end; exits 0 when traffic is on the target release."
    )

    @Argument(help: "The service.")
    var service: String

    @Option(name: .long, help: ArgumentHelp("The environment, for a service with `environments:` (same as SERVICE@ENV).", valueName: "ENV")) var env: String?

    @Option(name: .long, help: "The release to go back to (default: the previous one).")
    var to: String?

    @Flag(name: .long, help: "Return as soon as the rollback started.")
    var noWait = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try client.client()
        let record = try await withAPI {
            try await api.send(.POST, "/v1/services/\(unitName(service, env).urlPathEscaped)/rollback", body: RollbackRequest(to: to), as: RolloutRecord.self)
        }
        if record.kind != .rollback {
            // The deploy was still waiting for health checks: aborting it was the whole
            // rollback, since traffic never left the stable release.
            if client.output == .json { return try printJSON(record) }
            print("rollout \(record.id) (\(record.kind.rawValue) of \(record.toVersion)) aborted before its switch; traffic stays on \(record.fromVersion ?? "the stable release")")
            return
        }
        try await RolloutWatcher(api: api, output: client.output).finish(record, wait: !noWait)
    }
}

/// Follows a rollout until it ends, printing its events as they happen.
struct RolloutWatcher {
    let api: APIClient
    let output: OutputFormat

    /// Follows the rollout when `wait` is set, for at most `limit` (exit 2 when it is still
    /// running then).
    func finish(_ started: RolloutRecord, wait: Bool, limit: Duration? = nil) async throws {
        var record = started
        var seen = Set<Int64>()
        var hold = HoldNotice()
        if output == .text {
            print("rollout \(record.id): \(record.kind.rawValue) of \(record.service) to \(record.toVersion)" + (record.fromVersion.map { " from \($0)" } ?? ""))
            printEvents(record, seen: &seen)
        }
        if wait {
            let deadline = limit.map { (limit: $0, at: ContinuousClock.now + $0) }
            var polls = 0
            // A final phase is stored before the actions it implies (the route push of a
            // switch or of a rollback, stopping instances): done once those are too.
            while !record.phase.isTerminal || record.settling == true {
                if let deadline, ContinuousClock.now >= deadline.at {
                    if output == .json {
                        try printJSON(record)
                    } else {
                        print("rollout \(record.id) is still \(record.phase.rawValue) after --timeout \(DurationText.format(deadline.limit)); it goes on: follow it with `slipway status \(record.service)`")
                    }
                    throw Exit.stillRunning
                }
                // Quick polls first (a warm rollback ends within one controller tick), then gentler.
                polls += 1
                try await Task.sleep(for: .milliseconds(polls <= 20 ? 25 : 200))
                record = try await withAPI { try await api.send(.GET, "/v1/rollouts/\(record.id)", as: RolloutRecord.self) }
                if output == .text {
                    printEvents(record, seen: &seen)
                    if let line = hold.line(for: record) { print(line) }
                }
            }
        }
        if output == .json {
            try printJSON(record)
        } else if record.phase.isTerminal {
            print(Format.outcome(record))
            if record.phase == .failed, let details = record.details, !details.isEmpty { print(details) }
        } else {
            print("rollout \(record.id) is \(record.phase.rawValue); follow it with `slipway status \(record.service)`")
        }
        if record.phase == .failed { throw Exit.failed }
    }

    func printEvents(_ record: RolloutRecord, seen: inout Set<Int64>) {
        for event in record.events ?? [] where !seen.contains(event.id) {
            seen.insert(event.id)
            print("  \(Format.time(event.time))  \(event.kind.padding(toLength: 18, withPad: " ", startingAt: 0)) \(event.message)")
        }
    }
}

/// The unit a command acts on: `SERVICE`, or `SERVICE@ENV` with --env.
func unitName(_ service: String, _ env: String?) -> String {
    guard let env, !env.isEmpty else { return service }
    return UnitName.make(service: UnitName.split(service).service, environment: env)
}

extension String {
    var urlPathEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? self
    }

    var urlQueryEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "+&=#"))) ?? self
    }
}

/// What `deploy --wait` says once each time a rollout comes to a halt only a person can
/// move it on from (a paused canary, approvals): what it waits for and the commands that
/// move it. Said on the second poll that sees the halt, so it usually comes after the
/// events that explain it (a phase is stored just before the decision events of the halt).
struct HoldNotice {
    private var seen: RolloutPhase?
    private var said: RolloutPhase?

    mutating func line(for record: RolloutRecord) -> String? {
        let held: RolloutPhase? = record.phase == .paused || record.phase == .awaitingApproval ? record.phase : nil
        defer { seen = held }
        guard let held else {
            said = nil
            return nil
        }
        guard seen == held, said != held else { return nil }
        said = held
        if held == .paused {
            let why = record.canary?.pauseReason.map { " (\($0))" } ?? ""
            return "  waiting for a person: the canary is paused\(why); `slipway promote \(record.service)` (or `resume`, `abort`) moves it on"
        }
        let count = record.approval.map { " (\($0.approvals) of \($0.needed))" } ?? ""
        return "  waiting for a person: the rollout needs approvals\(count); `slipway approve \(record.service)` (approver role) or `reject`"
    }
}
