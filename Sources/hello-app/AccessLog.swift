#if canImport(Glibc)
import Glibc
#endif

/// `ACCESS_LOG=1`: one JSON object per answered request on stdout, so the router's
/// `X-Request-Id` can be followed into the instance's log (`slipway logs`).
enum AccessLog {
    static func write(method: String, path: String, status: Int, requestID: String?, traceparent: String? = nil, version: String) {
        var seconds = timespec()
        clock_gettime(CLOCK_REALTIME, &seconds)
        let time = Double(seconds.tv_sec) + Double(seconds.tv_nsec) / 1e9
        var line = "{\"time\":\(time),\"method\":\(quoted(method)),\"path\":\(quoted(path)),\"status\":\(status)"
        line += ",\"request_id\":" + (requestID.map(quoted) ?? "null")
        if let traceparent { line += ",\"traceparent\":" + quoted(traceparent) }
        line += ",\"version\":\(quoted(version))}"
        Output.line(line)
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
