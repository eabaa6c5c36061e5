import Logging
import NIOCore
import SlipwayCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The data-plane reverse proxy (HTTP/1.1 and HTTP/2 from clients, upgrades as tunnels). The control plane hands it whole `RouteTable`s;
/// requests read the table each event loop holds, with no locks or actor hops.
public final class Router: Sendable {
    private let group: any EventLoopGroup
    private let logger: Logger
    private let registry: EndpointRegistry
    private let contexts: LoopContexts
    private let listeners: Listeners
    private let checker: HealthChecker
    private let applier = ApplyQueue()
    private let current = Mutex(RoutingSnapshot.empty)
    /// Request spans of services with `trace_requests`.
    private let requestTracing: RequestTracing
    /// Set once this router handed its listeners to a successor: it applies no more tables.
    private let handedOver = Atomic<Bool>(false)

    public convenience init(eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.init(eventLoopGroup: eventLoopGroup, logger: logger, connector: PosixUpstreamConnector())
    }

    init(eventLoopGroup: any EventLoopGroup, logger: Logger, connector: any UpstreamConnector, now: @escaping @Sendable () -> NIODeadline = { .now() }) {
        self.group = eventLoopGroup
        self.logger = logger
        self.contexts = LoopContexts(group: eventLoopGroup, connector: connector, logger: logger)
        self.registry = EndpointRegistry(shardCount: contexts.count, now: now)
        self.listeners = Listeners(group: eventLoopGroup, contexts: contexts, logger: logger)
        self.checker = HealthChecker(group: eventLoopGroup, logger: logger, now: now)
        self.requestTracing = RequestTracing(logger: logger)
    }

    /// Binds listeners for new addresses, closes listeners no longer used (after their
    /// connections finish), runs health checks for the table's endpoints, and swaps the
    /// table in atomically. Tables with a generation lower than the current one are ignored.
    /// Returns one ListenFailure per address that could not be bound (the rest still apply).
    public func apply(_ table: RouteTable) async -> [ListenFailure] {
        await applier.run {
            let previous = self.current.withLock { $0 }
            if self.handedOver.load(ordering: .relaxed) {
                self.logger.warning("ignoring a route table: this router handed its listeners over", metadata: ["slipway.generation": "\(table.generation)"])
                return []
            }
            if table.generation < previous.table.generation {
                // Told at info: a control plane behind this router's generations (another
                // one drove it, or its state was restored) sees it and pushes above it.
                self.logger.info("ignoring an older route table", metadata: [
                    "slipway.generation": "\(table.generation)", "slipway.current": "\(previous.table.generation)",
                ])
                return []
            }
            self.requestTracing.configure(url: table.tracesURL, headers: table.tracesHeaders)
            let snapshot = self.registry.compile(table) { self.requestTracing.tracer(share: $0) }
            for problem in snapshot.problems where !previous.problems.contains(problem) {
                self.logger.warning("\(problem.message)", metadata: ["slipway.service": "\(problem.service)"])
            }
            var failures: [ListenFailure] = []
            let wanted = table.listenAddresses
            for address in wanted.sorted(by: { $0.description < $1.description }) {
                let bound = self.listeners.addresses.contains(address)
                switch ListenerTLSPlan.outcome(for: address, in: table) {
                case .failed(let service, let message):
                    // A bound listener keeps its previous certificate (or plain HTTP); an
                    // unbound one is not opened rather than opened without TLS.
                    let kept = bound ? "; the listener keeps serving with its previous settings" : "; not listening"
                    failures.append(ListenFailure(address: address, service: service, message: message + kept))
                    self.logger.error("tls settings unusable", metadata: ["slipway.listen": "\(address)", "slipway.error": "\(message)"])
                    continue
                case .plain:
                    self.listeners.tls(for: address).set(nil, context: nil)
                case .tls(let spec, let context):
                    self.listeners.tls(for: address).set(spec, context: context)
                }
                if bound { continue }
                do {
                    try await self.listeners.bind(address)
                } catch {
                    let service = table.services.first { $0.listen == address }?.service ?? ""
                    failures.append(ListenFailure(address: address, service: service, message: "could not listen on \(address): \(error)"))
                    self.logger.error("could not listen", metadata: ["slipway.listen": "\(address)", "slipway.error": "\(error)"])
                }
            }
            await self.contexts.install(snapshot)
            self.current.withLock { $0 = snapshot }
            self.contexts.tunnels.tableApplied(RouteTableView(table), on: self.group.next())
            self.checker.update(snapshot)
            for address in self.listeners.addresses where !wanted.contains(address) {
                await self.listeners.close(address)
            }
            self.listeners.closeUnusedInherited()
            self.logger.info("route table applied", metadata: [
                "slipway.generation": "\(table.generation)", "slipway.services": "\(table.services.count)",
            ])
            return failures
        }
    }

