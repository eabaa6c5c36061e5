import Foundation
import SlipwayCore

/// Text output helpers shared by the commands.
enum Format {
    static func time(_ seconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = TimeZone.current
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    /// `14:02:11`.
    static func clock(_ seconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        formatter.timeZone = TimeZone.current
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    /// `rollout 7 of web: canary deploy of v2 from v1, progressing at step 2/4 (pause 30s), canary 10 %`.
    static func rolloutLine(_ r: RolloutRecord) -> String {
        let how = r.canary != nil ? "canary " : r.rolling != nil ? "rolling " : ""
        var line = "rollout \(r.id) of \(r.service): \(how)\(r.kind.rawValue) of \(r.toVersion)" + (r.fromVersion.map { " from \($0)" } ?? "") + ", \(r.phase.rawValue)"
        if let c = r.canary, !r.phase.isTerminal {
            line += c.stepLabel.map { " at step \(c.step)/\(c.steps) (\($0))" } ?? " after the last step"
            line += ", canary \(c.weight) %"
            if let why = c.pauseReason { line += "; paused: \(why)" }
        } else if let rolling = r.rolling, !r.phase.isTerminal {
            line += ", \(rolling)"
        } else if let reason = r.reason, r.phase == .failed {
            line += ": \(reason)"
        }
        return line
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        return "\(Int(seconds) / 60)m\(Int(seconds) % 60)s"
    }

    static func outcome(_ r: RolloutRecord) -> String {
        let took = r.endedAt.map { " in \(duration($0 - r.startedAt))" } ?? ""
        switch r.phase {
        case .succeeded:
            return "rollout \(r.id) succeeded\(took): \(r.service) now serves \(r.toVersion)"
        case .failed:
            return "rollout \(r.id) failed\(took): \(r.reason ?? "no reason recorded")"
        default:
            return "rollout \(r.id) is \(r.phase.rawValue)"
        }
    }

    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
