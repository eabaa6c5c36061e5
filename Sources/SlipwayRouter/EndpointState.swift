import NIOCore
import SlipwayCore
import Synchronization

/// Everything the router knows about one instance. Shared by every table that names the
/// instance (keyed by endpoint id), so health and in-flight counts survive table swaps.
final class EndpointState: Sendable {
    let endpoint: Endpoint
    let service: String
    let version: String
    /// Small integer naming `host:port`, the upstream pool's key (cheap to hash per request).
    let poolKey: Int
    /// Resolved once when the endpoint first appears; nil when `host` needs a DNS lookup.
    let address: SocketAddress?

    let inflight = Atomic<Int>(0)
    private let activelyHealthy = Atomic<Bool>(false)
    let passive: PassiveHealth
    private let active: Mutex<HealthThresholds>

    init(endpoint: Endpoint, service: String, version: String, poolKey: Int, health: HealthSpec, firstSeen: NIODeadline) {
        self.endpoint = endpoint
        self.service = service
        self.version = version
        self.poolKey = poolKey
        // NIO traps on a port outside UInt16; a table never has one (decoding refuses it),
        // and an endpoint made in code with one gets no address (its connections fail).
        self.address = (0...65535).contains(endpoint.port) ? try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) : nil
        self.passive = PassiveHealth(failureRunLimit: health.passiveFailures, cooldown: health.passiveEjection)
        let known = endpoint.healthy == true
        self.active = Mutex(HealthThresholds(healthyAfter: health.healthy, unhealthyAfter: health.unhealthy, grace: health.grace, firstSeen: firstSeen, healthy: known))
        activelyHealthy.store(known, ordering: .relaxed)
    }

    var id: String { endpoint.id }
    var isActivelyHealthy: Bool { activelyHealthy.load(ordering: .relaxed) }

    /// Healthy by active checks and not ejected by passive health.
    @inline(__always)
    func isAvailable(now: UInt64) -> Bool {
        activelyHealthy.load(ordering: .relaxed) && !passive.isEjected(now: now)
    }

    /// Feeds one active check outcome; returns the transition, if any.
    func recordActive(_ outcome: HealthThresholds.Outcome, at now: NIODeadline) -> HealthThresholds.Transition? {
        active.withLock { machine in
            let transition = machine.record(outcome, at: now)
            activelyHealthy.store(machine.isHealthy, ordering: .relaxed)
            return transition
        }
    }

    var thresholds: HealthThresholds { active.withLock { $0 } }

    /// Used by tests and by callers that trust an endpoint without checks.
    func forceActiveHealth(_ healthy: Bool) { activelyHealthy.store(healthy, ordering: .relaxed) }

    func beginRequest() { inflight.wrappingAdd(1, ordering: .relaxed) }
    func endRequest() { inflight.wrappingSubtract(1, ordering: .relaxed) }
    /// Upgraded connections (WebSocket…) relayed to this instance right now; each also
    /// holds one in-flight request until it closes.
    let tunnels = Atomic<Int>(0)
    func tunnelOpened() { tunnels.wrappingAdd(1, ordering: .relaxed) }
    func tunnelClosed() { tunnels.wrappingSubtract(1, ordering: .relaxed) }
}
