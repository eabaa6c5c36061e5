import NIOCore
import NIOHTTP1
import NIOHTTP2
import SlipwayCore

/// HTTP/2 from clients: over TLS when ALPN picks `h2`, and in cleartext (`h2c`) when the
/// connection starts with the HTTP/2 preface (prior knowledge). Each stream is one request,
/// handled by its own `ProxyServerHandler` behind swift-nio-http2's HTTP/2 → HTTP/1 codec,
/// so weights, stickiness, pins, edge rules and numbers apply per request exactly as on
/// HTTP/1.1, and requests of one connection may go to different versions. Instances are
/// reached over HTTP/1.1, or as HTTP/2 streams for `upstream: h2c` (`UpstreamHTTP2Pool`).
///
/// Limits (swift-nio-http2's protections, set here explicitly): 256 concurrent streams, a
/// 64 KiB header list (a larger HPACK-decoded list resets the stream), flow-control windows
/// of 1 MiB per stream; rapid-reset floods (CVE-2023-44487), floods of empty frames,
/// control frames and CONTINUATIONs and other protocol misuse end the connection with
/// GOAWAY, leaving other connections alone.
enum HTTP2Listener {
    static let maxConcurrentStreams = 256
    static let maxHeaderListSize = 65536
    static let windowSize = 1 << 20

    /// Makes `channel` an HTTP/2 server connection whose streams are proxied.
    static func install(on channel: Channel, contexts: LoopContexts, listenAddress: ListenAddress, tls: Bool) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderListSize),
            HTTP2Setting(parameter: .initialWindowSize, value: windowSize),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = windowSize
        // Before the HTTP/2 handler: it writes its GOAWAY as bytes (see HTTP2Drain).
        let drain = HTTP2Drain()
        try channel.pipeline.syncOperations.addHandler(drain)
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream, streamDelegate: drain
        ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
                let loop = contexts.context(for: streamChannel.eventLoop)
                try streamChannel.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try streamChannel.pipeline.syncOperations.addHandler(ProxyServerHandler(loop: loop, listenAddress: listenAddress, tls: tls))
            }
        }
    }
}

/// Ends an HTTP/2 connection gracefully when the router drains (a hand-over): on NIO's
/// `ChannelShouldQuiesceEvent` it tells the client `GOAWAY NO_ERROR` with the highest stream
/// id (RFC 9113 6.8: open no new streams here; everything sent so far is served), lets the
/// open streams finish, and closes the connection once none is left — not sooner than a
/// second after the GOAWAY, so that streams the client opened before it saw the GOAWAY are
/// still served.
///
/// The GOAWAY is written as bytes below swift-nio-http2's handler rather than through it: its
/// state machine treats any GOAWAY it sent as final and refuses (`REFUSED_STREAM`) new
/// streams as soon as none is open, which fails a request that crossed the GOAWAY on the
/// wire. Here the handler keeps accepting streams until the connection closes.
final class HTTP2Drain: ChannelDuplexHandler, NIOHTTP2StreamDelegate, @unchecked Sendable {
    // Only touched on the connection's event loop (swift-nio-http2 calls the stream
    // delegate there).
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let grace = TimeAmount.seconds(1)
    /// GOAWAY (type 7) on stream 0: last stream id 2^31-1, error NO_ERROR.
    static let goAway: [UInt8] = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]

    private var open = 0
    private var draining = false
    private var graceOver = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func streamCreated(_ id: HTTP2StreamID, channel: Channel) { open += 1 }

    func streamClosed(_ id: HTTP2StreamID, channel: Channel) {
        open = max(0, open - 1)
        closeIfDone()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !draining {
            draining = true
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: Self.goAway)), promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.grace) { [self] in
                graceOver = true
                closeIfDone()
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func closeIfDone() {
        guard draining, graceOver, open == 0, let context else { return }
        context.close(promise: nil)
    }
}

/// The first handler of a cleartext connection: looks at the first bytes and sets the
/// connection up for HTTP/2 (they are the HTTP/2 connection preface) or HTTP/1.1 (anything
/// else, known from the first byte that differs), then hands on what it read and leaves.
final class HTTPVersionSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private var buffered: ByteBuffer?
    private let configure: (Channel, _ http2: Bool) throws -> Void

    init(configure: @escaping (Channel, _ http2: Bool) throws -> Void) {
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        let bytes = buffered!.readableBytesView
        let count = min(bytes.count, Self.preface.count)
        let matches = bytes.prefix(count).elementsEqual(Self.preface.prefix(count))
        if matches && count < Self.preface.count { return }
        decide(context: context, http2: matches)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Undecided (part of the preface so far): nothing to pass on yet.
        if buffered == nil { context.fireChannelReadComplete() }
    }

    private func decide(context: ChannelHandlerContext, http2: Bool) {
        do {
            try configure(context.channel, http2)
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        if let bytes = buffered {
            buffered = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
