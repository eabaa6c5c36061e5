import Foundation
import SlipwayCore
import Yams

/// One entry of `environments:` as written: the environment's own settings and the
/// service settings it overrides (kept as YAML nodes; `EnvironmentMerge` merges them into
/// the service's and the service table decodes the result, so errors keep their lines).
struct EnvironmentEntry {
    var policy: EnvironmentPolicy
    var overrides: [String: Node] = [:]
}

enum EnvironmentFields {
    static let namePattern = "^[a-z][a-z0-9-]{0,30}$"
    /// Service settings an environment may override. `service`, `run`, `image` and
    /// `artifact` stay: a release is the same build in every environment.
    static let overridable = ["replicas", "strategy", "analysis", "env", "listen", "hosts", "health", "upstream_timeout", "websocket_drain", "max_request_body",
                              "pin", "tls", "headers", "rate_limit", "restrict", "working_dir",
                              "notifications", "alerts", "hooks", "backup", "verify"] + ServiceFields.containerKeys + ServiceFields.serverKeys

    /// `environments:` in the service table. It checks every environment (so errors name
    /// `environments.NAME.KEY`) and leaves the unit's `environment` nil: the loader builds
    /// one unit per environment from the same nodes.
    static var environments: ValueType<EnvironmentPolicy?> {
        let entry = self.entry(name: "NAME")
        let schema: [(String, JSONValue)] = [
            ("type", .string("object")),
            ("propertyNames", .object([("pattern", .string(namePattern))])),
            ("additionalProperties", .object(entry.schemaKeywords)),
            ("minProperties", .integer(1)),
        ]
        return ValueType(schema: schema) { node, path, diagnostics in
            guard decodeAll(node, path, diagnostics) != nil else { return nil }
            return .some(nil)
        }
    }

    /// Every environment in the order written, or nil after reporting the problems.
    static func decodeAll(_ node: Node, _ path: ConfigPath, _ diagnostics: Diagnostics) -> [(name: String, entry: EnvironmentEntry, node: Node)]? {
        guard case .mapping(let mapping) = node else {
            diagnostics.typeMismatch(expected: "a mapping of environment names (dev, staging, production, …) in promotion order", found: node, path)
            return nil
        }
        if mapping.isEmpty {
            diagnostics.error(at: node, path, "lists no environment; remove `environments:` or name at least one")
            return nil
        }
        var result: [(name: String, entry: EnvironmentEntry, node: Node)] = []
        var failed = false
        for (order, (keyNode, valueNode)) in mapping.enumerated() {
            guard case .scalar(let scalar) = keyNode, ScalarKind(keyNode) == .string, matches(scalar.string, namePattern) else {
                diagnostics.error(at: keyNode, path, "\(quoted(keyNode.scalar?.string ?? keyNode.describedForUser)) is not a valid environment name: use lowercase letters, digits and '-', start with a letter, at most 31 characters")
                failed = true
                continue
            }
            let name = scalar.string
            let envNode: Node = valueNode.isNull ? .mapping(Node.Mapping([], .implicit, .any, valueNode.mark)) : valueNode
            guard var entry = self.entry(name: name).decode(envNode, path.key(name), diagnostics) else {
                failed = true
                continue
            }
            entry.policy.order = order
            result.append((name, entry, envNode))
        }
        if failed { return nil }
        // promote_from: a known environment, not itself, no cycle.
        let names = result.map(\.name)
        for (name, entry, envNode) in result {
            guard let from = entry.policy.promoteFrom else { continue }
            let at = envNode["promote_from"] ?? envNode
            let fromPath = path.key(name).key("promote_from")
            guard names.contains(from) else {
                diagnostics.error(at: at, fromPath, "promote_from names \(quoted(from)), which is not an environment of this service; environments: \(names.joined(separator: ", "))")
                failed = true
                continue
            }
            var chain = [name]
            var next: String? = from
            while let current = next {
                if chain.contains(current) {
                    diagnostics.error(at: at, fromPath, "promote_from makes a cycle: \((chain + [current]).joined(separator: " → ")); a release could never reach any of them")
                    failed = true
                    break
                }
                chain.append(current)
                next = result.first { $0.name == current }?.entry.policy.promoteFrom
            }
        }
        return failed ? nil : result
    }

