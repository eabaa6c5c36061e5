import ArgumentParser
import Foundation
import SlipwayCore

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "DORA metrics (deployment frequency, lead time, change failure rate, time to restore) and success numbers.",
        discussion: """
            Counted from the rollouts that ended in the window. Lead time needs the commit time \
            (`slipway release create … --commit-time`). The README's "Delivery report" section \
            defines each number.
            """
    )

    @Argument(help: "Only this service (default: all).")
    var service: String?

    @Option(name: .long, help: ArgumentHelp("Only this environment.", valueName: "ENV"))
    var env: String?

    @Option(name: .long, help: ArgumentHelp("The window, ending now (default 30d).", valueName: "DURATION"))
    var since: String = "30d"

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard let d = DurationText.parse(since), d > .zero else {
            throw ValidationError("--since must be a duration such as 30d, 12h or 90m (got \(since))")
        }
        if let service, service.contains(UnitName.separator) {
            throw ValidationError("name the service without @environment and use --env (got \(service))")
        }
    }

    func run() async throws {
        var query = ["since=\(since.urlQueryEscaped)"]
        if let env { query.append("env=\(env.urlQueryEscaped)") }
        if let service { query.append("service=\(service.urlQueryEscaped)") }
        let report = try await withAPI {
            try await client.client().send(.GET, "/v1/report?" + query.joined(separator: "&"), as: DeliveryReport.self)
        }
        if client.output == .json { return try printJSON(report) }
        print(Self.render(report, window: since))
    }

    static func render(_ r: DeliveryReport, window: String) -> String {
        func percent(_ value: Double?) -> String { value.map { String(format: "%.1f %%", $0 * 100) } ?? "n/a" }
        func time(_ seconds: Double?) -> String { seconds.map(span) ?? "n/a" }
        let scope = [r.service ?? "all services", r.env.map { "environment \($0)" }].compactMap { $0 }.joined(separator: ", ")
        var rows = [["  deployment frequency", String(format: "%.2f per day", r.deploymentsPerDay), Self.plural(r.succeeded, "succeeded deployment")]]
        rows.append(["  lead time for changes", r.leadTimeMedian.map { "median \(span($0))" } ?? "n/a",
                     r.leadTimeSamples == 0 ? "no release has a commit time (release create --commit-time)" : "commit to live, \(r.leadTimeSamples) of \(r.succeeded) deployments"])
        rows.append(["  change failure rate", percent(r.changeFailureRate), "\(r.changeFailures) of \(r.reachedTraffic) deployments that took traffic"])
        rows.append(["  time to restore", r.timeToRestoreMedian.map { "median \(span($0))" } ?? "n/a", r.changeFailures == 0 ? "nothing failed" : Self.plural(r.changeFailures, "failure")])
        rows.append(["  success rate", percent(r.successRate), "\(r.succeeded) of \(r.deployments) deployments"])
        rows.append(["  rollback rate", percent(r.rollbackRate), Self.plural(r.rollbacks, "rollback")])
        rows.append(["  median deploy duration", time(r.deployDurationMedian), ""])
        return "Delivery report: \(scope), last \(window) (\(Format.time(r.since)) to \(Format.time(r.until)))\n" + Format.table(rows)
    }

    static func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)" + (n == 1 ? "" : "s") }

    /// 42s, 12m5s, 3h12m, 2d4h.
    static func span(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if seconds < 60 { return Format.duration(seconds) }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86_400 { return "\(s / 3600)h\(s % 3600 / 60)m" }
        return "\(s / 86_400)d\(s % 86_400 / 3600)h"
    }
}

private extension DeliveryReport {
    var env: String? { environment }
}
