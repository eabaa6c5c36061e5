import NIOCore
import SlipwayCore
import Tracing
import Synchronization

/// A `RouteTable` compiled for the hot path: per listen address a host map, per service
/// its groups with shared `EndpointState`s. Immutable once built; each event loop holds a
/// reference and swaps it when the router applies a new table.
final class RoutingSnapshot: Sendable {
    let table: RouteTable
    let listeners: [ListenAddress: ListenerRoutes]
    /// What of `table` could not be used as written (the router logs each once).
    let problems: [RouteProblem]

    init(table: RouteTable, listeners: [ListenAddress: ListenerRoutes], problems: [RouteProblem] = []) {
        self.table = table
        self.listeners = listeners
        self.problems = problems
    }

    static let empty = RoutingSnapshot(table: RouteTable(), listeners: [:])

    /// Every endpoint with its service route, in table order.
    var endpoints: [(EndpointState, ServiceState)] {
        var result: [(EndpointState, ServiceState)] = []
        var seen = Set<ObjectIdentifier>()
        for listener in listeners.values {
            for service in listener.services {
                for group in service.groups {
                    for endpoint in group.endpoints where seen.insert(ObjectIdentifier(endpoint)).inserted {
                        result.append((endpoint, service))
                    }
                }
            }
        }
        return result
    }
}

/// Something in a route table the router could not use as written (logged once per table
/// that introduces it; the rest of the table still applies).
struct RouteProblem: Sendable, Hashable {
    var service: String
    var message: String
}

extension [RouteProblem] {
    mutating func append(_ service: String, _ message: String) {
        append(RouteProblem(service: service, message: message))
    }
}

/// The services on one listen address.
final class ListenerRoutes: Sendable {
    let address: ListenAddress
    let byHost: [String: ServiceState]
    /// The route with no hosts, answering any Host not in `byHost`.
    let fallback: ServiceState?
    let services: [ServiceState]

    init(address: ListenAddress, services: [ServiceState]) {
        self.address = address
        self.services = services
        var byHost: [String: ServiceState] = [:]
        var fallback: ServiceState?
        for service in services {
            if service.route.hosts.isEmpty {
                if fallback == nil { fallback = service }
            }
            for host in service.route.hosts {
                let key = HostHeader.normalise(host)
                if byHost[key] == nil { byHost[key] = service }
            }
        }
        self.byHost = byHost
        self.fallback = fallback
    }

    /// The service for a request's Host header value (nil: the header was absent).
    func service(forHost host: Substring?) -> ServiceState? {
        if byHost.isEmpty { return fallback }
        guard let host else { return fallback }
        return byHost[HostHeader.normalise(host)] ?? fallback
    }
}

/// One service on one listener.
final class ServiceState: Sendable {
    let route: ServiceRoute
    let groups: [GroupState]
    let upstreamTimeout: TimeAmount
    /// `upstream: h2c`: requests go to the instances as HTTP/2 streams.
    let upstreamHTTP2: Bool
    /// Sticky assignment; nil unless `route.affinity` is set and a split is in effect.
    let affinity: AffinityRule?
    /// The pin-header rule; nil unless `route.pin` is set.
    let pin: PinMatcher?
    /// Security headers, rate limit and path allowlist; nil when the service has none.
    let edge: EdgeRules?
    /// `max_request_body`: larger request bodies get 413 (nil: no limit).
    let maxRequestBody: Int64?
    /// Makes the spans of its requests (`trace_requests`); nil: no tracing work at all.
    let tracer: (any Tracer)?

    init(route: ServiceRoute, groups: [GroupState], pin: PinMatcher? = nil, edge: EdgeRules? = nil, tracer: (any Tracer)? = nil) {
        self.route = route
        self.tracer = tracer
        self.groups = groups
        self.edge = edge
        self.upstreamTimeout = TimeAmount(route.upstreamTimeout)
        self.upstreamHTTP2 = route.upstream == .h2c
        self.maxRequestBody = route.maxRequestBody
        self.pin = pin
        let assignable = groups.filter { $0.weight > 0 && $0.cookie != nil }
        if assignable.count > 1, let name = route.affinity?.cookie {
            self.affinity = AffinityRule(name: Array(name.utf8), groups: assignable)
        } else {
            self.affinity = nil
        }
    }

    var name: String { route.service }

    /// The group that takes blame for router-made errors when no endpoint was chosen:
    /// the heaviest group (first in table order on ties).
    var primaryGroup: GroupState? {
        groups.max { $0.weight < $1.weight }
    }
}

/// One version of a service with its endpoints.
final class GroupState: Sendable {
    let version: String
    let weight: Int
    let endpoints: [EndpointState]
    let stats: VersionStatsRecorder
    /// The assignment cookie for this version while its service splits traffic with affinity.
    let cookie: GroupCookie?
    private let turn = Atomic<UInt>(0)

    init(version: String, weight: Int, endpoints: [EndpointState], stats: VersionStatsRecorder, cookie: GroupCookie? = nil) {
        self.version = version
        self.weight = weight
        self.endpoints = endpoints
        self.stats = stats
        self.cookie = cookie
    }

    @inline(__always)
    func nextTurn() -> UInt { turn.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Host header handling: lowercase, port stripped, IPv6 brackets kept.
enum HostHeader {
    static func normalise<S: StringProtocol>(_ value: S) -> String {
        var host = Substring(value)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[...close] }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) {
            return host.lowercased()
        }
        return String(host)
    }
}
