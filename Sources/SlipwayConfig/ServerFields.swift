import Foundation
import SlipwayCore
import Yams

/// `servers:` and `replicas_per_host:` in slipway.yml: the fleet a service runs on.
///
/// ```yaml
/// servers:
///   - ssh://deploy@web-1.example.com
///   - url: ssh://deploy@web-2.example.com:2222
///     roles: [web]
///     labels: { zone: eu-2 }
///     dir: /srv/slipway
/// replicas_per_host: 2
/// ```
extension ServiceFields {
    static let serverKeys = ["servers", "replicas_per_host", "waves", "max_failed_hosts"]

    static var serverSettings: [Field<ServiceSpec>] {
        [
            Field("servers", .list(of: server, nonEmpty: true).checked(duplicateServer), \.servers,
                  doc: "The servers the service runs on, each with its own router and instances, driven over SSH with the system's OpenSSH client (your ~/.ssh/config, agent, ProxyJump and known_hosts apply; unknown or changed host keys are refused). Each entry is ssh://[USER@]HOST[:PORT], or an object with `url`, `roles`, `labels`, `dir` and `docker_host`. Without `servers`, the service runs on this machine."),
            Field("replicas_per_host", .integer(in: replicaRange), \.replicasPerHost,
                  doc: "Instances of a release on each server of `servers` (default: `replicas`)."),
            Field("waves", waves, \.waves,
                  doc: "With `servers`: a blue-green rollout switches the servers a wave at a time. A list of sizes, each the servers switched once that wave is done (a count or N%, rising, the last 100%: [1, 25%, 100%]; or {roles: [...]} / {labels: {...}} for the servers with those roles or labels: [{roles: [canary]}, 100%]), or an object with `sizes` and `analysis` (judged after each wave but the last; a failure switches every server back). Default: one wave."),
            Field("max_failed_hosts", .integer(in: 0...10_000), \.maxFailedHosts,
                  doc: "With `servers`: how many servers a rollout may leave out (one that does not answer, or whose instances are not healthy by deploy_timeout) and go on; they keep the previous release until they are reconciled. Beyond it an unreachable server pauses the rollout until it answers, and unhealthy ones fail it. Default 0."),
        ]
    }

    /// Servers a wave takes by role or label.
    static var waveSelector: ObjectType<ServerSelector> {
        ObjectType(
            doc: "The servers this wave takes: those with any of `roles` and all of `labels`.",
            initial: ServerSelector(),
            fields: [
                Field("roles", .list(of: .string(pattern: serverRolePattern) { "\(quoted($0)) is not a valid role: lowercase letters, digits, '_' and '-', starting with a letter" }, nonEmpty: true), \.roles,
                      doc: "Servers with any of these roles."),
                Field("labels", .map(keyPattern: serverRolePattern, keyExplain: { "`\($0)` is not a valid label name: lowercase letters, digits, '_' and '-', starting with a letter" }, values: .scalarText), \.labels,
                      doc: "Servers with all of these labels."),
            ],
            check: { selector, scope in
                if case .mapping(let mapping) = scope.node, mapping.isEmpty {
                    scope.diagnostics.error(at: scope.node, scope.path, "names no server: give `roles` and/or `labels`")
                }
            }
        )
    }

    /// `25%`, `3`, or `{roles: [canary]}`.
    static var waveSize: ValueType<WaveSize> {
        let selector = waveSelector
        let schema: [(String, JSONValue)] = [("oneOf", .array([
            .object([("type", .string("integer")), ("minimum", .integer(1))]),
            .object([("type", .string("string")), ("pattern", .string("^([1-9][0-9]?|100)%$"))]),
            .object(selector.schemaKeywords),
        ]))]
        return ValueType(schema: schema, json: { size in
            switch size {
            case .hosts(let count): .integer(count)
            case .percent: .string(size.description)
            case .select: .string(size.description)
            }
        }) { node, path, diagnostics in
            if case .mapping = node {
                return selector.decode(node, path, diagnostics).map(WaveSize.select)
            }
            guard let text = node.scalar?.string, let size = WaveSize.parse(text) else {
                diagnostics.error(at: node, path, "\(node.describedForUser) is not a wave size: a number of servers (1 or more), a share of the fleet (1% to 100%), or {roles: [...]} / {labels: {...}} naming servers")
                return nil
            }
            return size
        }
    }

