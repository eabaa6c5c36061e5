import Foundation

/// Any JSON value, for reading answers whose shape we do not own.
public indirect enum JSONAny: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONAny])
    case object([String: JSONAny])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONAny].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONAny].self))
        }
    }

    /// Parses `text`; nil when it is not JSON.
    public static func parse(_ text: String) -> JSONAny? {
        try? JSONDecoder().decode(JSONAny.self, from: Data(text.utf8))
    }

    /// `the string "ok"`, `an object`, … for error messages.
    public var described: String {
        switch self {
        case .null: "null"
        case .bool(let b): "the boolean \(b)"
        case .number(let n): "the number \(n)"
        case .string(let s): "the string \(ProviderTemplate.quoted(s.count > 40 ? String(s.prefix(40)) + "…" : s))"
        case .array(let a): "a list of \(a.count)"
        case .object: "an object"
        }
    }
}

/// A dotted path into a JSON answer: `data.ok_ratio`, `results.0.value` or `results[0].value`.
public enum JSONPath {
    public enum Segment: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    /// The path's segments; nil when it is malformed.
    public static func segments(_ path: String) -> [Segment]? {
        guard !path.isEmpty else { return nil }
        var segments: [Segment] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            // `name[0][1]`: a key (possibly empty before a bracket) then indices.
            let name = rest.prefix { $0 != "[" }
            rest = rest.dropFirst(name.count)
            if !name.isEmpty {
                if let n = Int(name), n >= 0, name.allSatisfy(\.isASCII) {
                    segments.append(.index(n))
                } else {
                    segments.append(.key(String(name)))
                }
            } else if rest.isEmpty {
                return nil
            }
            while !rest.isEmpty {
                guard rest.first == "[", let close = rest.firstIndex(of: "]"),
                      let n = Int(rest[rest.index(after: rest.startIndex)..<close]), n >= 0 else { return nil }
                segments.append(.index(n))
                rest = rest[rest.index(after: close)...]
            }
        }
        return segments
    }

    /// Why `path` cannot be used, or nil.
    public static func problem(_ path: String) -> String? {
        segments(path) == nil ? "\(ProviderTemplate.quoted(path)) is not a path such as data.ok_ratio or results[0].value" : nil
    }

    /// The number at `path` in `json` (the whole document when `path` is nil). A string
    /// holding a number (`"0.25"`, as Prometheus writes values) counts as that number.
    public static func number(at path: String?, in json: JSONAny) -> Result<Double, Failure> {
        var current = json
        var walked: [String] = []
        for segment in path.flatMap(segments) ?? [] {
            let here = walked.isEmpty ? "the answer" : "`\(walked.joined(separator: "."))`"
            switch (segment, current) {
            case (.key(let key), .object(let members)):
                guard let next = members[key] else {
                    let keys = members.keys.sorted().prefix(8).map { "`\($0)`" }.joined(separator: ", ")
                    return .failure(Failure(description: "\(here) has no key `\(key)`" + (keys.isEmpty ? " (it is empty)" : " (it has \(keys))")))
                }
                current = next
                walked.append(key)
            case (.index(let i), .array(let items)):
                guard i < items.count else {
                    return .failure(Failure(description: "\(here) has \(items.count) entries, so there is no entry \(i)"))
                }
                current = items[i]
                walked.append("\(i)")
            case (.key(let key), _):
                return .failure(Failure(description: "\(here) is \(current.described), not an object with key `\(key)`"))
            case (.index(let i), _):
                return .failure(Failure(description: "\(here) is \(current.described), not a list with entry \(i)"))
            }
        }
        let at = walked.isEmpty ? "the answer" : "`\(walked.joined(separator: "."))`"
        switch current {
        case .number(let n):
            return .success(n)
        case .string(let s):
            if let n = Double(s.trimmingCharacters(in: .whitespaces)) { return .success(n) }
            return .failure(Failure(description: "\(at) is \(current.described), not a number"))
        default:
            return .failure(Failure(description: "\(at) is \(current.described), not a number"))
        }
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }
}
