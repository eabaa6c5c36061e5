import Logging
import NIOCore

/// The per-event-loop half of the router: the current routing snapshot, the upstream
/// pool, the random source and the stats shard index. Only its loop touches it.
final class LoopContext {
    let loop: any EventLoop
    /// Which stats shard this loop writes.
    let index: Int
    var snapshot: RoutingSnapshot
    let pool: UpstreamConnectionPool
    /// HTTP/2 connections to the instances of `upstream: h2c` services.
    let http2Pool: UpstreamHTTP2Pool
    var random: FastRandom
    let logger: Logger
    /// The router's upgraded connections (shared by every loop).
    let tunnels: TunnelRegistry
    /// Client connections accepted on this loop (for a hand-over's drain).
    private(set) var connections: [ObjectIdentifier: any Channel] = [:]

    init(loop: any EventLoop, index: Int, snapshot: RoutingSnapshot = .empty, connector: any UpstreamConnector, random: FastRandom = FastRandom(), logger: Logger,
         tunnels: TunnelRegistry = TunnelRegistry()) {
        self.loop = loop
        self.tunnels = tunnels
        self.index = index
        self.snapshot = snapshot
        self.pool = UpstreamConnectionPool(loop: loop, connector: connector)
        self.http2Pool = UpstreamHTTP2Pool(loop: loop)
        self.random = random
        self.logger = logger
    }

    /// Remembers an accepted client connection until it closes.
    func track(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        connections[key] = channel
        channel.closeFuture.assumeIsolated().whenComplete { [self] _ in connections[key] = nil }
    }

    /// Asks every connection of this loop to finish (NIO's `ChannelShouldQuiesceEvent`):
    /// HTTP/1.1 ones close when idle or after their response, HTTP/2 ones send GOAWAY and
    /// close when their streams are done.
    func quiesceConnections() {
        for channel in connections.values {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Closes every connection still open.
    func closeConnections() {
        for channel in connections.values { channel.close(promise: nil) }
    }

    /// Installs a new snapshot and closes idle connections to endpoints that left it.
    func install(_ snapshot: RoutingSnapshot) {
        self.snapshot = snapshot
        var keys = Set<Int>()
        for (endpoint, _) in snapshot.endpoints { keys.insert(endpoint.poolKey) }
        pool.retain(keys: keys)
        http2Pool.retain(keys: keys)
    }
}
