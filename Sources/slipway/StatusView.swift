import Foundation
import SlipwayCore

/// `slipway status` as text: one block per unit. With `.color`, health and phases are
/// coloured (ANSI SGR); `.plain` has no escape sequences at all.
enum StatusView {
    enum Style { case plain, color }

    static func render(_ statuses: [ServiceStatus], style: Style) -> String {
        var out = ""
        func line(_ text: String) { out += text + "\n" }
        if statuses.isEmpty { line("no services; register one with `slipway apply -f slipway.yml`") }
        for s in statuses {
            line(paint("\(s.service)", .bold, style) + "  \(s.serviceURL)  (config v\(s.configVersion))")
            func runs(_ version: String?) -> String {
                guard let version, let artifact = s.artifacts?[version]?.primary else { return "" }
                return "  " + artifact.summary
            }
            line("  stable:   \(s.stableVersion ?? "none")" + runs(s.stableVersion))
            if let previous = s.previousVersion {
                let warm = s.previousRetireAt.map { "warm until \(Format.time($0))" } ?? "stopped"
                line("  previous: \(previous) (\(warm))" + runs(previous))
            }
            if let r = s.activeRollout {
                let phase = paint(r.phase.rawValue, r.phase == .paused || r.phase == .awaitingApproval ? .yellow : .cyan, style)
                if let c = r.canary {
                    line("  rollout \(r.id): canary of \(r.toVersion), \(phase) since \(Format.time(r.startedAt))")
                    line("    canary weight \(c.weight) % " + bar(c.weight, style) + ", " + (c.stepLabel.map { "step \(c.step)/\(c.steps) (\($0))" } ?? "after the last step (promotes once analysis passes)"))
                    if let why = c.pauseReason { line("    paused: \(why)") }
                    if let last = c.lastAnalysis { line("    latest analysis: \(last)") }
                } else if let rolling = r.rolling {
                    line("  rollout \(r.id): rolling \(r.kind.rawValue) to \(r.toVersion), \(phase) since \(Format.time(r.startedAt))")
                    line("    \(rolling)")
                } else {
                    line("  rollout \(r.id): \(r.kind.rawValue) to \(r.toVersion), \(phase) since \(Format.time(r.startedAt))")
                    if let waves = r.waves { line("    \(waves)") }
                }
                if let a = r.approval, r.phase == .awaitingApproval {
                    let who = a.votes.filter(\.approved).map(\.principal)
                    line("    approvals: \(a.approvals) of \(a.needed)" + (who.isEmpty ? "" : " (\(who.joined(separator: ", ")))") + (a.fourEyes ? ", four eyes: not \(a.requestedBy)" : "") + "; expires \(Format.time(a.expiresAt))")
                }
            }
            if let checks = s.verifications, let first = checks.first {
                line("  verify \(first.version) (rollout \(first.rolloutID)): " + checks.map { verificationCell($0, style) }.joined(separator: ", "))
                for c in checks where c.status == .failed || c.status == .inconclusive {
                    line("    \(c.label) \(c.status.rawValue): \(c.summary ?? "")" + (c.action.map { "; \($0)" } ?? ""))
                }
            }
            if s.instances.isEmpty {
                line("  no instances")
            } else {
                let containers = s.instances.contains { $0.target == .container }
                // A fleet service: each instance's server, and the server's column after VERSION.
                let fleet = s.instances.contains { $0.server != nil }
                var rows = [["  INSTANCE", "VERSION"] + (fleet ? ["SERVER"] : []) + [containers ? "CONTAINER" : "PID", "PORT", "STATE", "HEALTH", "IN-FLIGHT", "RESTARTS"]]
                for i in s.instances {
                    let health = i.healthy.map { $0 ? "healthy" : "unhealthy" + (i.lastHealthError.map { " (\($0))" } ?? "") } ?? "unknown"
                    let handle = i.target == .container ? (i.containerID.map { String($0.prefix(12)) } ?? "-") : "\(i.pid)"
                    rows.append(["  " + i.id, i.version] + (fleet ? [i.server ?? "-"] : []) + [handle, "\(i.port)", i.state.rawValue, health, "\(i.inflight ?? 0)" + ((i.tunnels ?? 0) > 0 ? " +\(i.tunnels!) ws" : ""), "\(i.restarts)"])
                }
                // Colour after padding, so escape sequences do not skew the columns.
                for row in Format.table(rows).split(separator: "\n", omittingEmptySubsequences: false) {
                    var text = String(row)
                    if style == .color {
                        text = text.replacingOccurrences(of: " unhealthy", with: " " + paint("unhealthy", .red, style))
                            .replacingOccurrences(of: " healthy", with: " " + paint("healthy", .green, style))
                            .replacingOccurrences(of: " crashed", with: " " + paint("crashed", .red, style))
                    }
                    line(text)
                }
            }
        }
        return out
    }

    /// `T+30m passed`, `T+2h due 14:05:00`.
    static func verificationCell(_ c: VerificationRecord, _ style: Style) -> String {
        switch c.status {
        case .pending: return "\(c.label) due \(Format.time(c.dueAt))"
        case .running: return "\(c.label) " + paint("running", .cyan, style)
        case .passed: return "\(c.label) " + paint("passed", .green, style)
        case .failed: return "\(c.label) " + paint("failed", .red, style)
        case .inconclusive: return "\(c.label) " + paint("inconclusive", .yellow, style)
        case .skipped: return "\(c.label) skipped"
        }
    }

    enum Color: String { case bold = "1", red = "31", green = "32", yellow = "33", cyan = "36" }

    static func paint(_ text: String, _ color: Color, _ style: Style) -> String {
        style == .color ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// A 20-cell weight bar (`[#####...............]`).
    static func bar(_ percent: Int, _ style: Style) -> String {
        let filled = max(0, min(20, (percent * 20 + 50) / 100))
        return "[" + paint(String(repeating: "#", count: filled), .cyan, style) + String(repeating: ".", count: 20 - filled) + "]"
    }
}

/// `slipway status --watch`: redraws in place on a terminal, prints changed snapshots as
/// plain lines otherwise. A server that stops answering is reported and retried.
struct StatusWatch {
    let interval: Duration
    let count: Int?
    let fetch: () async throws -> [ServiceStatus]

    func run() async throws {
        let terminal = isatty(STDOUT_FILENO) == 1
        let noColor = !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        let style: StatusView.Style = terminal && !noColor ? .color : .plain
        var last: String?
        var refreshes = 0
        while !Task.isCancelled {
            let body: String
            do {
                body = StatusView.render(try await fetch(), style: style)
            } catch let failure as APIClient.Failure {
                body = "error: \(failure.message) (retrying every \(DurationText.format(interval)))\n"
            }
            let stamp = Format.time(Date().timeIntervalSince1970)
            if terminal {
                // Home, each line cleared to its end, then the rest of the screen: no flicker.
                var frame = "\u{1B}[H" + StatusView.paint("slipway status --watch  \(stamp)  (Ctrl-C to stop)", .bold, style) + "\u{1B}[K\n\u{1B}[K\n"
                frame += body.replacingOccurrences(of: "\n", with: "\u{1B}[K\n") + "\u{1B}[J"
                if last == nil { frame = "\u{1B}[2J" + frame }
                write(frame)
                last = body
            } else if body != last {
                write("--- \(stamp)\n" + body)
                last = body
            }
            refreshes += 1
            if let count, refreshes >= count { break }
            try await Task.sleep(for: interval)
        }
    }

    func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
