import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// HTTP/2 connections to the instances of `upstream: h2c` services (gRPC servers), for one
/// event loop (no locking: only its loop touches it). One connection per instance, shared
/// by every request of the loop, each request on its own stream behind swift-nio-http2's
/// HTTP/2 → HTTP/1 client codec, so `ProxyServerHandler` drives it exactly as an HTTP/1.1
/// connection (trailers included). Streams beyond the instance's
/// `SETTINGS_MAX_CONCURRENT_STREAMS` wait in swift-nio-http2 until one ends.
///
/// A connection that received GOAWAY, failed or closed takes no new streams (its open ones
/// finish); the next request opens a new one. Connections without streams for
/// `idleTimeout`, and those to instances that left the table, are closed.
final class UpstreamHTTP2Pool {
    final class Connection {
        let channel: Channel
        let multiplexer: NIOHTTP2Handler.StreamMultiplexer
        let key: Int
        var openStreams = 0
        /// GOAWAY received, or the instance left the table: no new streams.
        var closing = false
        /// When the last stream ended (uptime nanoseconds).
        var idleSince: UInt64 = 0

        init(channel: Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer, key: Int) {
            self.channel = channel
            self.multiplexer = multiplexer
            self.key = key
        }

        var usable: Bool { !closing && channel.isActive }
    }

    /// Settings the router announces to instances: no server push, 1 MiB windows.
    static let windowSize = 1 << 20

    let loop: any EventLoop
    let idleTimeout: TimeAmount
    let connectTimeout: TimeAmount
    private var connections: [Int: Connection] = [:]
    /// Requests waiting for a connection being made, per endpoint.
    private var connecting: [Int: [(Result<Connection, any Error>) -> Void]] = [:]
    private var sweeper: Scheduled<Void>?

    init(loop: any EventLoop, idleTimeout: TimeAmount = .seconds(30), connectTimeout: TimeAmount = .seconds(5)) {
        self.loop = loop
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
    }

    /// A new stream to `endpoint`, set up as an upstream "connection" for one request.
    /// The future completes on `loop`.
    func stream(to endpoint: EndpointState) -> EventLoopFuture<UpstreamHandler> {
        let promise = loop.makePromise(of: UpstreamHandler.self)
        connection(to: endpoint) { [self] result in
            switch result {
            case .success(let connection): openStream(on: connection, promise: promise)
            case .failure(let error): promise.fail(error)
            }
        }
        return promise.futureResult
    }

    var connectionCount: Int { connections.count }

    /// Closes connections to endpoints whose pool key is not in `keep` (at once when idle,
    /// else when their last stream ends).
    func retain(keys keep: Set<Int>) {
        for (key, connection) in connections where !keep.contains(key) {
            connections[key] = nil
            connection.closing = true
            if connection.openStreams == 0 { connection.channel.close(promise: nil) }
        }
    }

    func closeAll() {
        sweeper?.cancel()
        sweeper = nil
        let all = connections
        connections = [:]
        for connection in all.values {
            connection.closing = true
            connection.channel.close(promise: nil)
        }
    }

    /// Closes connections without streams for longer than `idleTimeout` at `now`.
    func sweep(now: UInt64) {
        let limit = UInt64(max(0, idleTimeout.nanoseconds))
        for (key, connection) in connections where connection.openStreams == 0 && now &- connection.idleSince >= limit {
            connections[key] = nil
            connection.closing = true
            connection.channel.close(promise: nil)
        }
    }

    // MARK: Connections

    /// Calls `done` (on `loop`) with the usable connection to `endpoint`: the open one, or
    /// a new one (requests arriving while it connects wait for the same).
    private func connection(to endpoint: EndpointState, _ done: @escaping (Result<Connection, any Error>) -> Void) {
        let key = endpoint.poolKey
        if let existing = connections[key] {
            if existing.usable { return done(.success(existing)) }
            connections[key] = nil
        }
        if connecting[key] != nil {
            connecting[key]!.append(done)
            return
        }
        connecting[key] = [done]
        connect(to: endpoint, key: key) { [self] result in
            let waiting = connecting.removeValue(forKey: key) ?? []
            if case .success(let connection) = result, connection.usable {
                connections[key] = connection
                connection.idleSince = NIODeadline.now().uptimeNanoseconds
                startSweeperIfNeeded()
            }
            for waiter in waiting { waiter(result) }
        }
    }