    static func entry(name: String) -> ObjectType<EnvironmentEntry> {
        let settings = ServiceFields.settings
        var fields: [Field<EnvironmentEntry>] = [
            Field("gates", gates(name: name).valueType, \.policy.gates,
                  doc: "Quality gates checked before a rollout starts: thresholds on the release's CI evidence, plus an optional command. Environments named dev, staging and production get the defaults of DESIGN.md; `off` turns one gate off."),
            Field("promote_from", EnvironmentFields.name, \.policy.promoteFrom,
                  doc: "Another environment the same release must have been deployed to successfully first."),
            Field("approvals", .integer(in: 0...10), \.policy.approvals,
                  doc: "Approvals (slipway approve) a rollout needs before it starts; it waits in awaiting_approval."),
            Field("four_eyes", .boolean, \.policy.fourEyes,
                  doc: "Nobody may approve a rollout they asked for themselves."),
            Field("approval_timeout", .duration(positive: true), \.policy.approvalTimeout,
                  doc: "How long a rollout waits for its approvals before it fails."),
            Field("freeze", .list(of: freeze.valueType), \.policy.freezes,
                  doc: "Time windows in which deploys are refused (an admin may override with a reason)."),
            Field("secrets_scope", EnvironmentFields.name, \.policy.secretsScope,
                  doc: "Whose secrets the instances get besides the service-wide ones (`slipway secrets set SERVICE NAME --env SCOPE`); default: the environment's name."),
        ]
        for key in overridable {
            guard let original = settings.first(where: { $0.key == key }) else { continue }
            let raw = ValueType<Node>(schema: original.valueSchema, nestedKeys: original.nestedKeys) { node, _, _ in node }
            fields.append(Field(key, raw, \.overrides[key], doc: "Overrides the service's `\(key)` in this environment. " + original.doc))
        }
        return ObjectType(doc: "One environment: overrides of the service's settings, gates, approvals and freezes.",
                          initial: EnvironmentEntry(policy: EnvironmentPolicy(name: name)), fields: fields)
    }

    static var name: ValueType<String> {
        .string(pattern: namePattern) { "\(quoted($0)) is not a valid environment name: use lowercase letters, digits and '-', start with a letter" }
    }

    static func gates(name: String) -> ObjectType<GateSpec> {
        ObjectType(
            doc: "Quality gates.",
            initial: GateSpec.defaults(for: name),
            fields: [
                Field("coverage", orOff(.number(0, 100, open: false)), \.coverage,
                      doc: "Line coverage of the release's coverage report (Cobertura, LCOV) at least this many percent."),
                Field("test_pass_rate", orOff(.number(0, 100, open: false)), \.testPassRate,
                      doc: "Tests passed ÷ tests run (JUnit), in percent, at least this."),
                Field("critical_vulns", orOff(.integer(in: 0...Int.max)), \.criticalVulns,
                      doc: "At most this many critical vulnerabilities (SARIF, Trivy)."),
                Field("high_vulns", orOff(.integer(in: 0...Int.max)), \.highVulns,
                      doc: "At most this many high vulnerabilities (SARIF, Trivy)."),
                Field("secrets", orOff(.integer(in: 0...Int.max)), \.secrets,
                      doc: "At most this many secrets found (gitleaks JSON, slipway scan secrets)."),
                Field("command", .list(of: ValueType<String>.scalarText, nonEmpty: true), \.command,
                      doc: "A command (argv) that must exit 0; it gets SLIPWAY_SERVICE, SLIPWAY_ENVIRONMENT and SLIPWAY_VERSION."),
                Field("command_timeout", .duration(positive: true), \.commandTimeout,
                      doc: "How long the command may run before the gate fails."),
            ]
        )
    }

