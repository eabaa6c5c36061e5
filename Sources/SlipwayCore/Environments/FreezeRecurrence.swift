import Foundation

/// A freeze that comes back every week or every day, in local wall-clock time of a time
/// zone: `fri 16:00-mon 08:00`, `sat-sun` (whole days), `22:00-06:00` (every night).
public struct FreezeRecurrence: Sendable, Equatable {
    /// Minutes from the start of the period (Monday 00:00 for a weekly span, 00:00 for a
    /// daily one) to the start and to the end (exclusive) of the freeze.
    public var startMinute: Int
    public var endMinute: Int
    /// Weekly (a period of 7 days) or daily.
    public var weekly: Bool
    /// The text as written, kept for messages and `config show`.
    public var text: String

    static let minutesPerDay = 24 * 60
    static let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    static let fullDays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    var periodMinutes: Int { weekly ? 7 * Self.minutesPerDay : Self.minutesPerDay }

    /// Reads `DAY HH:MM-DAY HH:MM`, `DAY-DAY` or `HH:MM-HH:MM`; the error says what is wrong.
    public static func parse(_ text: String) -> Result<FreezeRecurrence, FreezeRecurrenceError> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            return .failure(FreezeRecurrenceError("\"\(text)\" is not a recurring window: write START-END, e.g. \"fri 16:00-mon 08:00\", \"sat-sun\" or \"22:00-06:00\""))
        }
        var ends: [(day: Int?, minute: Int?)] = []
        for part in parts {
            let words = part.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            var day: Int?, minute: Int?
            for word in words {
                if let d = dayIndex(word), day == nil, minute == nil {
                    day = d
                } else if let m = minuteOfDay(word), minute == nil {
                    minute = m
                } else if dayIndex(word) == nil, minuteOfDay(word) == nil {
                    return .failure(FreezeRecurrenceError("\"\(word)\" in \"\(text)\" is neither a day (mon … sun) nor a time (HH:MM, 00:00–23:59)"))
                } else {
                    return .failure(FreezeRecurrenceError("\"\(part)\" in \"\(text)\" must be DAY, HH:MM or DAY HH:MM"))
                }
            }
            ends.append((day, minute))
        }
        let (start, end) = (ends[0], ends[1])
        guard (start.day == nil) == (end.day == nil) else {
            return .failure(FreezeRecurrenceError("\"\(text)\": give a day on both sides (\"fri 16:00-mon 08:00\") or on neither (\"22:00-06:00\", every day)"))
        }
        let recurrence: FreezeRecurrence
        if let startDay = start.day, let endDay = end.day {
            guard (start.minute == nil) == (end.minute == nil) else {
                return .failure(FreezeRecurrenceError("\"\(text)\": give a time on both sides (\"fri 16:00-mon 08:00\") or on neither (\"sat-sun\", whole days)"))
            }
            let startMinute = startDay * minutesPerDay + (start.minute ?? 0)
            // Whole days run to the end of the last day named.
            let endMinute = (end.minute == nil ? (endDay + 1) % 7 : endDay) * minutesPerDay + (end.minute ?? 0)
            recurrence = FreezeRecurrence(startMinute: startMinute, endMinute: endMinute, weekly: true, text: text)
        } else {
            guard let startMinute = start.minute, let endMinute = end.minute else {
                return .failure(FreezeRecurrenceError("\"\(text)\" needs times: \"22:00-06:00\""))
            }
            recurrence = FreezeRecurrence(startMinute: startMinute, endMinute: endMinute, weekly: false, text: text)
        }
        guard recurrence.startMinute != recurrence.endMinute else {
            return .failure(FreezeRecurrenceError("\"\(text)\" starts where it ends: a freeze that never lifts is not a window; use from/to for a fixed span"))
        }
        return .success(recurrence)
    }

    static func dayIndex(_ word: String) -> Int? {
        days.firstIndex(of: word) ?? fullDays.firstIndex(of: word)
    }

    static func minuteOfDay(_ word: String) -> Int? {
        let hm = word.split(separator: ":", omittingEmptySubsequences: false)
        guard hm.count == 2, hm[0].count <= 2, hm[1].count == 2,
              let h = Int(hm[0]), let m = Int(hm[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }

    /// Length of the freeze in minutes of wall-clock time (a whole week for `mon-sun`).
    var lengthMinutes: Int {
        let length = (endMinute - startMinute + periodMinutes) % periodMinutes
        return length == 0 ? periodMinutes : length
    }

    /// The occurrence that `time` falls in, as absolute times (seconds since 1970), or nil.
    /// Wall-clock times are read in `timeZone`, so a freeze from 16:00 starts at 16:00 local
    /// time in summer and in winter; across a daylight-saving change an occurrence is an hour
    /// longer or shorter in absolute time.
    public func occurrence(containing time: Double, in timeZone: TimeZone) -> (from: Double, to: Double)? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let date = Date(timeIntervalSince1970: time)
        let c = calendar.dateComponents([.weekday, .hour, .minute, .second, .nanosecond], from: date)
        guard let weekday = c.weekday, let hour = c.hour, let minute = c.minute else { return nil }
        // Calendar weekdays: 1 = Sunday … 7 = Saturday; ours: 0 = Monday … 6 = Sunday.
        let dayOfWeek = (weekday + 5) % 7
        let minuteNow = (weekly ? dayOfWeek * Self.minutesPerDay : 0) + hour * 60 + minute
        let sinceStart = (minuteNow - startMinute + periodMinutes) % periodMinutes
        guard sinceStart < lengthMinutes else { return nil }
        // Wall-clock start and end, counted from the local midnight of `time`'s day.
        let midnight = calendar.startOfDay(for: date)
        func wallClock(minutesFromMidnight: Int) -> Double {
            let days = Int((Double(minutesFromMidnight) / Double(Self.minutesPerDay)).rounded(.down))
            let rest = minutesFromMidnight - days * Self.minutesPerDay
            let day = calendar.date(byAdding: .day, value: days, to: midnight) ?? midnight
            let at = calendar.date(bySettingHour: rest / 60, minute: rest % 60, second: 0, of: day) ?? day
            return at.timeIntervalSince1970
        }
        let nowFromMidnight = hour * 60 + minute
        let start = nowFromMidnight - sinceStart
        return (wallClock(minutesFromMidnight: start), wallClock(minutesFromMidnight: start + lengthMinutes))
    }
}

public struct FreezeRecurrenceError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
