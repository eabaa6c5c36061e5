import Foundation

/// `{{service}}`, `{{version}}`, `{{stable}}` and `{{window}}` in provider checks' URLs,
/// queries and command lines.
public enum ProviderTemplate {
    /// Every placeholder, in the order the docs list them.
    public static let placeholders = ["service", "version", "stable", "window"]

    /// A placeholder that does not exist, or a `{{` never closed.
    public enum Problem: Sendable, Equatable {
        case unknown(String)
        case unclosed

        public var message: String {
            let known = ProviderTemplate.placeholders.map { "{{\($0)}}" }.joined(separator: ", ")
            switch self {
            case .unknown(let name): return "unknown placeholder `{{\(name)}}`; the known placeholders are \(known)"
            case .unclosed: return "has `{{` without a closing `}}`; the known placeholders are \(known)"
            }
        }
    }

    /// The names between `{{` and `}}` as written; nil for a `{{` that is never closed.
    /// Also checks `run` arguments in slipway.yml (`{{port}}`, `{{version}}`).
    public static func scan(_ text: String) -> [String?] {
        var names: [String?] = []
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            let after = rest[open.upperBound...]
            guard let close = after.range(of: "}}") else {
                names.append(nil)
                break
            }
            names.append(String(after[..<close.lowerBound]))
            rest = after[close.upperBound...]
        }
        return names
    }

    public static func problems(in text: String) -> [Problem] {
        scan(text).compactMap { name in
            guard let name else { return .unclosed }
            return placeholders.contains(name) ? nil : .unknown(name)
        }
    }

    /// How a filled-in value is written into the text.
    public enum Escape: Sendable {
        /// As it is (PromQL, command arguments).
        case none
        /// Percent-encoded so it stays one path segment or query value of a URL.
        case urlComponent
        /// Percent-encoded for a query string value (`+`, `&`, `=` and `#` too).
        case queryValue

        public func apply(_ value: String) -> String {
            switch self {
            case .none:
                return value
            case .urlComponent, .queryValue:
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-._~")
                if self == .urlComponent { allowed.insert(charactersIn: ":@") }
                // alphanumerics includes non-ASCII letters; keep only ASCII unescaped.
                return value.unicodeScalars.map { scalar -> String in
                    if scalar.isASCII, allowed.contains(scalar) { return String(scalar) }
                    return String(scalar).utf8.map { String(format: "%%%02X", $0) }.joined()
                }.joined()
            }
        }
    }

    /// `text` with every known placeholder replaced by its value (escaped); unknown
    /// placeholders stay as written (the config refuses them before this runs).
    public static func render(_ text: String, _ context: ProviderContext, escape: Escape = .none) -> String {
        var out = ""
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            let after = rest[open.upperBound...]
            guard let close = after.range(of: "}}") else { break }
            out += rest[..<open.lowerBound]
            let name = String(after[..<close.lowerBound])
            if let value = value(of: name, in: context) {
                out += escape.apply(value)
            } else {
                out += rest[open.lowerBound..<close.upperBound]
            }
            rest = after[close.upperBound...]
        }
        return out + rest
    }

    static func value(of name: String, in context: ProviderContext) -> String? {
        switch name {
        case "service": context.service
        case "version": context.version
        case "stable": context.stable
        case "window": context.window
        default: nil
        }
    }

    /// Why `url` (a template) is not an http(s) URL with a host, or nil when it is one.
    public static func urlProblem(_ url: String) -> String? {
        let sample = render(url, ProviderContext(service: "service", version: "version", stable: "stable", windowSeconds: 30), escape: .urlComponent)
        guard let components = URLComponents(string: sample), let scheme = components.scheme?.lowercased() else {
            return "\(quoted(url)) is not a URL; write it as http://HOST:PORT/PATH"
        }
        guard scheme == "http" || scheme == "https" else {
            return "\(quoted(url)) is not an http or https URL (the scheme is \(scheme))"
        }
        guard let host = components.host, !host.isEmpty else {
            return "\(quoted(url)) has no host; write it as http://HOST:PORT/PATH"
        }
        return nil
    }

    /// An argument as a shell would need it written: bare when plain, else in single quotes.
    public static func shellQuoted(_ argument: String) -> String {
        let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_./=:,+@%".unicodeScalars.contains(scalar))
        }
        return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