    /// A threshold, or `off` (not checked).
    static func orOff<V>(_ type: ValueType<V>) -> ValueType<V?> {
        ValueType<V?>(schema: [("anyOf", .array([.object(type.schema), .object([("const", .string("off"))])]))], json: { value in
            value.flatMap { type.json?($0) } ?? .string("off")
        }) { node, path, diagnostics in
            if node.scalar?.string == "off" { return .some(nil) }
            return type.decode(node, path, diagnostics).map { Optional($0) }
        }
    }

    static var freeze: ObjectType<FreezeWindow> {
        ObjectType(
            doc: "A freeze window: fixed (`from`/`to`) or recurring (`every`, in `time_zone`).",
            initial: FreezeWindow(from: 0, to: 0, reason: ""),
            fields: [
                Field("from", timestamp, \.from, showsDefault: false, doc: "Start, RFC 3339 (2026-12-20T00:00:00Z) or a date (UTC midnight); with `to`, instead of `every`."),
                Field("to", timestamp, \.to, showsDefault: false, doc: "End (exclusive), same forms as from."),
                Field("every", recurrence, \.every,
                      doc: "A window that comes back every week (\"fri 16:00-mon 08:00\", \"sat-sun\" for whole days) or every day (\"22:00-06:00\"), in wall-clock time of `time_zone`; instead of from/to."),
                Field("time_zone", timeZone, \.timeZone, doc: "IANA time zone of `every` (Europe/Berlin, America/New_York). Default: UTC."),
                Field("reason", ValueType<String>.string.checked { $0.trimmingCharacters(in: .whitespaces).isEmpty ? "must not be empty: say why deploys stop" : nil }, \.reason,
                      required: true, doc: "Why deploys stop; shown to whoever is refused."),
            ],
            check: { window, scope in
                let fixed = scope.isGiven("from") || scope.isGiven("to")
                if scope.isGiven("every") {
                    if fixed {
                        scope.error(at: scope.isGiven("from") ? "from" : "to", "give either `every` (a recurring window) or `from` and `to` (a fixed one), not both")
                    }
                    return
                }
                if scope.isGiven("time_zone") {
                    scope.error(at: "time_zone", "`time_zone` applies to `every`; `from` and `to` carry their own offset (2026-12-20T18:00:00+01:00)")
                }
                for key in ["from", "to"] where !scope.isGiven(key) {
                    scope.error(at: key, "a freeze window needs `from` and `to`, or `every` for a recurring one; `\(key)` is missing")
                    return
                }
                guard scope.decoded.contains("from"), scope.decoded.contains("to"), window.to <= window.from else { return }
                scope.error(at: "to", "`to` (\(Timestamps.format(window.to))) must be after `from` (\(Timestamps.format(window.from)))")
            },
            extraSchema: [("oneOf", .array([
                .object([("required", .array([.string("from"), .string("to")]))]),
                .object([("required", .array([.string("every")]))]),
            ]))]
        )
    }

    static var recurrence: ValueType<FreezeRecurrence> {
        ValueType(schema: [("type", .string("string"))], json: { .string($0.text) }) { node, path, diagnostics in
            guard let text = ValueType<String>.string.decode(node, path, diagnostics) else { return nil }
            switch FreezeRecurrence.parse(text) {
            case .success(let recurrence): return recurrence
            case .failure(let error):
                diagnostics.error(at: node, path, error.description)
                return nil
            }
        }
    }

    static var timeZone: ValueType<String> {
        ValueType<String>.string.checked { name in
            FreezeWindow.zone(name) == nil ? "\(quoted(name)) is not a time zone: use an IANA name such as Europe/Berlin, America/New_York or UTC" : nil
        }
    }

    static var timestamp: ValueType<Double> {
        ValueType(schema: [("type", .string("string")), ("format", .string("date-time"))], json: { .string(Timestamps.format($0)) }) { node, path, diagnostics in
            guard case .scalar(let scalar) = node, let time = Timestamps.parse(scalar.string) else {
                diagnostics.error(at: node, path, "\(quoted(node.scalar?.string ?? node.describedForUser)) is not a time: use RFC 3339 (2026-12-20T18:00:00Z, 2026-12-20T18:00:00+01:00) or a date (2026-12-20, UTC)")
                return nil
            }
            return time
        }
    }
}
