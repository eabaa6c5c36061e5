import SlipwayCore
import Yams

/// `strategy: { canary: … }`, `analysis:` and `pin:` in slipway.yml.
extension ServiceFields {
    static var canary: ObjectType<CanarySpec> {
        ObjectType(
            doc: "Canary settings: the steps, the background analysis, sticky assignment.",
            initial: CanarySpec(),
            fields: [
                Field("steps", .list(of: canaryStep, nonEmpty: true), \.steps,
                      doc: "The stages, in order: {weight: N} sends N % of requests to the canary, {pause: 30s} holds (and completes only once analysis passed), {pause: {}} waits for `slipway promote`, {analysis: NAME} runs an analysis until it passes."),
                Field("analysis", ValueType<String>.string, \.analysis,
                      doc: "The analysis run in the background across every step and before the final promotion (default: the service's `default` analysis, else the built-in: error rate above 5 % or p95 above 500 ms fails)."),
                Field("sticky", .boolean, \.sticky,
                      doc: "Keep each client on the version it was first sent to for the whole rollout (a signed cookie)."),
                Field("max_restarts", .integer(in: 1...1000), \.maxRestarts,
                      doc: "Canary instances that crash this many times during the rollout fail it (crash loop)."),
                Field("keep_previous", .duration(positive: false), \.timing.keepPrevious,
                      doc: "How long the previous release keeps running (warm, for instant rollback) after promotion."),
                Field("deploy_timeout", .duration(positive: true), \.timing.deployTimeout,
                      doc: "How long canary instances may take to become healthy before the rollout fails."),
                Field("drain_timeout", .duration(positive: true), \.timing.drainTimeout,
                      doc: "How long the previous release may take to finish in-flight requests after promotion."),
            ],
            check: { canary, scope in
                guard let stepsNode = scope.entries["steps"]?.value, case .sequence(let nodes) = stepsNode else { return }
                for (index, message) in canary.problems(policies: [:]) where !message.contains("unknown analysis") {
                    if let index, index < nodes.count {
                        scope.diagnostics.error(at: nodes[index], scope.path.key("steps").index(index), message)
                    } else {
                        scope.error(at: "steps", message)
                    }
                }
            }
        )
    }

    /// `{weight: 10}`, `{pause: 30s}`, `{pause: {}}`, `{analysis: NAME}`.
    static var canaryStep: ValueType<CanaryStep> {
        let kinds = ["weight", "pause", "analysis"]
        let schema: [(String, JSONValue)] = [("oneOf", .array([
            .object([("type", .string("object")), ("properties", .object([("weight", .object([("type", .string("integer")), ("minimum", .integer(0)), ("maximum", .integer(100))]))])), ("required", .array([.string("weight")])), ("additionalProperties", .bool(false))]),
            .object([("type", .string("object")), ("properties", .object([("pause", .object([("oneOf", .array([.object(ValueType<Duration>.duration(positive: true).schema), .object([("type", .string("object")), ("maxProperties", .integer(0))])]))]))])), ("required", .array([.string("pause")])), ("additionalProperties", .bool(false))]),
            .object([("type", .string("object")), ("properties", .object([("analysis", .object([("type", .string("string"))]))])), ("required", .array([.string("analysis")])), ("additionalProperties", .bool(false))]),
        ]))]
        return ValueType(schema: schema) { node, path, diagnostics in
            guard case .mapping(let mapping) = node, mapping.count == 1, let (keyNode, value) = mapping.first,
                  let key = keyNode.scalar?.string else {
                diagnostics.typeMismatch(expected: "a step with one key: {weight: 10}, {pause: 30s}, {pause: {}} or {analysis: NAME}", found: node, path)
                return nil
            }
            let at = path.key(key)
            switch key {
            case "weight":
                guard ScalarKind(value) == .integer, let w = value.int else {
                    diagnostics.typeMismatch(expected: "a whole percentage from 0 to 100", found: value, at)
                    return nil
                }
                guard (0...100).contains(w) else {
                    diagnostics.error(at: value, at, "weight must be between 0 and 100 (got \(w))")
                    return nil
                }
                return .weight(w)
            case "pause":
                if case .mapping(let m) = value {
                    guard m.isEmpty else {
                        diagnostics.error(at: value, at, "pause takes a duration (30s) or {} (until `slipway promote`), not a mapping with keys")
                        return nil
                    }
                    return .pause(nil)
                }
                return ValueType<Duration>.duration(positive: true).decode(value, at, diagnostics).map { .pause($0) }
            case "analysis":
                return ValueType<String>.string.decode(value, at, diagnostics).map { .analysis($0) }
            default:
                diagnostics.error(at: keyNode, at, unknownKeyMessage(key, allowed: kinds, noun: "step"))
                return nil
            }
        }
    }