    public var currentTable: RouteTable { current.withLock { $0.table } }

    public func health() -> [EndpointHealth] {
        let snapshot = current.withLock { $0 }
        let now = NIODeadline.now().uptimeNanoseconds
        let wallNow = Router.wallClockSeconds()
        return snapshot.endpoints.map { endpoint, _ in
            let thresholds = endpoint.thresholds
            let ejectedUntil = endpoint.passive.ejectedUntil(now: now).map { wallNow + Double($0 - now) / 1e9 }
            return EndpointHealth(
                id: endpoint.id, service: endpoint.service, version: endpoint.version,
                healthy: endpoint.isActivelyHealthy, ejectedUntil: ejectedUntil, lastError: thresholds.lastError,
                consecutiveSuccesses: thresholds.consecutiveSuccesses, consecutiveFailures: thresholds.consecutiveFailures,
                inflight: endpoint.inflight.load(ordering: .relaxed),
                tunnels: endpoint.tunnels.load(ordering: .relaxed)
            )
        }
    }

    /// Requests each service's edge answered itself (429, 403), cumulative.
    public func edgeTotals() -> [EdgeTotals] {
        registry.edgeTotals()
    }

    /// Per-version numbers over the last `window` (1 s to 5 min, rounded up to seconds).
    /// - Parameter latencyBuckets: also fill `VersionStats.latency` with the window's
    ///   latency histogram as buckets (for the canary analysis).
    public func stats(window: Duration, latencyBuckets: Bool = false) -> [VersionStats] {
        let table = currentTable
        let now = NIODeadline.now().uptimeNanoseconds
        let seconds = max(1, min(StatsWindow.seconds, Int((Double(window.milliseconds) / 1000).rounded(.up))))
        return registry.recorders(for: table, nowNanos: now).map { recorder in
            recorder.summary(windowSeconds: seconds, nowNanos: now)
                .versionStats(service: recorder.service, version: recorder.version, windowSeconds: Double(seconds), latencyBuckets: latencyBuckets)
        }
    }

    /// Cumulative per-version counters and latency histogram, for `GET /metrics`: the
    /// versions in the table plus those that saw traffic in the last 5 minutes.
    public func totals() -> [VersionTotals] {
        let now = NIODeadline.now().uptimeNanoseconds
        var tunnels: [String: Int] = [:]
        for (endpoint, _) in current.withLock({ $0 }).endpoints {
            tunnels["\(endpoint.service) \(endpoint.version)", default: 0] += endpoint.tunnels.load(ordering: .relaxed)
        }
        return registry.recorders(for: currentTable, nowNanos: now).map { recorder in
            var totals = recorder.lifetime().versionTotals(service: recorder.service, version: recorder.version)
            totals.openTunnels = tunnels["\(recorder.service) \(recorder.version)"] ?? 0
            return totals
        }
    }

    /// The actual bound port for a listen address (useful when the table asks for port 0).
    public func boundPort(for address: ListenAddress) -> Int? {
        listeners.boundPort(for: address)
    }

    // MARK: Hand-over

    /// How long a drained HTTP/1.1 connection may stay idle before the router closes it;
    /// a drain lasts at least this long plus a second.
    public static let drainIdleGrace: Duration = .seconds(10)

    /// Listening sockets taken over from the router this one replaces; the next `apply`
    /// serves them instead of binding (and closes those its table does not name).
    public func inherit(_ sockets: [ListenAddress: CInt]) {
        listeners.inherit(sockets)
    }

    /// The listening sockets, for a successor.
    public var listeningSockets: [(ListenAddress, CInt)] { listeners.sockets }

    /// After a hand-over: stops accepting (the sockets live on in the successor), stops
    /// health checks, asks every connection to finish (see `LoopContext.quiesceConnections`)
    /// and closes those still open after `deadline` (upgraded connections among them).
    /// Returns how many had to be closed.
    public func drainAfterHandOver(deadline: Duration) async -> Int {
        await applier.run {
            self.handedOver.store(true, ordering: .relaxed)
            self.checker.stopAll()
            await self.listeners.closeAll()
        }
        await contexts.quiesceConnections()
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end, await contexts.connectionCount() > 0 {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = await contexts.connectionCount()
        if left > 0 { await contexts.closeConnections() }
        await contexts.closePools()
        return left
    }

    /// Open client connections on every loop.
    public func connectionCount() async -> Int { await contexts.connectionCount() }

    public func shutdown() async {
        await applier.run {
            self.checker.stopAll()
            await self.listeners.closeAll()
            await self.contexts.closePools()
        }
    }

    static func wallClockSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// Runs `apply` and `shutdown` one at a time, in call order.
actor ApplyQueue {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async -> T) async -> T {
        while busy {
            await withCheckedContinuation { waiters.append($0) }
        }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        return await body()
    }
}
