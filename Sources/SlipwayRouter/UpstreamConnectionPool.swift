import NIOCore

/// Idle keep-alive connections to instances, for one event loop (no locking: only its loop
/// touches it). Keyed by the endpoint's `host:port` key; LIFO so the warmest connection is
/// reused first; capped per endpoint; idle connections are closed after `idleTimeout`.
final class UpstreamConnectionPool {
    let loop: any EventLoop
    let maxIdlePerEndpoint: Int
    let idleTimeout: TimeAmount
    let connectTimeout: TimeAmount
    private let connector: any UpstreamConnector
    private var idle: [Int: [UpstreamHandler]] = [:]
    private var sweeper: Scheduled<Void>?

    init(loop: any EventLoop, connector: any UpstreamConnector, maxIdlePerEndpoint: Int = 64, idleTimeout: TimeAmount = .seconds(30), connectTimeout: TimeAmount = .seconds(5)) {
        self.loop = loop
        self.connector = connector
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
    }

    /// An idle open connection to `endpoint`, if there is one. The lists are changed in
    /// place (`idle[key]?.popLast()`): taking a copy out of the dictionary and storing it
    /// back copied the whole list, a retain and a release per idle connection, per request.
    func takeIdle(for endpoint: EndpointState) -> UpstreamHandler? {
        while let handler = idle[endpoint.poolKey]?.popLast() {
            handler.idlePool = nil
            if handler.isActive { return handler }
            handler.close()
        }
        return nil
    }

    func connect(to endpoint: EndpointState) -> EventLoopFuture<UpstreamHandler> {
        connector.connect(to: endpoint, on: loop, timeout: connectTimeout)
    }

    /// Returns a connection whose last exchange finished cleanly and may be reused.
    func release(_ handler: UpstreamHandler, for endpoint: EndpointState, now: UInt64) {
        handler.delegate = nil
        handler.holdReads(false)
        guard handler.isActive else { return }
        guard !handler.isStream else {
            handler.close()
            return
        }
        let key = endpoint.poolKey
        guard idle[key]?.count ?? 0 < maxIdlePerEndpoint else {
            handler.close()
            return
        }
        handler.idleSince = now
        handler.idlePool = self
        handler.idleKey = key
        idle[key, default: []].append(handler)
        startSweeperIfNeeded()
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }

    /// Closes idle connections to endpoints whose pool key is not in `keep`.
    func retain(keys keep: Set<Int>) {
        for (key, list) in idle where !keep.contains(key) {
            idle[key] = nil
            for handler in list { handler.close() }
        }
    }

    func closeAll() {
        sweeper?.cancel()
        sweeper = nil
        let all = idle
        idle = [:]
        for list in all.values { for handler in list { handler.close() } }
    }

    /// Closes connections idle for longer than `idleTimeout` at `now`.
    func sweep(now: UInt64) {
        let limit = UInt64(max(0, idleTimeout.nanoseconds))
        for (key, list) in idle {
            let (stale, fresh) = (list.filter { now &- $0.idleSince >= limit }, list.filter { now &- $0.idleSince < limit })
            guard !stale.isEmpty else { continue }
            idle[key] = fresh.isEmpty ? nil : fresh
            for handler in stale { handler.close() }
        }
    }

    /// An idle connection closed (by the instance, or idle too long).
    func remove(_ handler: UpstreamHandler, key: Int) {
        guard let index = idle[key]?.firstIndex(where: { $0 === handler }) else { return }
        idle[key]?.remove(at: index)
        if idle[key]?.isEmpty == true { idle[key] = nil }
    }

    private func startSweeperIfNeeded() {
        guard sweeper == nil else { return }
        let interval = TimeAmount.nanoseconds(max(idleTimeout.nanoseconds / 4, 100_000_000))
        sweeper = loop.assumeIsolated().scheduleTask(in: interval) { [weak self] in
            guard let self else { return }
            self.sweeper = nil
            self.sweep(now: NIODeadline.now().uptimeNanoseconds)
            if !self.idle.isEmpty { self.startSweeperIfNeeded() }
        }
    }
}
