/// The control plane's state as Prometheus gauges and counters, rendered at scrape time
/// from the same records `slipway status` shows (so a scrape never sees a stale label):
///
/// - `slipway_version_weight_ratio{service,version,role}`: share of new requests the router
///   sends to each version (0–1); `role` is `stable`, `canary`, `previous` or `other`.
/// - `slipway_rollout_active{service}`: 1 while a rollout of the service runs.
/// - `slipway_rollout_phase{service,phase}`: 1 for the running rollout's phase, 0 for the
///   others (a state set; all 0 when nothing runs).
/// - `slipway_canary_step{service}` / `slipway_canary_steps{service}`: the canary's step.
/// - `slipway_instance_healthy{service,version,instance}`: 1 healthy, 0 unhealthy (instances
///   the router has not judged yet are left out).
/// - `slipway_instances{service,version,state}`: instances by state.
/// - `slipway_rollouts_total{service,kind,result}`: rollouts that ended, from the store (so
///   the counter survives restarts).
public enum ControlPlaneExposition {
    /// One ended-rollouts count, grouped by unit, kind and final phase.
    public struct RolloutTotal: Sendable, Equatable {
        public var service: String
        public var kind: String
        public var result: String
        public var count: Int

        public init(service: String, kind: String, result: String, count: Int) {
            self.service = service
            self.kind = kind
            self.result = result
            self.count = count
        }
    }

    /// Phases a running rollout can be in (the state set's members).
    static let livePhases = RolloutPhase.allCases.filter { !$0.isTerminal }

    /// - Parameters:
    ///   - notifications: outbox rows per status (`slipway_notifications{status}`).
    ///   - dashboardStreams: open `GET /v1/stream` answers (`slipway_dashboard_streams`).
    public static func render(statuses: [ServiceStatus], groups: [String: [BackendGroup]], rolloutTotals: [RolloutTotal], build: String,
                              notifications: [(status: String, count: Int)] = [], dashboardStreams: Int = 0) -> String {
        var out = ""
        let units = statuses.sorted { $0.service < $1.service }

        family(&out, "slipway_build_info", "gauge", "The running Slipway's version (always 1).")
        out += "slipway_build_info\(labels(("version", build))) 1\n"

        family(&out, "slipway_version_weight_ratio", "gauge", "Share of new requests the router sends to each version of a service (0 to 1).")
        for s in units {
            let routed = groups[s.service] ?? []
            let total = routed.reduce(0) { $0 + max($1.weight, 0) }
            for group in routed.sorted(by: { $0.version < $1.version }) {
                let ratio = total > 0 ? Double(max(group.weight, 0)) / Double(total) : 0
                out += "slipway_version_weight_ratio\(labels(("service", s.service), ("version", group.version), ("role", role(of: group.version, in: s)))) \(number(ratio))\n"
            }
        }

        family(&out, "slipway_rollout_active", "gauge", "1 while a rollout of the service runs, else 0.")
        for s in units { out += "slipway_rollout_active\(labels(("service", s.service))) \(s.activeRollout == nil ? 0 : 1)\n" }

        family(&out, "slipway_rollout_phase", "gauge", "The running rollout's phase: 1 for the current phase, 0 for the others.")
        for s in units {
            for phase in livePhases {
                out += "slipway_rollout_phase\(labels(("service", s.service), ("phase", phase.rawValue))) \(s.activeRollout?.phase == phase ? 1 : 0)\n"
            }
        }

        let canaries = units.compactMap { s in s.activeRollout?.canary.map { (s.service, $0) } }
        if !canaries.isEmpty {
            family(&out, "slipway_canary_step", "gauge", "The running canary's current step (1-based; steps + 1 after the last step).")
            for (service, c) in canaries { out += "slipway_canary_step\(labels(("service", service))) \(c.step)\n" }
            family(&out, "slipway_canary_steps", "gauge", "Number of steps of the running canary.")
            for (service, c) in canaries { out += "slipway_canary_steps\(labels(("service", service))) \(c.steps)\n" }
        }

        family(&out, "slipway_instance_healthy", "gauge", "1 when the router's health checks pass for the instance, 0 when they fail.")
        for s in units {
            for i in s.instances.sorted(by: { $0.id < $1.id }) {
                guard let healthy = i.healthy else { continue }
                out += "slipway_instance_healthy\(labels(("service", s.service), ("version", i.version), ("instance", i.id))) \(healthy ? 1 : 0)\n"
            }
        }

        family(&out, "slipway_instances", "gauge", "Instances per service, version and state (running, stopping, crashed).")
        for s in units {
            var counts: [String: [String: Int]] = [:]
            for i in s.instances { counts[i.version, default: [:]][i.state.rawValue, default: 0] += 1 }
            for version in counts.keys.sorted() {
                for (state, n) in counts[version]!.sorted(by: { $0.key < $1.key }) {
                    out += "slipway_instances\(labels(("service", s.service), ("version", version), ("state", state))) \(n)\n"
                }
            }
        }

        family(&out, "slipway_notifications", "gauge", "Notifications in the outbox by status (pending: not delivered yet).")
        for n in notifications { out += "slipway_notifications\(labels(("status", n.status))) \(n.count)\n" }

        family(&out, "slipway_dashboard_streams", "gauge", "Open dashboard event streams (GET /v1/stream).")
        out += "slipway_dashboard_streams \(dashboardStreams)\n"

        family(&out, "slipway_rollouts_total", "counter", "Rollouts that ended, per service, kind (deploy, rollback, initial) and result (succeeded, failed).")
        for t in rolloutTotals.sorted(by: { ($0.service, $0.kind, $0.result) < ($1.service, $1.kind, $1.result) }) {
            out += "slipway_rollouts_total\(labels(("service", t.service), ("kind", t.kind), ("result", t.result))) \(t.count)\n"
        }
        return out
    }

    static func role(of version: String, in status: ServiceStatus) -> String {
        if let r = status.activeRollout, r.toVersion == version, version != status.stableVersion { return "canary" }
        if version == status.stableVersion { return "stable" }
        if version == status.previousVersion { return "previous" }
        return "other"
    }

    static func family(_ out: inout String, _ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    static func labels(_ pairs: (String, String)...) -> String {
        "{" + pairs.map { "\($0.0)=\"\(PrometheusExposition.escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
