import Logging
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SlipwayCore
@testable import SlipwayRouter

/// Hands out `EmbeddedChannel`s as upstream connections so tests can play the instance.
final class EmbeddedConnector: UpstreamConnector, @unchecked Sendable {
    let loop: EmbeddedEventLoop
    private(set) var channels: [(endpoint: String, channel: EmbeddedChannel)] = []
    /// Endpoint ids whose connections are refused.
    var refuse: Set<String> = []

    init(loop: EmbeddedEventLoop) { self.loop = loop }

    func connect(to endpoint: EndpointState, on loop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<UpstreamHandler> {
        if refuse.contains(endpoint.id) {
            return loop.makeFailedFuture(IOError(errnoCode: ECONNREFUSED, reason: "connect"))
        }
        let channel = EmbeddedChannel(loop: self.loop)
        do {
            let handler = try UpstreamHandler.configure(channel)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: endpoint.endpoint.port)).wait()
            channels.append((endpoint.id, channel))
            return loop.assumeIsolated().makeSucceededFuture(handler)
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    func channel(for endpoint: String, index: Int = 0) -> EmbeddedChannel? {
        let matching = channels.filter { $0.endpoint == endpoint }
        return index < matching.count ? matching[index].channel : nil
    }
}

/// A client connection into a `ProxyServerHandler` on an embedded loop.
struct EmbeddedProxy {
    let loop = EmbeddedEventLoop()
    let connector: EmbeddedConnector
    let registry = EndpointRegistry(shardCount: 1)
    let context: LoopContext
    let client: EmbeddedChannel
    let reads = ReadCounter()
    static let listen = ListenAddress(host: "127.0.0.1", port: 8080)

    init(table: RouteTable, healthy: Bool = true) throws {
        connector = EmbeddedConnector(loop: loop)
        context = LoopContext(loop: loop, index: 0, connector: connector, random: FastRandom(seed: 7), logger: Logger(label: "test"))
        client = EmbeddedChannel(loop: loop)
        install(table, healthy: healthy)
        try client.pipeline.syncOperations.addHandler(reads)
        try ProxyServerHandler.install(on: client, loop: context, listenAddress: Self.listen, tls: false)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        client.remoteAddress = try SocketAddress(ipAddress: "10.1.2.3", port: 40000)
    }

    func install(_ table: RouteTable, healthy: Bool = true) {
        let snapshot = registry.compile(table)
        for (endpoint, _) in snapshot.endpoints { endpoint.forceActiveHealth(healthy) }
        context.install(snapshot)
    }

    func send(_ text: String) throws {
        try client.writeInbound(ByteBuffer(string: text))
    }

    func clientOutput() throws -> String { try Self.drain(client) }

    /// A second client connection on the same loop (same pool and table).
    func openClient() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try ProxyServerHandler.install(on: channel, loop: context, listenAddress: Self.listen, tls: false)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        channel.remoteAddress = try SocketAddress(ipAddress: "10.1.2.4", port: 40001)
        return channel
    }

    func send(_ text: String, on channel: EmbeddedChannel) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    static func drain(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        return text
    }

    static func route(_ service: String = "web", hosts: [String] = [], groups: [BackendGroup], timeout: Duration = .seconds(60)) -> ServiceRoute {
        ServiceRoute(service: service, listen: listen, hosts: hosts, groups: groups, upstreamTimeout: timeout)
    }
}

/// Counts `read()` calls that reach the head of the pipeline (i.e. were not held back).
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private(set) var count = 0
    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}
