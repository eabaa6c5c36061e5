import NIOCore
import SlipwayCore
import Synchronization

/// The router's open tunnels (upgraded connections: WebSocket and other `Upgrade`s), by
/// instance. When a route table takes an instance's version out of new traffic (weight 0,
/// or the instance gone from the table), its tunnels get the service's `websocket_drain`
/// and are closed when it runs out, unless the version takes traffic again before that.
/// Clients then reconnect and reach the serving release.
final class TunnelRegistry: Sendable {
    private struct Open {
        let endpoint: String
        let service: String
        let close: @Sendable () -> Void
    }

    private struct State {
        var open: [Int: Open] = [:]
        var next = 0
        /// Instances whose tunnels are on their way out: the drain's token.
        var closing: [String: Int] = [:]
        var nextDrain = 0
        /// Each service's `websocket_drain` as last seen (a service gone from the table
        /// keeps its own).
        var drains: [String: Duration] = [:]
    }

    private let state = Mutex(State())

    /// Records a tunnel to `endpoint` (an instance id); `close` closes it from any thread.
    /// Returns the token that `remove` takes when the tunnel ends.
    func add(endpoint: String, service: String, close: @escaping @Sendable () -> Void) -> Int {
        state.withLock { state in
            state.next += 1
            state.open[state.next] = Open(endpoint: endpoint, service: service, close: close)
            return state.next
        }
    }

    func remove(_ token: Int) {
        _ = state.withLock { $0.open.removeValue(forKey: token) }
    }

    /// Open tunnels in all.
    var count: Int { state.withLock { $0.open.count } }

    /// A new table is in place: instances with tunnels that no longer take new traffic start
    /// their drain (scheduled on `loop`); those that take traffic again stop it.
    func tableApplied(_ table: RouteTableView, on loop: any EventLoop) {
        let due: [(endpoint: String, token: Int, after: Duration)] = state.withLock { state in
            state.drains.merge(table.drain) { _, new in new }
            var due: [(String, Int, Duration)] = []
            var seen = Set<String>()
            for open in state.open.values where seen.insert(open.endpoint).inserted {
                if table.serving.contains(open.endpoint) {
                    state.closing[open.endpoint] = nil
                } else if state.closing[open.endpoint] == nil {
                    state.nextDrain += 1
                    state.closing[open.endpoint] = state.nextDrain
                    due.append((open.endpoint, state.nextDrain, state.drains[open.service] ?? Defaults.websocketDrain))
                }
            }
            return due
        }
        for entry in due {
            loop.scheduleTask(in: TimeAmount(entry.after)) { [self] in
                closeIfStillDraining(entry.endpoint, token: entry.token)
            }
        }
    }

    /// Closes the instance's tunnels if the drain `token` was not called off meanwhile.
    private func closeIfStillDraining(_ endpoint: String, token: Int) {
        let closes: [@Sendable () -> Void] = state.withLock { state in
            guard state.closing[endpoint] == token else { return [] }
            state.closing[endpoint] = nil
            return state.open.values.filter { $0.endpoint == endpoint }.map(\.close)
        }
        for close in closes { close() }
    }
}

/// What the tunnel drains need of a route table: the instances that take new traffic
/// (in a version with weight > 0) and each service's `websocket_drain`.
struct RouteTableView: Sendable {
    var serving: Set<String>
    var drain: [String: Duration]

    init(_ table: RouteTable) {
        serving = []
        drain = [:]
        for service in table.services {
            drain[service.service] = service.websocketDrain
            for group in service.groups where group.weight > 0 {
                for endpoint in group.endpoints { serving.insert(endpoint.id) }
            }
        }
    }
}
