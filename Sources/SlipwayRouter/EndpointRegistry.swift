import NIOCore
import SlipwayCore
import Tracing
import Synchronization

/// Keeps the long-lived per-endpoint and per-version objects across table swaps and
/// compiles `RouteTable`s into `RoutingSnapshot`s that share them.
final class EndpointRegistry: Sendable {
    private struct VersionKey: Hashable { var service: String; var version: String }
    private struct State {
        var endpoints: [String: EndpointState] = [:]
        var recorders: [VersionKey: VersionStatsRecorder] = [:]
        var poolKeys: [String: Int] = [:]
        var limiters: [String: RateLimiter] = [:]
        var edgeCounters: [String: EdgeCounters] = [:]
    }

    private let state = Mutex(State())
    let shardCount: Int
    private let now: @Sendable () -> NIODeadline

    init(shardCount: Int, now: @escaping @Sendable () -> NIODeadline = { .now() }) {
        self.shardCount = shardCount
        self.now = now
    }

    /// Builds the snapshot for `table`. Endpoints keep their state when the id, address,
    /// service and version are unchanged; endpoints not in `table` are forgotten.
    /// - Parameter tracer: the tracer of a service that traces this share of its requests.
    func compile(_ table: RouteTable, tracer: (Double) -> (any Tracer)? = { _ in nil }) -> RoutingSnapshot {
        let firstSeen = now()
        return state.withLock { state in
            var keptEndpoints: [String: EndpointState] = [:]
            var byListener: [ListenAddress: [ServiceState]] = [:]
            var problems: [RouteProblem] = []
            var keptLimiters: [String: RateLimiter] = [:]
            for route in table.services {
                let signer = AffinitySigner(route: route, problems: &problems)
                var groups: [GroupState] = []
                for group in route.groups {
                    var endpoints: [EndpointState] = []
                    for endpoint in group.endpoints {
                        let existing = keptEndpoints[endpoint.id] ?? state.endpoints[endpoint.id]
                        let endpointState: EndpointState
                        // The same instance at the same address keeps its state (health,
                        // in-flight counts); the table's health hint only seeds a new one.
                        if let existing, existing.endpoint.host == endpoint.host, existing.endpoint.port == endpoint.port,
                           existing.service == route.service, existing.version == group.version {
                            endpointState = existing
                        } else {
                            let addressKey = "\(endpoint.host):\(endpoint.port)"
                            let poolKey = state.poolKeys[addressKey] ?? state.poolKeys.count
                            state.poolKeys[addressKey] = poolKey
                            endpointState = EndpointState(endpoint: endpoint, service: route.service, version: group.version, poolKey: poolKey, health: route.health, firstSeen: firstSeen)
                        }
                        keptEndpoints[endpoint.id] = endpointState
                        endpoints.append(endpointState)
                    }
                    let key = VersionKey(service: route.service, version: group.version)
                    let recorder = state.recorders[key] ?? VersionStatsRecorder(service: route.service, version: group.version, shardCount: shardCount)
                    state.recorders[key] = recorder
                    groups.append(GroupState(version: group.version, weight: max(0, group.weight), endpoints: endpoints, stats: recorder, cookie: signer?.cookie(for: group.version)))
                }
                let pin = route.pin.map { PinMatcher(rule: $0, service: route.service, problems: &problems) }
                let edge = edgeRules(for: route, state: &state, keptLimiters: &keptLimiters, problems: &problems)
                byListener[route.listen, default: []].append(ServiceState(route: route, groups: groups, pin: pin, edge: edge,
                                                                          tracer: route.traceRequests.flatMap(tracer)))
            }
            state.endpoints = keptEndpoints
            state.limiters = keptLimiters
            var listeners: [ListenAddress: ListenerRoutes] = [:]
            for (address, services) in byListener {
                listeners[address] = ListenerRoutes(address: address, services: services)
            }
            return RoutingSnapshot(table: table, listeners: listeners, problems: problems)
        }
    }

    /// The service's edge rules; nil when it has none. A rate limiter with an unchanged
    /// limit is kept across tables (its buckets stay); counters live as long as the router.
    private func edgeRules(for route: ServiceRoute, state: inout State, keptLimiters: inout [String: RateLimiter], problems: inout [RouteProblem]) -> EdgeRules? {
        let headers = (route.headers?.fields ?? []).map { SecurityHeader(name: $0.name, value: $0.value) }
        let pathGuard = PathGuard(route.restrict ?? [], service: route.service, problems: &problems)
        var limiter: RateLimiter?
        if let spec = route.rateLimit {
            if RateLimitSpec.perSecondRange.contains(spec.perSecond), spec.burst >= 1 {
                let existing = keptLimiters[route.service] ?? state.limiters[route.service]
                limiter = existing?.spec == spec ? existing : RateLimiter(spec: spec)
                keptLimiters[route.service] = limiter
            } else {
                problems.append(route.service, "rate_limit of service \(route.service) needs a rate from 1/h to 1000000/s and a burst of at least 1 (got \(spec.perSecond)/s, burst \(spec.burst)); not limiting")
            }
        }
        guard !headers.isEmpty || limiter != nil || pathGuard != nil else { return nil }
        let counters = state.edgeCounters[route.service] ?? EdgeCounters(service: route.service)
        state.edgeCounters[route.service] = counters
        return EdgeRules(headers: headers, loops: shardCount, limiter: limiter, pathGuard: pathGuard, counters: counters)
    }

    /// Edge counters of every service that ever had edge rules.
    func edgeTotals() -> [EdgeTotals] {
        state.withLock { state in state.edgeCounters.values.map(\.totals).sorted { $0.service < $1.service } }
    }

    /// Recorders to report: those in `table` plus others that saw traffic within the last
    /// `StatsWindow.seconds`. Older unused recorders are dropped.
    func recorders(for table: RouteTable, nowNanos: UInt64) -> [VersionStatsRecorder] {
        var inTable = Set<VersionKey>()
        var ordered: [VersionKey] = []
        for route in table.services {
            for group in route.groups where inTable.insert(VersionKey(service: route.service, version: group.version)).inserted {
                ordered.append(VersionKey(service: route.service, version: group.version))
            }
        }
        let oldestKept = Int64(nowNanos / 1_000_000_000) - Int64(StatsWindow.seconds)
        return state.withLock { state in
            var result = ordered.compactMap { state.recorders[$0] }
            for (key, recorder) in state.recorders where !inTable.contains(key) {
                if let newest = recorder.newestSecond, newest > oldestKept {
                    result.append(recorder)
                } else {
                    state.recorders[key] = nil
                }
            }
            return result
        }
    }
}
