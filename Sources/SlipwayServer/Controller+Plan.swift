import Foundation
import SlipwayCore
import SlipwayEvidence
import SlipwayStore

/// `slipway plan`: what applying a config would change, without changing anything.
extension Controller {
    /// One unit's plan.
    public struct UnitPlan: Codable, Sendable {
        public var service: String
        /// False: applying registers a new service.
        public var registered: Bool
        /// The config version applied now (nil for a new service).
        public var configVersion: Int?
        public var changes: [ConfigChange]
        /// Refusals `apply` would answer (nothing would be applied).
        public var refusals: [String]
        /// Worth knowing before applying.
        public var warnings: [String]
        /// Gates of the new config that the newest recorded release would fail.
        public var gates: [GateResult]
        public var gatesRelease: String?

        public var changed: Bool { !registered || !changes.isEmpty }
    }

    /// One setting that differs. Values are JSON text; `nil` old or new: added or removed.
    public struct ConfigChange: Codable, Sendable, Equatable {
        public var key: String
        public var old: String?
        public var new: String?
        /// When it takes effect.
        public var effect: Effect
        /// The values are hidden (environment values, secrets, credentials in URLs).
        public var masked: Bool
    }

    public enum Effect: String, Codable, Sendable, CaseIterable {
        /// The router's table: traffic sees it as soon as the config is applied.
        case router
        /// The control plane's notifications and alerts: at once.
        case controlPlane = "control_plane"
        /// Instances: what the next deploy starts (the running release keeps its settings).
        case nextDeploy = "next_deploy"
        /// How the next rollout runs (strategy, analysis, hooks, backups, waves).
        case nextRollout = "next_rollout"
        /// What the next deploy is admitted by (gates, approvals, freezes, promotion).
        case admission

        public var text: String {
            switch self {
            case .router: "router: takes effect when applied"
            case .controlPlane: "control plane: takes effect when applied"
            case .nextDeploy: "instances: the next deploy starts them with it; running instances keep their settings"
            case .nextRollout: "the next rollout runs with it"
            case .admission: "the next deploy is checked against it"
            }
        }
    }

    /// Plans every unit of a config the way `apply` would read it.
    public func plan(_ units: [ServiceSpec]) async throws -> [UnitPlan] {
        var plans: [UnitPlan] = []
        let routes = try? await router.routes()
        for spec in units {
            plans.append(try await plan(spec, boundPorts: Set(routes?.listenAddresses.map(\.port) ?? [])))
        }
        return plans
    }

    func plan(_ spec: ServiceSpec, boundPorts: Set<Int>) async throws -> UnitPlan {
        let stored = try store.service(spec.name)
        var plan = UnitPlan(service: spec.name, registered: stored != nil, configVersion: stored?.configVersion, changes: [], refusals: [], warnings: [], gates: [])
        if let stored {
            plan.changes = try Self.changes(from: stored.spec, to: spec)
            if stored.spec.strategy.name != spec.strategy.name {
                plan.warnings.append("the strategy changes from \(stored.spec.strategy.name) to \(spec.strategy.name): the next deploy runs as \(spec.strategy.name)")
            }
        }
        // What `apply` refuses, checked the same way, without binding anything for long.
        for other in try store.serviceNames() where other != spec.name {
            guard let o = try store.service(other) else { continue }
            if o.spec.listen.port == spec.listen.port, Set(o.spec.hosts).intersection(spec.hosts).count > 0 || (o.spec.hosts.isEmpty && spec.hosts.isEmpty) {
                plan.refusals.append("service \(other) already answers \(o.spec.hosts.isEmpty ? "every host" : o.spec.hosts.joined(separator: ", ")) on port \(spec.listen.port)")
            }
        }
        if spec.servers.isEmpty, !boundPorts.contains(spec.listen.port), spec.listen.port != 0, let error = PortHolder.tryBind(host: spec.listen.host, port: spec.listen.port) {
            let holder = PortHolder.describe(port: spec.listen.port).map { "; it is held by \($0)" } ?? ""
            plan.refusals.append("listen address \(spec.listen) is not available: \(error)\(holder)")
        }
        if let active = try store.activeRollout(service: spec.name) {
            let rolloutKeys = plan.changes.filter { $0.effect == .nextRollout || $0.effect == .nextDeploy }
            if !rolloutKeys.isEmpty {
                plan.warnings.append("rollout \(active.id) (to \(active.toVersion)) is running: it finishes with the settings it started with; \(rolloutKeys.map(\.key).joined(separator: ", ")) apply to the next one")
            }
            if plan.changes.contains(where: { $0.effect == .router }) {
                plan.warnings.append("rollout \(active.id) is running: the router's new settings apply to its traffic at once")
            }
        }
        if plan.changes.contains(where: { $0.key == "listen" }) {
            plan.warnings.append("the listen address changes: clients of the old address lose the service when applied")
        }
        // The new gates against the newest recorded release (a gate command is not run).
        if let policy = spec.environment {
            let base = spec.serviceName
            if let newest = try store.releaseManifests(service: base).last {
                plan.gatesRelease = newest.version
                plan.gates = EvidenceGates.check(policy.gates, release: newest, service: base, version: newest.version).filter { !$0.passed }
            }
        }
        return plan
    }

    /// The settings that differ between two specs, as flattened key paths of their stored form.
    static func changes(from old: ServiceSpec, to new: ServiceSpec) throws -> [ConfigChange] {
        let a = try flatten(old), b = try flatten(new)
        var result: [ConfigChange] = []
        for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
            let masked = isSensitive(key)
            result.append(ConfigChange(key: key, old: masked ? a[key].map { _ in "(hidden)" } : a[key], new: masked ? b[key].map { _ in "(hidden)" } : b[key],
                                       effect: effect(of: key), masked: masked))
        }
        return result
    }

    /// Objects are flattened to dotted keys; arrays and scalars are compared whole.
    static func flatten(_ spec: ServiceSpec) throws -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let object = try JSONSerialization.jsonObject(with: try encoder.encode(spec))
        var out: [String: String] = [:]
        func walk(_ value: Any, _ path: String) {
            if let dictionary = value as? [String: Any], !dictionary.isEmpty {
                for (key, child) in dictionary { walk(child, path.isEmpty ? key : "\(path).\(key)") }
                return
            }
            guard !(value is NSNull) else { return }
            let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
            out[path] = String(decoding: data, as: UTF8.self)
        }
        walk(object, "")
        out.removeValue(forKey: "name")
        return out
    }

    static func isSensitive(_ key: String) -> Bool {
        let lower = key.lowercased()
        if lower.hasPrefix("env.") || lower.contains(".env.") { return true }
        return ["secret", "password", "token", "credential"].contains { lower.contains($0) } || lower.hasSuffix("backup.target")
    }

    static func effect(of key: String) -> Effect {
        let top = String(key.split(separator: ".").first ?? "")
        switch top {
        case "listen", "hosts", "tls", "headers", "rateLimit", "rate_limit", "restrict", "pin", "upstreamTimeout", "upstream_timeout", "upstream",
             "maxRequestBody", "max_request_body", "websocketDrain", "websocket_drain", "health":
            return .router
        case "notifications", "alerts":
            return .controlPlane
        case "strategy", "analysis", "hooks", "backup", "waves", "maxFailedHosts", "max_failed_hosts":
            return .nextRollout
        case "environment":
            return .admission
        default:
            return .nextDeploy
        }
    }
}
