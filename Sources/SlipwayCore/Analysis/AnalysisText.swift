import Foundation

/// How analysis evidence reads in sentences: `19.8 %`, `612 ms`, `30 s`, `p=0.0003`.
enum AnalysisText {
    /// `value` with at most `decimals` decimals, trailing zeros dropped.
    static func number(_ value: Double, decimals: Int) -> String {
        var text = String(format: "%.\(decimals)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    /// A fraction as a percentage: `19.8 %`, `5 %`, `0.04 %`.
    static func percent(_ fraction: Double, decimals: Int = 1) -> String {
        let pct = fraction * 100
        if pct != 0, abs(pct) < 0.1, decimals <= 1 { return String(format: "%.2g %%", pct) }
        return number(pct, decimals: decimals) + " %"
    }

    /// Milliseconds with precision that suits their size: `612 ms`, `12.5 ms`, `0.25 ms`.
    static func milliseconds(_ ms: Double, extra: Int = 0) -> String {
        let decimals = ms >= 100 ? 0 : ms >= 10 ? 1 : ms >= 1 ? 2 : 3
        return number(ms, decimals: decimals + extra) + " ms"
    }

    /// A plain number with at most `digits` significant digits: `0.3125`, `12`, `1.5e+06`, `+Inf`.
    static func significant(_ value: Double, digits: Int) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        let text = String(format: "%.\(digits)g", value)
        return text == "-0" ? "0" : text
    }

    static func seconds(_ s: Double) -> String { number(s, decimals: 1) + " s" }

    static func pValue(_ p: Double) -> String { String(format: "%.2g", p) }

    static func effect(_ e: Double) -> String { String(format: "%.2f", e) }

    static func statistic(_ u: Double) -> String {
        u == u.rounded() ? String(format: "%.0f", u) : String(format: "%.1f", u)
    }

    /// A value of `metric` in its unit, with `extra` more decimals than usual.
    static func value(_ v: Double, of metric: AnalysisMetric, extra: Int = 0) -> String {
        switch metric {
        case .errorRate: percent(v, decimals: 1 + extra)
        case .latencyP50, .latencyP95, .latencyP99: milliseconds(v, extra: extra)
        case .requestRate: number(v, decimals: 1 + extra) + " req/s"
        }
    }

    /// A value and a limit that read differently whenever they differ (`5.04 %` vs `5 %`).
    static func distinct(_ v: Double, _ limit: Double, of metric: AnalysisMetric) -> (String, String) {
        for extra in 0..<4 {
            let (a, b) = (value(v, of: metric, extra: extra), value(limit, of: metric, extra: extra))
            if a != b || v == limit { return (a, value(limit, of: metric)) }
        }
        return (value(v, of: metric, extra: 4), value(limit, of: metric))
    }

    static func name(_ metric: AnalysisMetric) -> String {
        switch metric {
        case .errorRate: "error rate"
        case .latencyP50: "p50 latency"
        case .latencyP95: "p95 latency"
        case .latencyP99: "p99 latency"
        case .requestRate: "request rate"
        }
    }

    static func requests(_ n: UInt64) -> String { n == 1 ? "1 request" : "\(n) requests" }
}
