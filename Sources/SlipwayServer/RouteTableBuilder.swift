import SlipwayCore

/// Builds the router's table from what the store says: every registered service gets a
/// route (so its port is bound even before its first release); every live instance that
/// is not being stopped is an endpoint; the stable release has weight 100, the rest 0
/// (starting or warm releases: health-checked, no traffic).
enum RouteTableBuilder {
    struct ServiceInput {
        var spec: ServiceSpec
        var stableVersion: String?
        var instances: [InstanceRecord]
    }

    static func build(generation: UInt64, services: [ServiceInput]) -> RouteTable {
        var routes: [ServiceRoute] = []
        for input in services.sorted(by: { $0.spec.name < $1.spec.name }) {
            var byVersion: [String: [Endpoint]] = [:]
            for instance in input.instances where instance.state == .running || instance.state == .crashed {
                byVersion[instance.version, default: []].append(Endpoint(id: instance.id, host: "127.0.0.1", port: instance.port))
            }
            let groups = byVersion.keys.sorted().map { version in
                BackendGroup(version: version, weight: version == input.stableVersion ? 100 : 0,
                             endpoints: byVersion[version, default: []].sorted { $0.id < $1.id })
            }
            routes.append(ServiceRoute(service: input.spec.name, listen: input.spec.listen, hosts: input.spec.hosts,
                                       groups: groups, health: input.spec.health, upstreamTimeout: input.spec.upstreamTimeout))
        }
        return RouteTable(generation: generation, services: routes)
    }
}
