import NIOCore
import NIOHTTP1

/// One end of an upgraded connection (WebSocket or any other `Upgrade`): after the
/// instance answered `101 Switching Protocols`, the client's and the instance's channels
/// each end in a `TunnelHandler`, and the pair relays bytes both ways.
///
/// Backpressure: a side reads only while its partner's channel is writable, so a slow
/// reader on one end stops reading on the other instead of buffering without bound.
/// Either side closing (or failing) closes the other; `onClose` runs once, when the
/// first side goes.
final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: TunnelHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false
    private let closed: Box

    /// Shared by both ends: whether the tunnel was already torn down.
    private final class Box {
        var done = false
        let onClose: () -> Void
        init(onClose: @escaping () -> Void) { self.onClose = onClose }
    }

    private init(_ closed: Box) { self.closed = closed }

    /// Two connected ends: the first for the client's channel, the second for the instance's.
    static func pair(onClose: @escaping () -> Void) -> (client: TunnelHandler, upstream: TunnelHandler) {
        let box = Box(onClose: onClose)
        let a = TunnelHandler(box)
        let b = TunnelHandler(box)
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        tearDown()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    // MARK: From the partner

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerBecameWritable() {
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    /// Closes both channels (flushing what was relayed so far) and reports the end once.
    private func tearDown() {
        let other = partner
        partner = nil
        other?.partner = nil
        if let context { context.close(promise: nil) }
        if let otherContext = other?.context {
            otherContext.flush()
            otherContext.close(promise: nil)
        }
        if !closed.done {
            closed.done = true
            closed.onClose()
        }
    }

    /// Closes the tunnel from outside (the instance is retired and the drain ran out).
    func close() {
        tearDown()
    }
}

extension TunnelHandler {
    /// Moves a client connection and its instance connection from HTTP to a tunnel, once
    /// the instance's `101` went out to the client. Both channels must be on the calling
    /// event loop, and neither decoder may be mid-decode (call it on a later loop turn).
    ///
    /// Order matters: the tunnel ends join first; then every HTTP handler that would see
    /// raw bytes as messages leaves (the response decoder also watches outbound writes);
    /// the decoders go last, handing on the bytes they read past the upgrade (a client
    /// may send its first frames right behind the request, an instance right behind the 101).
    /// (Neither pipeline has NIO's outbound header validators: see `ProxyServerHandler.install`.)
    static func splice(_ ends: (client: TunnelHandler, upstream: TunnelHandler), client: Channel, upstream: Channel) throws {
        let (clientEnd, upstreamEnd) = ends
        let c = client.pipeline.syncOperations
        let u = upstream.pipeline.syncOperations
        do {
            try c.addHandler(clientEnd)
            try u.addHandler(upstreamEnd)
            c.removeHandler(try c.handler(type: ProxyServerHandler.self), promise: nil)
            c.removeHandler(try c.handler(type: HTTPResponseEncoder.self), promise: nil)
            u.removeHandler(try u.handler(type: UpstreamHandler.self), promise: nil)
            u.removeHandler(try u.handler(type: HTTPRequestEncoder.self), promise: nil)
            u.removeHandler(try u.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self), promise: nil)
            c.removeHandler(try c.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
        } catch {
            clientEnd.close()
            throw error
        }
        // A decoder leaves on the next loop turn (NIO defers it), handing on its left-over
        // bytes without a read-complete: flush after that, and let reads that a removed
        // HTTP handler was holding back start again (each end reads only while its partner
        // can write).
        client.eventLoop.assumeIsolated().execute {
            client.flush()
            upstream.flush()
            client.read()
            upstream.read()
        }
    }
}