    // MARK: analysis

    static let analysisNamePattern = "^[a-z][a-z0-9_-]{0,62}$"

    static var analyses: ValueType<[String: AnalysisPolicy]> {
        .map(keyPattern: analysisNamePattern, keyExplain: { "`\($0)` is not a valid analysis name (lowercase letters, digits, '_' and '-', starting with a letter)" }, values: analysisPolicy.valueType)
    }

    static var analysisPolicy: ObjectType<AnalysisPolicy> {
        ObjectType(
            doc: "A named analysis: checks judged every interval.",
            initial: AnalysisPolicy(),
            fields: [
                Field("interval", .duration(positive: true), \.interval, doc: "How often the checks are judged."),
                Field("checks", .list(of: analysisCheck, nonEmpty: true), \.checks,
                      doc: "Threshold checks {metric, max|min, window, min_samples} and baseline comparisons {compare: baseline, metric: latency|error_rate, significance, min_effect, window, min_samples}; default: error_rate max 5 % and latency_p95 max 500ms."),
                Field("failure_limit", .integer(in: 1...1000), \.failureLimit, doc: "Failed runs in a row that roll the canary back (1: the first failure)."),
                Field("inconclusive_limit", .integer(in: 1...10000), \.inconclusiveLimit, doc: "Inconclusive runs (too little data) in a row before on_inconclusive applies."),
                Field("on_inconclusive", .enumeration, \.onInconclusive, doc: "pause (hold until someone promotes or aborts) or fail (roll back)."),
            ]
        )
    }

    /// A check as written; turned into a threshold, a baseline comparison or a provider check.
    struct CheckDraft {
        var compare: String?
        var metric: String?
        var max: String?
        var min: String?
        var window: Duration = AnalysisDefaults.window
        var minSamples: Int?
        var significance: Double?
        var minEffect: Double?
        var provider: ProviderKind?
        var url: String?
        var query: String?
        var jsonPath: String?
        var run: [String]?
        var timeout: Duration?
    }