    private func connect(to endpoint: EndpointState, key: Int, _ done: @escaping (Result<Connection, any Error>) -> Void) {
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel)
                }
            }
        let connected = endpoint.address.map { bootstrap.connect(to: $0) }
            ?? bootstrap.connect(host: endpoint.endpoint.host, port: endpoint.endpoint.port)
        connected.hop(to: loop).assumeIsolated().whenComplete { [self] result in
            done(result.flatMap { channel in
                Result {
                    let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
                    let connection = Connection(channel: channel, multiplexer: multiplexer, key: key)
                    let watcher = try channel.pipeline.syncOperations.handler(type: GoAwayWatcher.self)
                    watcher.onGoAway = { [weak connection] in connection?.closing = true }
                    channel.closeFuture.assumeIsolated().whenComplete { [weak self, weak connection] _ in
                        guard let self, let connection else { return }
                        connection.closing = true
                        if self.connections[key] === connection { self.connections[key] = nil }
                    }
                    return connection
                }
            })
        }
    }

    /// An HTTP/2 client connection: the router's settings, no pushed streams accepted, and
    /// a watcher for the instance's GOAWAY.
    static func configure(_ channel: Channel) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .enablePush, value: 0),
            HTTP2Setting(parameter: .initialWindowSize, value: windowSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HTTP2Listener.maxHeaderListSize),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = windowSize
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: connection, streamConfiguration: stream
        ) { pushed in
            pushed.close()
        }
        try channel.pipeline.syncOperations.addHandler(GoAwayWatcher())
    }

    private func openStream(on connection: Connection, promise: EventLoopPromise<UpstreamHandler>) {
        let created = loop.makePromise(of: Channel.self)
        connection.multiplexer.createStreamChannel(promise: created) { stream in
            stream.eventLoop.makeCompletedFuture {
                _ = try UpstreamHandler.configureStream(stream)
            }
        }
        connection.openStreams += 1
        created.futureResult.assumeIsolated().whenComplete { [self] result in
            do {
                let stream = try result.get()
                stream.closeFuture.assumeIsolated().whenComplete { [self] _ in streamEnded(on: connection) }
                promise.assumeIsolated().succeed(try stream.pipeline.syncOperations.handler(type: UpstreamHandler.self))
            } catch {
                // No stream was made (the connection failed or went away meanwhile).
                streamEnded(on: connection)
                promise.fail(error)
            }
        }
    }

    private func streamEnded(on connection: Connection) {
        connection.openStreams = max(0, connection.openStreams - 1)
        guard connection.openStreams == 0 else { return }
        connection.idleSince = NIODeadline.now().uptimeNanoseconds
        if connection.closing { connection.channel.close(promise: nil) }
    }

    private func startSweeperIfNeeded() {
        guard sweeper == nil else { return }
        let interval = TimeAmount.nanoseconds(max(idleTimeout.nanoseconds / 4, 100_000_000))
        sweeper = loop.assumeIsolated().scheduleTask(in: interval) { [weak self] in
            guard let self else { return }
            self.sweeper = nil
            self.sweep(now: NIODeadline.now().uptimeNanoseconds)
            if !self.connections.isEmpty { self.startSweeperIfNeeded() }
        }
    }
}

/// Sees the connection-level frames swift-nio-http2 passes down the connection's pipeline
/// and reports a GOAWAY: the instance takes no new streams on this connection.
final class GoAwayWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame

    var onGoAway: (() -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload {
            onGoAway?()
            onGoAway = nil
        }
    }
}
