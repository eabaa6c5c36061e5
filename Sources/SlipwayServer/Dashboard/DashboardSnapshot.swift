import Foundation
import SlipwayCore

/// One `snapshot` event of `GET /v1/stream`: every unit (`SERVICE` or `SERVICE@ENV`) with
/// its versions, their roles, weights, instances and live numbers. Built by a pure
/// function from what the controller and the router report, so it is tested without I/O.
struct DashboardSnapshot: Codable, Sendable, Equatable {
    struct Unit: Codable, Sendable, Equatable {
        var name: String
        var service: String
        var environment: String?
        var stableVersion: String?
        var previousVersion: String?
        /// What a person should read first: the running rollout's phase, or `stable`,
        /// `rolled_back` (the latest rollout failed or was a rollback: traffic is on the
        /// earlier release), `failed` (a first release that never came up), `empty`.
        var state: String
        var activeRollout: RolloutRecord?
        var latestRollout: RolloutRecord?
        var versions: [Version]
        var serviceURL: String
        /// The post-deploy checks (`verify:`) of the latest rollout that scheduled any.
        var verifications: [VerificationRecord]? = nil
    }

    struct Version: Codable, Sendable, Equatable {
        var version: String
        /// `stable`, `canary` (the running rollout's target), `previous` (warm), or `other`.
        var role: String
        /// What the release runs: `image ghcr.io/acme/web:v2 sha256:0123456789ab (…)`, when recorded.
        var artifact: String? = nil
        /// `sha256:0123456789ab` of `artifact`.
        var digest: String? = nil
        /// Share of traffic in percent (the route table's weights normalised to 100).
        var weight: Double
        var instances: [Instance]
        /// Requests per second over the stream's window.
        var requestRate: Double
        var errorRate: Double?
        var latencyP50Ms: Double?
        var latencyP95Ms: Double?
        var latencyP99Ms: Double?
    }

    struct Instance: Codable, Sendable, Equatable {
        var id: String
        var state: String
        var healthy: Bool?
        var lastHealthError: String?
        /// The fleet server it runs on (nil: this machine).
        var server: String?
    }

    /// Increases with every snapshot (also the SSE event id).
    var sequence: UInt64
    var time: Double
    /// Seconds the live numbers are averaged over.
    var windowSeconds: Double
    var units: [Unit]
    /// What could not be read (the data plane not answering…); the rest is still shown.
    var errors: [String]

    static func make(sequence: UInt64, time: Double, windowSeconds: Double, statuses: [ServiceStatus], latest: [String: RolloutRecord],
                     groups routed: [String: [BackendGroup]], stats: [VersionStats], errors: [String]) -> DashboardSnapshot {
        let units = statuses.map { status -> Unit in
            let (service, environment) = UnitName.split(status.service)
            let groups = routed[status.service] ?? []
            let totalWeight = groups.reduce(0) { $0 + max(0, $1.weight) }
            let canary = status.activeRollout?.toVersion
            var names: [String] = []
            func add(_ v: String?) { if let v, !names.contains(v) { names.append(v) } }
            add(status.stableVersion)
            add(canary)
            add(status.previousVersion)
            for g in groups { add(g.version) }
            for i in status.instances where i.state != .stopped { add(i.version) }
            let versions = names.map { v -> Version in
                let role = v == canary && v != status.stableVersion ? "canary"
                    : v == status.stableVersion ? "stable" : v == status.previousVersion ? "previous" : "other"
                let weight = totalWeight > 0 ? Double(groups.filter { $0.version == v }.reduce(0) { $0 + max(0, $1.weight) }) * 100 / Double(totalWeight) : 0
                let s = stats.first { $0.service == status.service && $0.version == v }
                let instances = status.instances.filter { $0.version == v && $0.state != .stopped }
                    .map { Instance(id: $0.id, state: $0.state.rawValue, healthy: $0.healthy, lastHealthError: $0.lastHealthError, server: $0.server) }
                let artifact = status.artifacts?[v]?.primary
                return Version(version: v, role: role, artifact: artifact?.summary, digest: artifact?.shortDigest, weight: (weight * 10).rounded() / 10, instances: instances,
                               requestRate: s.map { $0.windowSeconds > 0 ? Double($0.requests) / $0.windowSeconds : 0 } ?? 0,
                               errorRate: s?.errorRate, latencyP50Ms: s?.latencyP50Ms, latencyP95Ms: s?.latencyP95Ms, latencyP99Ms: s?.latencyP99Ms)
            }
            let last = latest[status.service]
            return Unit(name: status.service, service: service, environment: environment, stableVersion: status.stableVersion,
                        previousVersion: status.previousVersion, state: state(active: status.activeRollout, latest: last, stable: status.stableVersion),
                        activeRollout: status.activeRollout, latestRollout: last, versions: versions, serviceURL: status.serviceURL,
                        verifications: status.verifications)
        }
        return DashboardSnapshot(sequence: sequence, time: time, windowSeconds: windowSeconds, units: units, errors: errors)
    }

    static func state(active: RolloutRecord?, latest: RolloutRecord?, stable: String?) -> String {
        if let active { return active.phase.rawValue }
        guard let latest else { return stable == nil ? "empty" : "stable" }
        switch (latest.kind, latest.phase) {
        case (.rollback, .succeeded): return "rolled_back"
        case (.deploy, .failed) where stable != nil: return "rolled_back"
        case (_, .failed): return stable == nil ? "failed" : "stable"
        default: return stable == nil ? "empty" : "stable"
        }
    }

    /// The `phase` events between two snapshots: every unit whose latest rollout or its
    /// phase changed.
    static func phaseChanges(from old: DashboardSnapshot?, to new: DashboardSnapshot) -> [PhaseChange] {
        guard let old else { return [] }
        var before: [String: (Int64?, String)] = [:]
        for u in old.units { before[u.name] = (u.latestRollout?.id, u.latestRollout?.phase.rawValue ?? "") }
        return new.units.compactMap { u in
            guard let r = u.latestRollout else { return nil }
            let was = before[u.name]
            if let was, was.0 == r.id, was.1 == r.phase.rawValue { return nil }
            return PhaseChange(unit: u.name, rollout: r.id, kind: r.kind.rawValue, toVersion: r.toVersion,
                               from: was?.0 == r.id ? was?.1 : nil, phase: r.phase.rawValue, state: u.state, reason: r.reason)
        }
    }
}

/// A `phase` event of `GET /v1/stream`: a rollout started, moved on or ended.
struct PhaseChange: Codable, Sendable, Equatable {
    var unit: String
    var rollout: Int64
    var kind: String
    var toVersion: String
    /// The phase before (nil: a rollout the previous snapshot did not know).
    var from: String?
    var phase: String
    var state: String
    var reason: String?
}
