import SlipwayCore
import Yams

/// Provider checks in `analysis.NAME.checks`: `{provider: prometheus|http|command, …}`.
extension ServiceFields {
    /// Keys only provider checks take, and keys only built-in checks take.
    static let providerKeys = ["url", "query", "json_path", "run", "timeout"]
    static let builtInKeys = ["compare", "metric", "min_samples", "significance", "min_effect"]

    /// `prometheus`, `http` or `command`, with a did-you-mean for anything else.
    static var providerKind: ValueType<ProviderKind> {
        let names = ProviderKind.allCases.map(\.rawValue)
        return ValueType(schema: [("type", .string("string")), ("enum", .array(names.map { .string($0) }))], json: { .string($0.rawValue) }) { node, path, diagnostics in
            guard case .scalar(let scalar) = node, ScalarKind(node) == .string else {
                diagnostics.typeMismatch(expected: "one of \(names.joined(separator: ", "))", found: node, path)
                return nil
            }
            guard let kind = ProviderKind(rawValue: scalar.string) else {
                diagnostics.error(at: node, path, unknownKeyMessage(scalar.string, allowed: names, noun: "provider"))
                return nil
            }
            return kind
        }
    }

    /// Text whose `{{placeholders}}` must be ones providers fill in.
    static func providerTemplate(_ type: ValueType<String>) -> ValueType<String> {
        type.checked { text in
            switch ProviderTemplate.problems(in: text).first {
            case .unknown(let name)?:
                let suggestion = Suggestions.closest(to: name, in: ProviderTemplate.placeholders).map { "did you mean `{{\($0)}}`? " } ?? ""
                return "unknown placeholder `{{\(name)}}`; \(suggestion)the known placeholders are \(ProviderTemplate.placeholders.map { "{{\($0)}}" }.joined(separator: ", "))"
            case .unclosed?:
                return ProviderTemplate.Problem.unclosed.message
            case nil:
                return nil
            }
        }
    }

    /// The provider check a draft describes, or precise errors at the keys at fault.
    static func providerCheck(_ provider: ProviderKind, _ d: CheckDraft, node: Node, path: ConfigPath, diagnostics: Diagnostics) -> AnalysisCheck? {
        var failed = false
        func error(_ key: String, _ message: String, at index: Int? = nil) {
            var at = node[key] ?? node
            var location = path.key(key)
            if let index, case .sequence(let items)? = node[key], index < items.count {
                at = items[index]
                location = location.index(index)
            }
            diagnostics.error(at: at, location, message)
            failed = true
        }
        for key in builtInKeys where node[key] != nil {
            error(key, "`\(key)` belongs to built-in checks, not to a \(provider.rawValue) provider check")
        }
        let allowed: [String] = switch provider {
        case .prometheus: ["url", "query"]
        case .http: ["url", "json_path"]
        case .command: ["run"]
        }
        for key in ["url", "query", "json_path", "run"] where node[key] != nil && !allowed.contains(key) {
            error(key, "a \(provider.rawValue) check takes no `\(key)` (it takes \(allowed.map { "`\($0)`" }.joined(separator: " and ")))")
        }
        for key in allowed where key != "json_path" && node[key] == nil {
            let at = path.description.isEmpty ? "the check" : "`\(path)`"
            error(key, "\(at) lacks the required key `\(key)` for a \(provider.rawValue) check")
        }
        if d.max != nil, d.min != nil {
            error("min", "a provider check takes max or min, not both")
        }
        var bound: ThresholdBound?
        if let text = d.max ?? d.min {
            let key = d.max != nil ? "max" : "min"
            if let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite {
                bound = key == "max" ? .max(value) : .min(value)
            } else {
                error(key, "\(quoted(text)) is not a number; a provider check's \(key) is a plain number in the unit of the value it reads")
            }
        }
        guard !failed else { return nil }
        let source: ProviderSource = switch provider {
        case .prometheus: .prometheus(url: d.url ?? "", query: d.query ?? "")
        case .http: .http(url: d.url ?? "", jsonPath: d.jsonPath)
        case .command: .command(run: d.run ?? [])
        }
        let check = ProviderCheck(source, bound, window: d.window, timeout: d.timeout ?? AnalysisDefaults.providerTimeout)
        // Placeholders and json_path were checked as their keys were read; the rest here.
        for problem in check.problems where problem.kind == .other {
            error(problem.key, problem.message, at: problem.index)
        }
        return failed ? nil : .provider(check)
    }
}
