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
    static let serverKeys = ["servers", "replicas_per_host"]

    static var serverSettings: [Field<ServiceSpec>] {
        [
            Field("servers", .list(of: server, nonEmpty: true).checked(duplicateServer), \.servers,
                  doc: "The servers the service runs on, each with its own router and instances, driven over SSH with the system's OpenSSH client (your ~/.ssh/config, agent, ProxyJump and known_hosts apply; unknown or changed host keys are refused). Each entry is ssh://[USER@]HOST[:PORT], or an object with `url`, `roles`, `labels` and `dir`. Without `servers`, the service runs on this machine."),
            Field("replicas_per_host", .integer(in: replicaRange), \.replicasPerHost,
                  doc: "Instances of a release on each server of `servers` (default: `replicas`)."),
        ]
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
            ]
        )
    }

    static func serverDirectoryProblem(_ dir: String) -> String? {
        if dir.isEmpty { return "must not be empty" }
        if dir.contains("\0") || dir.contains("\n") { return "must be one line" }
        if dir.split(separator: "/").contains("..") { return "must not contain `..`" }
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
