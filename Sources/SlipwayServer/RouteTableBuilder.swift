import SlipwayCore

/// Builds the router's table from what the store says: every registered service gets a
/// route (so its port is bound even before its first release); every live instance that
/// is not being stopped is an endpoint; the stable release has weight 100, the rest 0
/// (starting or warm releases: health-checked, no traffic). During a canary the canary
/// has its current weight and the stable the rest, with sticky assignment when asked.
/// During a rolling rollout each version's weight is its count of serving instances.
enum RouteTableBuilder {
    struct Canary {
        var version: String
        var weight: Int
        /// Changes per rollout so assignments of an earlier rollout are not reused.
        var scope: String
        var sticky: Bool
    }

    /// A rolling rollout: each version's weight is its number of serving instances, so
    /// traffic follows instances; the previous release's instances after the first
    /// `routable` (by id) are retired: a weight-0 group of their own while they drain.
    struct Rolling {
        var version: String
        var ready: Int
        var previous: String
        var routable: Int
    }

    struct ServiceInput {
        var spec: ServiceSpec
        var stableVersion: String?
        var instances: [InstanceRecord]
        var canary: Canary? = nil
        var rolling: Rolling? = nil
    }

    /// - Parameter healthy: instances last known healthy (carried in the table so that a
    ///   router that restarts from it serves them at once).
    static func build(generation: UInt64, services: [ServiceInput], affinityKey: String = "", healthy: Set<String> = []) -> RouteTable {
        var routes: [ServiceRoute] = []
        for input in services.sorted(by: { $0.spec.name < $1.spec.name }) {
            var byVersion: [String: [Endpoint]] = [:]
            for instance in input.instances where instance.state == .running || instance.state == .crashed {
                byVersion[instance.version, default: []].append(Endpoint(id: instance.id, host: instance.host, port: instance.port, healthy: healthy.contains(instance.id) ? true : nil))
            }
            let canary = input.canary
            func weight(_ version: String) -> Int {
                if let canary, canary.version == version { return canary.weight }
                guard version == input.stableVersion else { return 0 }
                return 100 - (canary?.weight ?? 0)
            }
            var groups: [BackendGroup] = []
            for version in byVersion.keys.sorted() {
                let endpoints = byVersion[version, default: []].sorted { $0.id < $1.id }
                if let rolling = input.rolling, version == rolling.previous {
                    // The serving group first: a pinned request picks the first group of its version.
                    if rolling.routable > 0 {
                        groups.append(BackendGroup(version: version, weight: min(rolling.routable, endpoints.count), endpoints: Array(endpoints.prefix(rolling.routable))))
                    }
                    if endpoints.count > rolling.routable {
                        groups.append(BackendGroup(version: version, weight: 0, endpoints: Array(endpoints.dropFirst(rolling.routable))))
                    }
                } else if let rolling = input.rolling, version == rolling.version {
                    groups.append(BackendGroup(version: version, weight: rolling.ready, endpoints: endpoints))
                } else {
                    groups.append(BackendGroup(version: version, weight: weight(version), endpoints: endpoints))
                }
            }
            var affinity: Affinity?
            if let canary, canary.sticky, !affinityKey.isEmpty {
                affinity = Affinity(cookie: Defaults.affinityCookiePrefix + input.spec.name.replacingOccurrences(of: "-", with: "_"),
                                    key: affinityKey, scope: canary.scope)
            }
            let pin = input.spec.pin.allow.isEmpty ? nil : input.spec.pin
            var route = ServiceRoute(service: input.spec.name, listen: input.spec.listen, hosts: input.spec.hosts,
                                     groups: groups, health: input.spec.health, upstreamTimeout: input.spec.upstreamTimeout,
                                     affinity: affinity, pin: pin,
                                     tls: input.spec.tls, headers: input.spec.headers, rateLimit: input.spec.rateLimit,
                                     restrict: input.spec.restrict.isEmpty ? nil : input.spec.restrict)
            route.websocketDrain = input.spec.websocketDrain
            route.upstream = input.spec.upstream
            route.maxRequestBody = input.spec.maxRequestBody
            route.traceRequests = input.spec.traceRequests
            routes.append(route)
        }
        return RouteTable(generation: generation, services: routes)
    }
}
