import NIOCore
import NIOHTTP1
import NIOHTTP2

/// What an upstream connection reports to the request currently using it.
protocol UpstreamDelegate: AnyObject {
    func upstreamRead(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    /// The connection failed or closed while this delegate was attached.
    func upstreamFailed(_ error: any Error)
}

/// The last handler of an upstream (router → instance) channel. Relays response parts to
/// the attached request and holds reads while the client side cannot take more bytes.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var delegate: (any UpstreamDelegate)?
    /// One HTTP/2 stream (`upstream: h2c`): it carries one request and is never pooled.
    let isStream: Bool

    init(isStream: Bool = false) {
        self.isStream = isStream
    }
    /// Set while the connection sits idle in a pool (under `idleKey` there), so an upstream
    /// close removes it. (A reference and a key, not a closure: pooling a connection after
    /// each request allocates nothing.)
    weak var idlePool: UpstreamConnectionPool?
    var idleKey = 0
    /// When the connection went idle (uptime nanoseconds).
    var idleSince: UInt64 = 0

    private(set) var context: ChannelHandlerContext?
    private var holdingReads = false
    private var readPending = false

    var channel: Channel? { context?.channel }
    var isActive: Bool { context?.channel.isActive ?? false }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let delegate {
            delegate.upstreamRead(unwrapInboundIn(data))
        } else {
            // Bytes on an idle connection: the instance is confused; do not reuse it.
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let delegate {
            self.delegate = nil
            delegate.upstreamFailed(ChannelError.eof)
        }
        if let idlePool {
            self.idlePool = nil
            idlePool.remove(self, key: idleKey)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let delegate {
            self.delegate = nil
            delegate.upstreamFailed(error)
        }
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if holdingReads {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Stops (true) or resumes (false) reading responses from the instance.
    func holdReads(_ hold: Bool) {
        holdingReads = hold
        if !hold, readPending, let context {
            readPending = false
            context.read()
        }
    }

    func write(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func flush() { context?.flush() }

    func close() {
        delegate = nil
        idlePool = nil
        context?.close(promise: nil)
    }

    /// Installs the HTTP client codec and an `UpstreamHandler` on a fresh upstream channel.
    /// The decoder hands on the bytes it read past a `101 Switching Protocols` when it is
    /// removed (see `TunnelHandler.splice`).
    static func configure(_ channel: Channel) throws -> UpstreamHandler {
        let handler = UpstreamHandler()
        // No outbound header validation: a request's headers were checked when the client's
        // request was parsed (HTTP/1.1 or HTTP/2), and the forwarding headers are the
        // router's own (see `ProxyServerHandler.install`).
        try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes, enableOutboundHeaderValidation: false)
        try channel.pipeline.syncOperations.addHandler(handler)
        return handler
    }

    /// Installs swift-nio-http2's HTTP/2 → HTTP/1 client codec and an `UpstreamHandler` on a
    /// new HTTP/2 stream to an `upstream: h2c` instance.
    static func configureStream(_ stream: Channel) throws -> UpstreamHandler {
        let handler = UpstreamHandler(isStream: true)
        try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
        try stream.pipeline.syncOperations.addHandler(handler)
        return handler
    }
}
