import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer

struct NotificationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "List notifications, newest first, with their delivery status (attempts, last error, next attempt)."
    )

    @Option(name: .long, help: "Only this service (SERVICE covers all its environments; SERVICE@ENV one).")
    var service: String?

    @Option(name: .long, help: ArgumentHelp("Only pending, delivered or failed notifications.", valueName: "STATUS"))
    var status: String?

    @Option(name: .long, help: "How many to show (1-1000).")
    var limit: Int = 50

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let status, NotificationRecord.Status(rawValue: status) == nil {
            throw ValidationError("--status must be pending, delivered or failed (got \(status))")
        }
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000 (got \(limit))") }
    }

    func run() async throws {
        var path = "/v1/notifications?limit=\(limit)"
        if let service { path += "&service=\(service.urlPathEscaped)" }
        if let status { path += "&status=\(status)" }
        let records = try await withAPI { try await client.client().send(.GET, path, as: [NotificationView].self) }
        if client.output == .json { return try printJSON(records) }
        if records.isEmpty { return print("no notifications") }
        var rows = [["ID", "CREATED", "SERVICE", "EVENT", "SINK", "STATUS", "ATTEMPTS", "NEXT / LAST ERROR"]]
        for r in records {
            var detail = r.lastError ?? ""
            if r.status == .pending, let next = r.nextAttemptAt { detail = "next \(Format.clock(next))" + (detail.isEmpty ? "" : "; \(detail)") }
            if r.status == .delivered, let at = r.deliveredAt { detail = "delivered \(Format.clock(at))" }
            rows.append(["\(r.id)", Format.time(r.createdAt), r.service, r.event.rawValue, "\(r.sink.rawValue) \(r.target)", r.status.rawValue, "\(r.attempts)", detail])
        }
        print(Format.table(rows))
    }
}

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Show every alert rule and where it stands (inactive, pending, firing)."
    )

    @Option(name: .long, help: "Only this service.")
    var service: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        var path = "/v1/alerts"
        if let service { path += "?service=\(service.urlPathEscaped)" }
        let alerts = try await withAPI { try await client.client().send(.GET, path, as: [AlertStatus].self) }
        if client.output == .json { return try printJSON(alerts) }
        if alerts.isEmpty { return print("no alert rules; add `alerts:` to a service's slipway.yml") }
        var rows = [["SERVICE", "ALERT", "SEVERITY", "RULE", "STATE", "SINCE", "VALUE"]]
        for a in alerts {
            let rule = AlertRule(name: a.name, metric: a.metric, max: a.max, for: .milliseconds(Int64(a.forSeconds * 1000)), severity: a.severity)
            let condition = (a.max.map { "\(a.metric.rawValue) > \(a.metric.format($0))" } ?? a.metric.rawValue) + " for \(DurationText.format(rule.forDuration))"
            let since = (a.phase == .firing ? a.firingSince : a.since).map(Format.time) ?? "-"
            rows.append([a.service, a.name, a.severity.rawValue, condition, a.phase.rawValue, since, a.value.map(a.metric.format) ?? "no data"])
        }
        print(Format.table(rows))
    }
}
