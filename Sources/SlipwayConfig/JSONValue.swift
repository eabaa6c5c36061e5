import SlipwayCore

/// A JSON document with object keys kept in the order they were written, so the
/// generated schema reads top-down like the config it describes.
indirect enum JSONValue: Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        lhs.rendered(indent: nil) == rhs.rendered(indent: nil)
    }

    /// A duration as config text: `"10s"`.
    static func duration(_ d: Duration) -> JSONValue { .string(DurationText.format(d)) }

    /// Pretty JSON with two-space indentation; `indent: nil` gives one line.
    func rendered(indent: Int? = 0) -> String {
        var out = ""
        write(into: &out, indent: indent)
        return out
    }

    private func write(into out: inout String, indent: Int?) {
        let newline = { (level: Int) -> String in
            guard indent != nil else { return "" }
            return "\n" + String(repeating: "  ", count: level)
        }
        let level = indent ?? 0
        let next = indent.map { $0 + 1 }
        switch self {
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                out += i == 0 ? "" : ","
                out += newline(level + 1)
                out += JSONValue.escape(key) + (indent == nil ? ":" : ": ")
                value.write(into: &out, indent: next)
            }
            out += newline(level) + "}"
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                out += i == 0 ? "" : ","
                out += newline(level + 1)
                item.write(into: &out, indent: next)
            }
            out += newline(level) + "]"
        case .string(let s): out += JSONValue.escape(s)
        case .integer(let i): out += String(i)
        case .number(let d): out += d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    private static func escape(_ s: String) -> String {
        JSONText.quote(s)
    }
}