    static var analysisCheck: ValueType<AnalysisCheck> {
        let metrics = AnalysisMetric.allCases.map(\.rawValue) + BaselineMetric.allCases.map(\.rawValue)
        let draft = ObjectType<CheckDraft>(
            doc: "One check.",
            initial: CheckDraft(),
            fields: [
                Field("compare", ValueType<String>.string.checked { $0 == "baseline" ? nil : "compare must be `baseline` (got \(quoted($0)))" }, \.compare,
                      doc: "`baseline`: compare the canary with the stable release over the same window."),
                Field("metric", ValueType<String>.string, \.metric,
                      doc: "Thresholds: error_rate, latency_p50, latency_p95, latency_p99, request_rate. Baseline: latency or error_rate. Required unless the check names a provider."),
                Field("max", .scalarText, \.max, doc: "Upper limit: a fraction or `5%` for error_rate, milliseconds or `500ms` for latency, requests per second for request_rate; for a provider, a plain number in the unit of its value."),
                Field("min", .scalarText, \.min, doc: "Lower limit, same units as max."),
                Field("window", .duration(positive: true), \.window, doc: "How far back the numbers reach; for a provider, what {{window}} stands for (never reaching back before the rollout began)."),
                Field("min_samples", .integer(in: 0...10_000_000), \.minSamples, doc: "Fewer requests than this (in each group, for baseline) make the check inconclusive."),
                Field("significance", .number(0, 1, open: true), \.significance, doc: "Baseline: one-sided p-value below which a difference counts (default 0.01)."),
                Field("min_effect", .number(0, 1, open: false), \.minEffect, doc: "Baseline: smallest difference that fails the canary (latency: P(canary slower) − 0.5, default 0.1; error_rate: absolute rise, default 0.01)."),
                Field("provider", providerKind, \.provider,
                      doc: "Ask something outside Slipway: `prometheus` (a PromQL instant query, held against max or min), `http` (a URL: its status, or a number in its JSON with json_path) or `command` (its exit status, or a number it prints with max or min)."),
                Field("url", providerTemplate(.string), \.url,
                      doc: "prometheus: the server's base URL (http://127.0.0.1:9090). http: the URL to GET. {{service}}, {{version}} (the canary), {{stable}} and {{window}} are filled in."),
                Field("query", providerTemplate(.string), \.query,
                      doc: "prometheus: the PromQL instant query; it must return one series or a scalar. {{service}}, {{version}}, {{stable}} and {{window}} (e.g. 30s) are filled in."),
                Field("json_path", ValueType<String>.string.checked { JSONPath.problem($0) }, \.jsonPath,
                      doc: "http: the dotted path of a number in the JSON answer (data.ok_ratio, results[0].value), held against max or min. Without it the status decides: 2xx passes."),
                Field("run", .list(of: providerTemplate(.scalarText), nonEmpty: true), \.run,
                      doc: "command: the argv, run in the service's working_dir; placeholders as in query. Exit status 0 passes; with max or min, the number printed last on stdout is judged."),
                Field("timeout", .duration(positive: true), \.timeout,
                      doc: "Providers: how long the answer may take (a command is killed after it); the check is inconclusive after it (default 5s)."),
            ]
        )
        let decodeDraft = draft.valueType.decode
        // Editors see the same rule the parser applies: a check names a metric or a provider.
        let schema = draft.schemaKeywords + [("anyOf", JSONValue.array([
            .object([("required", .array([.string("metric")]))]),
            .object([("required", .array([.string("provider")]))]),
        ]))]
        return ValueType<AnalysisCheck>(schema: schema, nestedKeys: draft.nestedKeys, json: nil) { node, path, diagnostics -> AnalysisCheck? in
            guard let d = decodeDraft(node, path, diagnostics) else { return nil }
            func fail(_ key: String, _ message: String) -> AnalysisCheck? {
                let at = node[key] ?? node
                diagnostics.error(at: at, path.key(key), message)
                return nil
            }
            if let provider = d.provider {
                return providerCheck(provider, d, node: node, path: path, diagnostics: diagnostics)
            }
            if let key = providerKeys.first(where: { node[$0] != nil }) {
                return fail(key, "`\(key)` belongs to provider checks; add `provider: prometheus`, `provider: http` or `provider: command`")
            }
            guard let metricName = d.metric else {
                let at = path.description.isEmpty ? "the check" : "`\(path)`"
                return fail("metric", "\(at) lacks the required key `metric` (or `provider` for a check outside Slipway)")
            }
            if d.compare != nil {
                guard let metric = BaselineMetric(rawValue: metricName) else {
                    return fail("metric", "a baseline comparison compares `latency` or `error_rate` (got \(quoted(metricName)))")
                }
                if d.max != nil || d.min != nil { return fail(d.max != nil ? "max" : "min", "a baseline comparison takes no max or min; it fails when the canary is significantly worse than the stable release") }
                if metric == .latency, let e = d.minEffect, e > 0.5 { return fail("min_effect", "min_effect for latency is P(canary slower) − 0.5, at most 0.5 (got \(e))") }
                if let n = d.minSamples, n < 1 { return fail("min_samples", "must be at least 1 (got \(n))") }
                return .baseline(BaselineComparison(metric: metric, window: d.window, significance: d.significance ?? AnalysisDefaults.significance,
                                                    minEffect: d.minEffect, minSamples: d.minSamples ?? AnalysisDefaults.baselineMinSamples))
            }
            guard let metric = AnalysisMetric(rawValue: metricName) else {
                return fail("metric", unknownKeyMessage(metricName, allowed: metrics, noun: "metric"))
            }
            if d.significance != nil || d.minEffect != nil { return fail(d.significance != nil ? "significance" : "min_effect", "significance and min_effect belong to `compare: baseline` checks") }
            guard (d.max == nil) != (d.min == nil) else {
                return fail(d.max != nil ? "min" : "metric", "a threshold check needs exactly one of max or min")
            }
            let key = d.max != nil ? "max" : "min"
            guard let limit = parseLimit(d.max ?? d.min!, metric: metric) else {
                let unit = switch metric {
                case .errorRate: "a fraction from 0 to 1 or a percentage such as 5%"
                case .latencyP50, .latencyP95, .latencyP99: "milliseconds or a duration such as 500ms"
                case .requestRate: "requests per second"
                }
                return fail(key, "\(quoted(d.max ?? d.min!)) is not a limit for \(metric.rawValue): use \(unit)")
            }
            return .threshold(ThresholdCheck(metric: metric, key == "max" ? .max(limit) : .min(limit), window: d.window, minSamples: d.minSamples))
        }
    }

