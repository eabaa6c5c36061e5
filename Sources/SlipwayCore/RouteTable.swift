/// What the data plane serves: the control plane builds a whole table and the router
/// swaps it in atomically. Also the JSON body of the router's admin `PUT /routes`.
public struct RouteTable: Codable, Sendable, Equatable {
    /// Increases with every table the control plane sends; the router ignores older ones.
    public var generation: UInt64
    public var services: [ServiceRoute]
    /// Where the router exports the spans of traced requests (`trace_requests`): an
    /// OTLP/HTTP traces URL. Nil: no request is traced.
    public var tracesURL: String?
    /// Headers every export to `tracesURL` carries (a collector's API key): the control
    /// plane's `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `OTEL_EXPORTER_OTLP_HEADERS`, so that
    /// routers on fleet servers, which do not share its environment, authenticate too.
    public var tracesHeaders: [String: String]?

    public init(generation: UInt64 = 0, services: [ServiceRoute] = [], tracesURL: String? = nil, tracesHeaders: [String: String]? = nil) {
        self.generation = generation
        self.services = services
        self.tracesURL = tracesURL
        self.tracesHeaders = tracesHeaders
    }

    enum CodingKeys: String, CodingKey { case generation, services, tracesURL, tracesHeaders }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        generation = try c.decode(UInt64.self, forKey: .generation)
        services = try c.decode([ServiceRoute].self, forKey: .services)
        tracesURL = try c.decodeIfPresent(String.self, forKey: .tracesURL)
        tracesHeaders = try c.decodeIfPresent([String: String].self, forKey: .tracesHeaders)
        // They become the headers of the router's export requests: no CR, LF or other
        // control character may reach them.
        for (name, value) in tracesHeaders ?? [:] where !HTTPFieldSyntax.isName(name) || !HTTPFieldSyntax.isValue(value) {
            throw DecodingError.dataCorruptedError(forKey: .tracesHeaders, in: c,
                                                   debugDescription: "tracesHeaders: \(name.debugDescription) is not a header name with a value free of control characters")
        }
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
    /// While traffic is split between versions: keep each client on the version it was
    /// first sent to (a signed cookie). Nil: every request is chosen by weight.
    public var affinity: Affinity?
    /// Lets allowed clients reach a named version with a request header, whatever its weight.
    public var pin: PinRule?
    /// Terminate TLS on `listen` with these files (every service on the address must agree).
    public var tls: TLSSpec?
    /// Security headers added to every response of the service.
    public var headers: SecurityHeaders?
    /// Per-client-address token bucket; over it, 429 with Retry-After.
    public var rateLimit: RateLimitSpec?
    /// Path prefixes kept to allowed client networks; others get 403.
    public var restrict: [PathRestriction]?
    /// How long upgraded connections stay on an instance whose version stopped taking new
    /// traffic (weight 0, or gone from the table) before the router closes them.
    public var websocketDrain: Duration = Defaults.websocketDrain
    /// The protocol the instances speak (HTTP/2 streams for `h2c`).
    public var upstream: UpstreamProtocol = .http1
    /// The largest request body forwarded (bytes); larger ones get 413. Nil: no limit.
    public var maxRequestBody: Int64?
    /// Trace requests (`trace_requests`): the share of requests without a sampled W3C
    /// `traceparent` that start a trace, above 0 and at most 1 (one with a sampled parent
    /// is always traced). Nil: the router adds no span and leaves `traceparent` alone.
    public var traceRequests: Double?

    public init(service: String, listen: ListenAddress, hosts: [String] = [], groups: [BackendGroup], health: HealthSpec = HealthSpec(), upstreamTimeout: Duration = Defaults.upstreamTimeout, affinity: Affinity? = nil, pin: PinRule? = nil,
                tls: TLSSpec? = nil, headers: SecurityHeaders? = nil, rateLimit: RateLimitSpec? = nil, restrict: [PathRestriction]? = nil) {
        self.service = service
        self.listen = listen
        self.hosts = hosts
        self.groups = groups
        self.health = health
        self.upstreamTimeout = upstreamTimeout
        self.affinity = affinity
        self.pin = pin
        self.tls = tls
        self.headers = headers
        self.rateLimit = rateLimit
        self.restrict = restrict
    }

