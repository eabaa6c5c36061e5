import Foundation
import SlipwayCore
import SlipwayTLS
import Yams

/// `notifications:` and `alerts:` in slipway.yml.
extension ServiceFields {
    static var notifications: ValueType<[NotificationSink]> {
        .list(of: sink.valueType)
    }

    static var sink: ObjectType<NotificationSink> {
        ObjectType(
            doc: "One place notifications go; `${NAME}` in url, secret, username and password is replaced when sending, from the service's secrets first, then the server's environment.",
            initial: NotificationSink(kind: .webhook, url: ""),
            fields: [
                Field("kind", .enumeration, \.kind, required: true,
                      doc: "webhook (signed JSON POST), slack (Slack-compatible incoming webhook), alertmanager (Alertmanager's v2 API; give the base URL) or email (SMTP)."),
                Field("url", sinkURL, \.url, required: true,
                      doc: "http:// or https:// URL; for email smtp://HOST[:PORT] (STARTTLS, port 587 by default) or smtps://HOST[:PORT] (TLS from the start, 465); or a `${NAME}` reference to one (a secret or a server environment variable)."),
                Field("secret", ValueType<String>.string.checked(referenceProblem), \.secret,
                      doc: "webhook: the HMAC-SHA256 key of X-Slipway-Signature; write it as `${NAME}` so it stays out of the config."),
                Field("events", .list(of: .enumeration, nonEmpty: true), \.events,
                      doc: "The events sent (default: all): started, step_completed, paused, awaiting_approval, promoted, succeeded, rolled_back, failed, instance_crashed, alert_firing, alert_resolved, verification_passed, verification_failed, verification_inconclusive."),
                Field("environments", .list(of: EnvironmentFields.name, nonEmpty: true), \.environments,
                      doc: "Only events of these environments (default: all, and services without environments)."),
                Field("from", emailAddress, \.from,
                      doc: "email: the sender's address (name@domain)."),
                Field("to", .list(of: emailAddress, nonEmpty: true), \.to,
                      doc: "email: the recipients' addresses."),
                Field("username", ValueType<String>.string.checked { $0.isEmpty ? "must not be empty" : referenceProblem($0) }, \.username,
                      doc: "email: the SMTP AUTH user name (PLAIN or LOGIN, only over TLS); may be a `${NAME}` reference."),
                Field("password", passwordReference, \.password,
                      doc: "email: the SMTP AUTH password, as a `${NAME}` reference to a secret or a server environment variable (never written in the config)."),
                Field("ca", filePath, \.ca,
                      doc: "email: a PEM file of CA certificates to trust besides the system's, relative to the config file's directory."),
                Field("tls", .enumeration, \.tls,
                      doc: "email over smtp://: starttls (the default; a server that does not offer it is refused) or none (plain text, for a relay on this machine; no username or password)."),
            ],
            check: { sink, scope in
                guard scope.decoded.contains("kind") else { return }
                if sink.secret != nil, sink.kind != .webhook {
                    scope.error(at: "secret", "only webhook sinks sign their requests; a \(sink.kind.rawValue) sink takes no secret (put its token in the url)")
                }
                let scheme = sink.url.hasPrefix("${") ? nil : URLComponents(string: sink.url.replacingOccurrences(of: #"\$\{[A-Za-z0-9_]*\}"#, with: "x", options: .regularExpression))?.scheme?.lowercased()
                guard sink.kind == .email else {
                    if scope.decoded.contains("url"), let scheme, scheme.hasPrefix("smtp") {
                        scope.error(at: "url", "a \(sink.kind.rawValue) sink posts to an http:// or https:// URL; \(scheme):// is for kind: email")
                    }
                    for key in ["from", "to", "username", "password", "ca", "tls"] where scope.isGiven(key) {
                        scope.error(at: key, "`\(key)` is for email sinks; a \(sink.kind.rawValue) sink takes no \(key)")
                    }
                    return
                }
                if scope.decoded.contains("url"), let scheme, !scheme.hasPrefix("smtp") {
                    scope.error(at: "url", "an email sink needs an smtp:// (STARTTLS) or smtps:// (TLS) URL, not \(scheme)://")
                }
                if scope.decoded.contains("url"), let problem = smtpURLProblem(sink.url) {
                    scope.error(at: "url", problem)
                }
                if !scope.isGiven("from") { scope.error(at: "from", "an email sink needs `from`, the sender's address") }
                if !scope.isGiven("to") { scope.error(at: "to", "an email sink needs `to`, the recipients' addresses") }
                if scope.isGiven("username") != scope.isGiven("password") {
                    scope.error(at: scope.isGiven("username") ? "username" : "password", "give both `username` and `password` (SMTP AUTH), or neither")
                }
                if sink.tls != nil, scheme == "smtps" {
                    scope.error(at: "tls", "an smtps:// server speaks TLS from the start; `tls` is only for smtp://")
                }
                if sink.tls == EmailTLS.none, scope.isGiven("username") || scope.isGiven("password") {
                    scope.error(at: "tls", "a password is never sent in plain text: with `username` and `password`, use STARTTLS (leave out `tls`) or smtps://")
                }
            }
        )
    }

    static var emailAddress: ValueType<String> {
        ValueType<String>.string.checked(EmailAddress.problem)
    }

    static var passwordReference: ValueType<String> {
        ValueType<String>.string.checked { text in
            if let problem = referenceProblem(text) { return problem }
            guard text.hasPrefix("${"), text.hasSuffix("}"), text.firstIndex(of: "}") == text.index(before: text.endIndex) else {
                return "write the password as a `${NAME}` reference to a secret (slipway secrets set SERVICE NAME) or an environment variable, so it stays out of the config and the state"
            }
            return nil
        }
    }

    /// smtp[s]://HOST[:PORT] and nothing else (the credentials have fields of their own).
    static func smtpURLProblem(_ url: String) -> String? {
        guard !url.hasPrefix("${") else { return nil }
        let probe = url.replacingOccurrences(of: #"\$\{[A-Za-z0-9_]*\}"#, with: "x", options: .regularExpression)
        guard let c = URLComponents(string: probe) else { return nil }
        if c.user != nil || c.password != nil {
            return "put the SMTP user and password in `username` and `password` (a `${NAME}` reference), not in the url"
        }
        if !(c.path.isEmpty || c.path == "/") || c.query != nil || c.fragment != nil {
            return "\(quoted(url)) has a path or query; an SMTP url is smtp://HOST[:PORT] or smtps://HOST[:PORT]"
        }
        return nil
    }

    static func referenceProblem(_ text: String) -> String? {
        if case .failure(let error) = SecretReference.names(in: text) { return error.message }
        return nil
    }

    static var sinkURL: ValueType<String> {
        ValueType<String>.string
            .schema(adding: [("pattern", .string("^(https?://|smtps?://|\\$\\{)"))])
            .checked { url in
                if let problem = referenceProblem(url) { return problem }
                if url.hasPrefix("${") { return nil }
                // References inside the URL stand for text the URL parser never sees.
                let probe = url.replacingOccurrences(of: #"\$\{[A-Za-z0-9_]*\}"#, with: "x", options: .regularExpression)
                guard let components = URLComponents(string: probe), let scheme = components.scheme?.lowercased(),
                      ["http", "https", "smtp", "smtps"].contains(scheme), let host = components.host, !host.isEmpty else {
                    return "\(quoted(url)) is not an http://, https://, smtp:// or smtps:// URL with a host (or a `${NAME}` reference to one)"
                }
                return nil
            }
    }

    // MARK: alerts

    static let alertNamePattern = "^[a-z][a-z0-9_-]{0,62}$"

    static var alerts: ValueType<[AlertRule]> {
        ValueType<[AlertRule]>.list(of: alertRule).checked { rules in
            var seen: Set<String> = []
            for rule in rules where !seen.insert(rule.name).inserted {
                return "two alerts are named \(quoted(rule.name)); alert names must be unique"
            }
            return nil
        }
    }

    struct AlertDraft {
        var name = ""
        var metric: AlertMetric = .errorRate
        var max: String?
        var forDuration: Duration = .zero
        var severity: AlertSeverity = .warning
        var window: Duration = AlertRule.defaultWindow
        var minSamples: Int = AlertRule.defaultMinSamples
    }

    static var alertRule: ValueType<AlertRule> {
        let draft = ObjectType<AlertDraft>(
            doc: "An alert rule on the router's live numbers for the service (all serving versions), checked about every second, also outside rollouts.",
            initial: AlertDraft(),
            fields: [
                Field("name", .string(pattern: alertNamePattern) { "\(quoted($0)) is not a valid alert name: lowercase letters, digits, '_' and '-', starting with a letter" }, \.name, required: true,
                      doc: "The alert's name (alertname in Alertmanager); unique within the service."),
                Field("metric", .enumeration, \.metric, required: true,
                      doc: "error_rate, latency_p50, latency_p95, latency_p99 (over `window`) or instance_down (instances of the stable release crashed or failing health checks)."),
                Field("max", .scalarText, \.max,
                      doc: "The limit: a fraction or `5%` for error_rate, milliseconds or `500ms` for latency. instance_down takes none."),
                Field("for", .duration(positive: false), \.forDuration,
                      doc: "How long the condition must hold before the alert fires (0s: at once)."),
                Field("severity", .enumeration, \.severity,
                      doc: "critical, warning or info."),
                Field("window", .duration(positive: true), \.window,
                      doc: "How far back the numbers reach."),
                Field("min_samples", .integer(in: 0...10_000_000), \.minSamples,
                      doc: "Fewer requests in the window count as no data, which does not fire the alert."),
            ]
        )
        let decodeDraft = draft.valueType.decode
        return ValueType<AlertRule>(schema: draft.schemaKeywords, nestedKeys: draft.nestedKeys, json: nil) { node, path, diagnostics -> AlertRule? in
            guard let d = decodeDraft(node, path, diagnostics) else { return nil }
            var rule = AlertRule(name: d.name, metric: d.metric, for: d.forDuration, severity: d.severity, window: d.window, minSamples: d.minSamples)
            let analysisMetric: AnalysisMetric? = switch d.metric {
            case .errorRate: .errorRate
            case .latencyP50: .latencyP50
            case .latencyP95: .latencyP95
            case .latencyP99: .latencyP99
            case .instanceDown: nil
            }
            guard let analysisMetric else {
                if d.max != nil {
                    diagnostics.error(at: node["max"] ?? node, path.key("max"), "instance_down takes no max: it fires when any instance of the stable release is down")
                    return nil
                }
                return rule
            }
            guard let text = d.max else {
                diagnostics.error(at: node, path.key("max"), "an alert on \(d.metric.rawValue) needs `max`")
                return nil
            }
            guard let limit = parseLimit(text, metric: analysisMetric) else {
                let unit = d.metric == .errorRate ? "a fraction from 0 to 1 or a percentage such as 5%" : "milliseconds or a duration such as 500ms"
                diagnostics.error(at: node["max"] ?? node, path.key("max"), "\(quoted(text)) is not a limit for \(d.metric.rawValue): use \(unit)")
                return nil
            }
            rule.max = limit
            return rule
        }
    }
}

/// An email sink's `ca:` file: resolved against the config file's directory and read, so
/// a missing or non-PEM file is an error at its line, not a failed delivery later.
enum EmailCAFileCheck {
    static func resolveAndCheck(_ spec: inout ServiceSpec, root: Node, baseDirectory: String?, diagnostics: Diagnostics) {
        for index in spec.notifications.indices {
            guard let ca = spec.notifications[index].ca else { continue }
            let path = baseDirectory.map { ConfigLoader.resolve(ca, against: $0) } ?? ca
            spec.notifications[index].ca = path
            do {
                _ = try TLSFiles.trustRoots(path)
            } catch {
                let node = root["notifications"]?[index]?["ca"] ?? root["notifications"] ?? root
                diagnostics.error(at: node, ConfigPath.root.key("notifications").index(index).key("ca"), error.description)
            }
        }
    }
}

/// A sink's `environments` must name environments of the service (a typo would silently
/// send nothing).
enum NotificationEnvironments {
    static func check(root: Node, environments: [(name: String, node: Node)], diagnostics: Diagnostics) {
        let names = environments.map(\.name)
        func check(_ list: Node?, _ path: ConfigPath) {
            guard case .sequence(let sinks)? = list else { return }
            for (i, sink) in sinks.enumerated() {
                guard case .sequence(let envs)? = sink["environments"] else { continue }
                for (j, env) in envs.enumerated() {
                    guard let name = env.scalar?.string, !names.contains(name) else { continue }
                    diagnostics.error(at: env, path.index(i).key("environments").index(j),
                                      unknownKeyMessage(name, allowed: names, noun: "environment"))
                }
            }
        }
        check(root["notifications"], ConfigPath.root.key("notifications"))
        for (name, node) in environments {
            check(node["notifications"], ConfigPath.root.key("environments").key(name).key("notifications"))
        }
    }
}