    static func parseLimit(_ text: String, metric: AnalysisMetric) -> Double? {
        let text = text.trimmingCharacters(in: .whitespaces)
        var value: Double?
        if let number = Double(text) {
            value = number
        } else if metric.latencyQuantile != nil, let d = DurationText.parse(text) {
            value = Double(d.milliseconds)
        } else if metric == .errorRate, text.hasSuffix("%"), let p = Double(text.dropLast().trimmingCharacters(in: .whitespaces)) {
            value = p / 100
        }
        guard let value, value.isFinite, value >= 0, metric != .errorRate || value <= 1 else { return nil }
        return value
    }

    // MARK: pin

    static var pin: ObjectType<PinRule> {
        ObjectType(
            doc: "Lets allowed clients reach a named version with a request header, whatever its weight.",
            initial: PinRule(),
            fields: [
                Field("header", ValueType<String>.string(pattern: "^[A-Za-z0-9-]{1,64}$") { "\(quoted($0)) is not a valid header name (letters, digits and '-')" }, \.header,
                      doc: "The request header naming the version."),
                Field("allow", .list(of: cidr), \.allow,
                      doc: "Client networks (CIDR) whose requests may pin a version; an empty list turns pinning off."),
            ]
        )
    }

    static var cidr: ValueType<String> {
        ValueType<String>.string.checked { text in
            CIDRText.isValid(text) ? nil : "\(quoted(text)) is not a network in CIDR notation (such as 127.0.0.0/8, 10.0.0.0/8 or ::1/128)"
        }
    }

    /// Cross-field checks: every analysis a canary names exists.
    static func checkReferences(_ spec: inout ServiceSpec, _ scope: ObjectScope) {
        guard scope.decoded.contains("strategy") else { return }
        if case .blueGreen(let bg) = spec.strategy {
            let node = scope.entries["strategy"]?.value["blue-green"]
            let path = scope.path.key("strategy").key("blue-green")
            for (key, name) in [("preview_analysis", bg.previewAnalysis), ("watch_analysis", bg.watchAnalysis)] {
                guard let name, name != "default", spec.analysis[name] == nil else { continue }
                let defined = spec.analysis.isEmpty ? "the file defines none under `analysis:`" : "defined: \(spec.analysis.keys.sorted().joined(separator: ", "))"
                scope.diagnostics.error(at: node?[key] ?? node ?? scope.node, path.key(key), "unknown analysis `\(name)`; \(defined)")
            }
            return
        }
        if case .rolling(let rolling) = spec.strategy {
            guard let name = rolling.analysis, name != "default", spec.analysis[name] == nil else { return }
            let node = scope.entries["strategy"]?.value["rolling"]
            let defined = spec.analysis.isEmpty ? "the file defines none under `analysis:`" : "defined: \(spec.analysis.keys.sorted().joined(separator: ", "))"
            scope.diagnostics.error(at: node?["analysis"] ?? node ?? scope.node, scope.path.key("strategy").key("rolling").key("analysis"), "unknown analysis `\(name)`; \(defined)")
            return
        }
        guard let canary = spec.strategy.canary else { return }
        let strategyNode = scope.entries["strategy"]?.value
        let canaryNode = strategyNode?["canary"]
        let canaryPath = scope.path.key("strategy").key("canary")
        for (index, message) in canary.problems(policies: spec.analysis) where message.contains("unknown analysis") {
            if let index, case .sequence(let steps)? = canaryNode?["steps"], index < steps.count {
                scope.diagnostics.error(at: steps[index]["analysis"] ?? steps[index], canaryPath.key("steps").index(index).key("analysis"), message)
            } else {
                scope.diagnostics.error(at: canaryNode?["analysis"] ?? canaryNode ?? scope.node, canaryPath.key("analysis"), message)
            }
        }
    }
}

/// `ADDRESS/BITS` for IPv4 and IPv6.
enum CIDRText {
    static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]) else { return false }
        let address = String(parts[0])
        if address.contains(":") {
            return (0...128).contains(bits) && isIPv6(address)
        }
        let octets = address.split(separator: ".", omittingEmptySubsequences: false)
        return (0...32).contains(bits) && octets.count == 4 && octets.allSatisfy { o in
            !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isASCII) && Int(o).map { (0...255).contains($0) } == true
        }
    }

    static func isIPv6(_ text: String) -> Bool {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        let groups = halves.flatMap { $0.isEmpty ? [] : $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        guard groups.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return false }
        return halves.count == 2 ? groups.count <= 7 : groups.count == 8
    }
}