    enum CodingKeys: String, CodingKey { case service, listen, hosts, groups, health, upstreamTimeout, affinity, pin, tls, headers, rateLimit, restrict, websocketDrain, upstream, maxRequestBody, traceRequests }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(String.self, forKey: .service)
        listen = try c.decode(ListenAddress.self, forKey: .listen)
        hosts = try c.decodeIfPresent([String].self, forKey: .hosts) ?? []
        groups = try c.decode([BackendGroup].self, forKey: .groups)
        health = try c.decodeIfPresent(HealthSpec.self, forKey: .health) ?? HealthSpec()
        upstreamTimeout = try c.decodeIfPresent(TextDuration.self, forKey: .upstreamTimeout)?.value ?? Defaults.upstreamTimeout
        affinity = try c.decodeIfPresent(Affinity.self, forKey: .affinity)
        pin = try c.decodeIfPresent(PinRule.self, forKey: .pin)
        tls = try c.decodeIfPresent(TLSSpec.self, forKey: .tls)
        headers = try c.decodeIfPresent(SecurityHeaders.self, forKey: .headers)
        rateLimit = try c.decodeIfPresent(RateLimitSpec.self, forKey: .rateLimit)
        restrict = try c.decodeIfPresent([PathRestriction].self, forKey: .restrict)
        websocketDrain = try c.decodeIfPresent(TextDuration.self, forKey: .websocketDrain)?.value ?? Defaults.websocketDrain
        upstream = try c.decodeIfPresent(UpstreamProtocol.self, forKey: .upstream) ?? .http1
        maxRequestBody = try c.decodeIfPresent(Int64.self, forKey: .maxRequestBody)
        traceRequests = try c.decodeIfPresent(Double.self, forKey: .traceRequests)
        if let ratio = traceRequests, !(ratio > 0 && ratio <= 1) {
            throw DecodingError.dataCorruptedError(forKey: .traceRequests, in: c, debugDescription: "traceRequests must be above 0 and at most 1 (got \(ratio))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(service, forKey: .service)
        try c.encode(listen, forKey: .listen)
        try c.encode(hosts, forKey: .hosts)
        try c.encode(groups, forKey: .groups)
        try c.encode(health, forKey: .health)
        try c.encode(TextDuration(upstreamTimeout), forKey: .upstreamTimeout)
        try c.encodeIfPresent(affinity, forKey: .affinity)
        try c.encodeIfPresent(pin, forKey: .pin)
        try c.encodeIfPresent(tls, forKey: .tls)
        try c.encodeIfPresent(headers, forKey: .headers)
        try c.encodeIfPresent(rateLimit, forKey: .rateLimit)
        try c.encodeIfPresent(restrict, forKey: .restrict)
        if websocketDrain != Defaults.websocketDrain { try c.encode(TextDuration(websocketDrain), forKey: .websocketDrain) }
        if upstream != .http1 { try c.encode(upstream, forKey: .upstream) }
        try c.encodeIfPresent(maxRequestBody, forKey: .maxRequestBody)
        try c.encodeIfPresent(traceRequests, forKey: .traceRequests)
    }
}

/// Sticky assignment during a split. The router answers a request without a valid
/// assignment cookie by choosing a version by weight and setting
/// `Set-Cookie: <cookie>=<scope>.<version>.<signature>`; later requests carrying a cookie
/// whose signature verifies, whose scope matches and whose version still has weight > 0
/// (and an available instance) go to that version. The signature is HMAC-SHA256 over
/// `service`, `scope` and `version` with `key`, so clients cannot pick a version by
/// editing the cookie.
public struct Affinity: Codable, Sendable, Equatable {
    /// The cookie's name (letters, digits, `_` and `-`).
    public var cookie: String
    /// The signing key, hex (at least 32 bytes of randomness).
    public var key: String
    /// Changes with every rollout (the rollout id) so an old assignment is not reused.
    public var scope: String

    public init(cookie: String, key: String, scope: String) {
        self.cookie = cookie
        self.key = key
        self.scope = scope
    }
}

/// A request carrying `header: VERSION` from an address in `allow` goes to that version's
/// instances whatever its weight (testers reach a canary or a blue-green preview before it
/// takes traffic). From other addresses the header is ignored. A pinned version with no
/// available instance is answered 503 naming the version, never silently another one.
public struct PinRule: Codable, Sendable, Equatable {
    /// Header name, compared case-insensitively.
    public var header: String
    /// Client networks in CIDR notation (`127.0.0.0/8`, `::1/128`, `10.0.0.0/8`).
    public var allow: [String]

    public init(header: String = Defaults.pinHeader, allow: [String] = Defaults.pinAllow) {
        self.header = header
        self.allow = allow
    }

    enum CodingKeys: String, CodingKey { case header, allow }

    /// Missing keys take the defaults (`{}` is the default rule).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        header = try c.decodeIfPresent(String.self, forKey: .header) ?? Defaults.pinHeader
        allow = try c.decodeIfPresent([String].self, forKey: .allow) ?? Defaults.pinAllow
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
    /// The last known health when the table was made: a router that first sees the
    /// endpoint (a restarted router) starts from it instead of from unhealthy, so it serves
    /// at once rather than answering 502 until its checks pass. Active checks take over
    /// from the first one. Nil: unknown (unhealthy until checked).
    public var healthy: Bool?

    public init(id: String, host: String, port: Int, healthy: Bool? = nil) {
        self.id = id
        self.host = host
        self.port = port
        self.healthy = healthy
    }

    enum CodingKeys: String, CodingKey { case id, host, port, healthy }

    /// A port outside 0–65535 is refused with the whole table (the router would otherwise
    /// trap making the endpoint's socket address: found by fuzzing the route-table JSON).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        host = try c.decode(String.self, forKey: .host)
        port = try c.decode(Int.self, forKey: .port)
        healthy = try c.decodeIfPresent(Bool.self, forKey: .healthy)
        guard (0...65535).contains(port) else {
            throw DecodingError.dataCorruptedError(forKey: .port, in: c, debugDescription: "endpoint \(id): port \(port) is not between 0 and 65535")
        }
    }
}
