import NIOCore
import NIOPosix

/// Opens upstream connections on a given loop. The real one uses NIOPosix sockets; tests
/// supply one that hands out `EmbeddedChannel`s.
protocol UpstreamConnector: Sendable {
    /// Connects to `endpoint` on `loop` and returns the configured `UpstreamHandler`.
    /// The future completes on `loop`.
    func connect(to endpoint: EndpointState, on loop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<UpstreamHandler>
}

struct PosixUpstreamConnector: UpstreamConnector {
    func connect(to endpoint: EndpointState, on loop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<UpstreamHandler> {
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try UpstreamHandler.configure(channel)
                }
            }
        let connected: EventLoopFuture<Channel>
        if let address = endpoint.address {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: endpoint.endpoint.host, port: endpoint.endpoint.port)
        }
        return connected.flatMapThrowing { channel in
            try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
        }
    }
}
