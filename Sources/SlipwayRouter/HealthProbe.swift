import NIOCore
import NIOHTTP1
import NIOPosix

/// One active health check: `GET path` over a fresh connection (`Connection: close`),
/// passing on a 2xx or 3xx status within the timeout.
enum HealthProbe {
    static func run(endpoint: EndpointState, path: String, timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<HealthThresholds.Outcome> {
        let promise = loop.makePromise(of: HealthThresholds.Outcome.self)
        let host = endpoint.endpoint.host
        let port = endpoint.endpoint.port
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ProbeHandler(host: host, port: port, path: path, promise: promise))
                }
            }
        let deadline = loop.scheduleTask(in: timeout) {
            promise.fail(ProbeTimeout())
        }
        let connected = endpoint.address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: host, port: port)
        connected.whenFailure { promise.fail($0) }
        promise.futureResult.whenComplete { _ in
            deadline.cancel()
            connected.whenSuccess { $0.close(promise: nil) }
        }
        return promise.futureResult.recover { error in
            if error is ProbeTimeout { return .failure("timed out after \(ErrorDescription.format(timeout))") }
            if case ChannelError.connectTimeout = error { return .failure("timed out after \(ErrorDescription.format(timeout))") }
            return .failure(ErrorDescription.describe(error))
        }
    }

    struct ProbeTimeout: Error {}

    private final class ProbeHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        let host: String
        let port: Int
        let path: String
        let promise: EventLoopPromise<HealthThresholds.Outcome>

        init(host: String, port: Int, path: String, promise: EventLoopPromise<HealthThresholds.Outcome>) {
            self.host = host
            self.port = port
            self.path = path
            self.promise = promise
        }

        func channelActive(context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
            headers.add(name: "User-Agent", value: "slipway-health")
            headers.add(name: "Connection", value: "close")
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data) {
                let code = head.status.code
                if code >= 100 && code < 200 { return }
                promise.succeed((200..<400).contains(code) ? .success : .failure("HTTP \(code)"))
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.eof)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
