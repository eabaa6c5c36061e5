/// What the data plane serves: the control plane builds a whole table and the router
/// swaps it in atomically. Also the JSON body of the router's admin `PUT /routes`.
public struct RouteTable: Codable, Sendable, Equatable {
    /// Increases with every table the control plane sends; the router ignores older ones.
    public var generation: UInt64
    public var services: [ServiceRoute]

    public init(generation: UInt64 = 0, services: [ServiceRoute] = []) {
        self.generation = generation
        self.services = services
    }

    /// Every distinct address the router must listen on.
    public var listenAddresses: Set<ListenAddress> { Set(services.map(\.listen)) }
}

public struct ServiceRoute: Codable, Sendable, Equatable {
    public var service: String
    public var listen: ListenAddress
    /// Host header values (without port, lowercase) that select this service on its port.
    /// Empty: the default service of the port.
    public var hosts: [String]
    /// Versions with their share of traffic. Weights are 0...100 and the router
    /// normalises over the groups that have a healthy instance. A group with weight 0
    /// gets no user traffic but its instances are still health-checked (a warm or a
    /// starting release).
    public var groups: [BackendGroup]
    public var health: HealthSpec
    public var upstreamTimeout: Duration

    public init(service: String, listen: ListenAddress, hosts: [String] = [], groups: [BackendGroup], health: HealthSpec = HealthSpec(), upstreamTimeout: Duration = Defaults.upstreamTimeout) {
        self.service = service
        self.listen = listen
        self.hosts = hosts
        self.groups = groups
        self.health = health
        self.upstreamTimeout = upstreamTimeout
    }

    enum CodingKeys: String, CodingKey { case service, listen, hosts, groups, health, upstreamTimeout }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(String.self, forKey: .service)
        listen = try c.decode(ListenAddress.self, forKey: .listen)
        hosts = try c.decodeIfPresent([String].self, forKey: .hosts) ?? []
        groups = try c.decode([BackendGroup].self, forKey: .groups)
        health = try c.decodeIfPresent(HealthSpec.self, forKey: .health) ?? HealthSpec()
        upstreamTimeout = try c.decodeIfPresent(TextDuration.self, forKey: .upstreamTimeout)?.value ?? Defaults.upstreamTimeout
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(service, forKey: .service)
        try c.encode(listen, forKey: .listen)
        try c.encode(hosts, forKey: .hosts)
        try c.encode(groups, forKey: .groups)
        try c.encode(health, forKey: .health)
        try c.encode(TextDuration(upstreamTimeout), forKey: .upstreamTimeout)
    }
}

public struct BackendGroup: Codable, Sendable, Equatable {
    public var version: String
    public var weight: Int
    public var endpoints: [Endpoint]

    public init(version: String, weight: Int, endpoints: [Endpoint]) {
        self.version = version
        self.weight = weight
        self.endpoints = endpoints
    }
}

/// One instance as the router sees it.
public struct Endpoint: Codable, Sendable, Hashable {
    /// The instance id (stable across crash restarts of the same instance).
    public var id: String
    public var host: String
    public var port: Int

    public init(id: String, host: String, port: Int) {
        self.id = id
        self.host = host
        self.port = port
    }
}