    /// The list shorthand, or `{sizes, analysis}`.
    ///
    /// A wave is a count, a share, or a selector of servers by role or label
    /// (`[{roles: [canary]}, 25%, 100%]`); see `WavesSpec.steps`.
    static var waves: ValueType<WavesSpec> {
        let sizes = ValueType<[WaveSize]>.list(of: waveSize, nonEmpty: true)
        let object = ObjectType(
            doc: "Waves of servers.",
            initial: WavesSpec(),
            fields: [
                Field("sizes", sizes, \.sizes, required: true,
                      doc: "Servers switched once each wave is done: a count or N%, rising, the last 100%."),
                Field("analysis", ValueType<String>.string, \.analysis,
                      doc: "Run this analysis after each wave but the last; the next wave waits for a pass, a failure switches every server back."),
            ]
        )
        let schema: [(String, JSONValue)] = [("oneOf", .array([.object(sizes.schema), .object(object.schemaKeywords)]))]
        return ValueType(schema: schema, nestedKeys: object.nestedKeys) { node, path, diagnostics in
            switch node {
            case .sequence:
                return sizes.decode(node, path, diagnostics).map { WavesSpec(sizes: $0) }
            case .mapping:
                return object.decode(node, path, diagnostics)
            default:
                diagnostics.typeMismatch(expected: "a list of wave sizes or an object with `sizes`", found: node, path)
                return nil
            }
        }
    }

    /// `waves` and `max_failed_hosts` need `servers`; waves grow and end with the whole fleet;
    /// a fleet rolls out blue-green (by waves) or canary, not rolling.
    static func checkFleet(_ spec: inout ServiceSpec, _ scope: ObjectScope) {
        if spec.servers.isEmpty {
            for key in ["waves", "max_failed_hosts"] where scope.isGiven(key) {
                scope.error(at: key, "applies to a service on `servers:` only")
            }
            return
        }
        if case .rolling = spec.strategy, scope.decoded.contains("strategy") {
            scope.error(at: "strategy", "strategy `rolling` replaces instances by count, not by server; a service on `servers:` rolls out with blue-green `waves:` (e.g. waves: [1, 25%, 100%]) or a canary")
        }
        guard let waves = spec.waves, scope.decoded.contains("waves") else { return }
        if spec.strategy.canary != nil {
            scope.error(at: "waves", "applies to blue-green rollouts; a canary splits the traffic of every server at once")
        }
        let total = spec.servers.count
        var covered = 0
        for (index, step) in waves.steps(spec.servers).enumerated() {
            switch step.size {
            case .select(let selector):
                if !spec.servers.contains(where: selector.matches) {
                    scope.error(at: "waves", "wave \(index + 1) \(selector) matches none of the \(total) server(s) of `servers:` (\(describeRoles(spec.servers)))")
                    return
                }
                if step.added.isEmpty {
                    scope.error(at: "waves", "must grow: wave \(index + 1) \(selector) adds no server to the waves before it")
                    return
                }
            case .hosts, .percent:
                let now = step.size.servers(of: total)
                if now < covered {
                    scope.error(at: "waves", "must grow: \(step.size) covers \(now) of the \(total) server(s), fewer than the wave before (\(covered))")
                    return
                }
            }
            covered = step.covered
        }
        if covered < total {
            scope.error(at: "waves", "the last wave covers \(covered) of the \(total) server(s); end with 100%")
        }
        if let name = waves.analysis, name != "default", spec.analysis[name] == nil {
            let defined = spec.analysis.isEmpty ? "the file defines none under `analysis:`" : "defined: \(spec.analysis.keys.sorted().joined(separator: ", "))"
            let node = scope.entries["waves"]?.value
            scope.diagnostics.error(at: node?["analysis"] ?? node ?? scope.node, scope.path.key("waves").key("analysis"), "unknown analysis `\(name)`; \(defined)")
        }
    }

    /// `roles: web, canary; labels: zone=eu-1` of a fleet, for a selector that matches nothing.
    static func describeRoles(_ servers: [ServerSpec]) -> String {
        let roles = Set(servers.flatMap(\.roles)).sorted()
        let labels = Set(servers.flatMap { $0.labels.map { "\($0.key)=\($0.value)" } }).sorted()
        return "roles: \(roles.isEmpty ? "none" : roles.joined(separator: ", ")); labels: \(labels.isEmpty ? "none" : labels.joined(separator: ", "))"
    }

