import Foundation

/// Durations as people write them in config and on the command line: `500ms`, `2s`,
/// `1m30s`, `10m`, `1h`. A bare number is seconds.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return nil }
        if let seconds = Double(s) { return fromSeconds(seconds) }
        var total: Int64 = 0 // milliseconds
        var number = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let value = Double(number), value >= 0 else { return false }
            let factor: Double
            switch unit {
            case "ms": factor = 1
            case "s": factor = 1000
            case "m": factor = 60_000
            case "h": factor = 3_600_000
            case "d": factor = 86_400_000
            default: return false
            }
            guard let part = milliseconds(value * factor) else { return false }
            total += part
            guard total <= maximumMilliseconds else { return false }
            number = ""; unit = ""; sawAny = true
            return true
        }
        for ch in s {
            if ch.isNumber || ch == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(ch)
            } else if ch.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(ch)
            } else {
                return nil
            }
        }
        guard !number.isEmpty, !unit.isEmpty, flush(), sawAny else { return nil }
        return .milliseconds(total)
    }

    /// The longest duration any field takes: 100 years. Longer ones (and negative or
    /// non-finite numbers) are refused rather than wrapped or trapped on.
    public static let maximumMilliseconds: Int64 = 100 * 366 * 86_400_000

    /// A number of seconds (config or JSON `2.5`) as a duration, or nil when it is negative,
    /// not finite or beyond `maximumMilliseconds`.
    public static func fromSeconds(_ seconds: Double) -> Duration? {
        milliseconds(seconds * 1000).map { .milliseconds($0) }
    }

    static func milliseconds(_ value: Double) -> Int64? {
        guard value.isFinite, value >= 0 else { return nil }
        let rounded = value.rounded()
        guard rounded <= Double(maximumMilliseconds) else { return nil }
        return Int64(rounded)
    }

    /// The shortest exact text for a duration: `10m`, `1s`, `1500ms`.
    public static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms == 0 { return "0s" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension Duration {
    /// Whole milliseconds, rounded toward zero.
    public var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }

    public var seconds: Double { Double(milliseconds) / 1000 }
}

