import Foundation

/// RFC 3339 times and plain dates (UTC midnight), as seconds since 1970.
public enum Timestamps {
    public static func parse(_ text: String) -> Double? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date.timeIntervalSince1970 }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date.timeIntervalSince1970 }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if text.count == 10, let date = day.date(from: text) { return date.timeIntervalSince1970 }
        return nil
    }

    public static func format(_ time: Double) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: time))
    }

    /// `20261123T050000Z`: UTC to the second, no separators (file names that sort by time).
    public static func compact(_ time: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        return formatter.string(from: Date(timeIntervalSince1970: time)).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
    }

    /// RFC 3339 in UTC with milliseconds (log lines).
    public static func format(_ time: Double, fractional: Bool) -> String {
        guard fractional else { return format(time) }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: time))
    }
}