    static let serverRolePattern = "^[a-z][a-z0-9_-]{0,31}$"

    /// One server as written: the URL alone, or an object around it.
    static var server: ValueType<ServerSpec> {
        let object = serverObject
        let urlSchema: JSONValue = .object([("type", .string("string")), ("pattern", .string("^ssh://"))])
        let schema: [(String, JSONValue)] = [("oneOf", .array([urlSchema, .object(object.schemaKeywords)]))]
        return ValueType(schema: schema, json: { .string($0.url) }) { node, path, diagnostics in
            switch node {
            case .scalar:
                guard ScalarKind(node) == .string, let text = node.scalar?.string else {
                    diagnostics.typeMismatch(expected: "ssh://[USER@]HOST[:PORT] or an object with `url`", found: node, path)
                    return nil
                }
                switch ServerSpec.parse(text) {
                case .success(let server): return server
                case .failure(let error):
                    diagnostics.error(at: node, path, error.message)
                    return nil
                }
            case .mapping:
                guard let entry = object.decode(node, path, diagnostics) else { return nil }
                switch ServerSpec.parse(entry.url) {
                case .success(var server):
                    server.roles = entry.roles
                    server.labels = entry.labels
                    server.dir = entry.dir
                    server.dockerHost = entry.dockerHost
                    return server
                case .failure(let error):
                    diagnostics.error(at: node, path.key("url"), error.message)
                    return nil
                }
            default:
                diagnostics.typeMismatch(expected: "ssh://[USER@]HOST[:PORT] or an object with `url`", found: node, path)
                return nil
            }
        }
    }

    struct ServerEntry {
        var url = ""
        var roles: [String] = []
        var labels: [String: String] = [:]
        var dir: String?
        var dockerHost: String?
    }

    static var serverObject: ObjectType<ServerEntry> {
        ObjectType(
            doc: "One server of the fleet.",
            initial: ServerEntry(),
            fields: [
                Field("url", ValueType<String>.string, \.url, required: true,
                      doc: "ssh://[USER@]HOST[:PORT]; HOST may be an alias of your ssh config."),
                Field("roles", .list(of: .string(pattern: serverRolePattern) { "\(quoted($0)) is not a valid role: lowercase letters, digits, '_' and '-', starting with a letter" }), \.roles,
                      doc: "Roles of the server (web, worker, …), for selecting servers in waves and `slipway servers`."),
                Field("labels", .map(keyPattern: serverRolePattern, keyExplain: { "`\($0)` is not a valid label name: lowercase letters, digits, '_' and '-', starting with a letter" }, values: .scalarText), \.labels,
                      doc: "Free-form labels (zone: eu-1)."),
                Field("dir", ValueType<String>.string.checked(serverDirectoryProblem), \.dir,
                      doc: "Slipway's directory on the server (binary, router state, instance logs): an absolute path, or relative to the login user's home (default .slipway-host)."),
                Field("docker_host", ValueType<String>.string.checked(dockerHostProblem), \.dockerHost,
                      doc: "The container engine's API socket on the server, for services with `image:` (unix:///run/podman/podman.sock). Default: the server's DOCKER_HOST, else unix:///var/run/docker.sock."),
            ]
        )
    }

    static func serverDirectoryProblem(_ dir: String) -> String? {
        if dir.isEmpty { return "must not be empty" }
        if dir.contains("\0") || dir.contains("\n") { return "must be one line" }
        if dir.split(separator: "/").contains("..") { return "must not contain `..`" }
        return nil
    }

    static func dockerHostProblem(_ text: String) -> String? {
        let path = text.hasPrefix("unix://") ? String(text.dropFirst("unix://".count)) : text
        if text.contains("://") && !text.hasPrefix("unix://") {
            return "\(quoted(text)) is not a unix socket: the server's engine is reached over unix:///PATH on that server (through its router)"
        }
        guard path.hasPrefix("/"), !path.contains("\0"), !path.contains("\n") else {
            return "\(quoted(text)) names no absolute socket path: write unix:///path/to/docker.sock"
        }
        return nil
    }

    static func duplicateServer(_ servers: [ServerSpec]) -> String? {
        var seen: Set<String> = []
        for server in servers where !seen.insert(server.id).inserted {
            return "lists the server \(server.id) more than once"
        }
        return nil
    }
}
