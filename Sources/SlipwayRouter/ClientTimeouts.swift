import NIOCore

/// Time limits on an HTTP/1.1 client connection, ahead of the request decoder (it sees the
/// raw bytes):
/// - a request head must arrive whole within `ProxyServerHandler.requestHeadTimeout` of its
///   first byte, else the client gets `408 Request Timeout` and the connection closes (a
///   slowloris client that trickles header bytes holds a connection only that long);
/// - a keep-alive connection with no request begun is closed quietly after
///   `ProxyServerHandler.keepAliveIdleTimeout` (no 408 there: a client about to reuse it
///   would read it as its next request's answer).
///
/// One timer per connection, rescheduled only when it fires (at most every
/// `requestHeadTimeout`): a request costs two timestamp writes, not a timer.
final class ClientTimeouts: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    /// No request is in progress: the next bytes begin one.
    private var waitingForHead = true
    private var idleSince = NIODeadline.now()
    /// When the first byte of a head that has not arrived whole yet was read.
    private var partialSince: NIODeadline?

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleSince = context.eventLoop.now
        schedule(at: idleSince + headTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if waitingForHead, partialSince == nil { partialSince = context.eventLoop.now }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// The request's head was decoded.
    func headArrived() {
        waitingForHead = false
        partialSince = nil
    }

    /// The response ended and the connection stays open for the next request.
    func exchangeEnded() {
        waitingForHead = true
        partialSince = nil
        idleSince = context?.eventLoop.now ?? .now()
    }

    /// A tunnel (WebSocket) or HTTP/2 takes the connection over: HTTP/1.1 limits end.
    func stop() {
        timer?.cancel()
        timer = nil
        waitingForHead = false
    }

    private func schedule(at deadline: NIODeadline) {
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in fire() }
    }

    private func fire() {
        timer = nil
        guard let context, context.channel.isActive else { return }
        let now = context.eventLoop.now
        guard waitingForHead else {
            // A request is in progress (its own timeouts apply): look again later.
            schedule(at: now + headTimeout)
            return
        }
        if let partialSince {
            if now - partialSince >= headTimeout {
                timedOut(context)
                return
            }
            schedule(at: partialSince + headTimeout)
            return
        }
        if now - idleSince >= idleTimeout {
            context.close(promise: nil)
            return
        }
        schedule(at: min(idleSince + idleTimeout, now + headTimeout))
    }

    /// Answers 408 and closes (set by `ProxyServerHandler.install`: the answer goes out like
    /// every local answer of the proxy handler).
    var onHeadTimeout: (() -> Void)?

    private func timedOut(_ context: ChannelHandlerContext) {
        waitingForHead = false
        if let onHeadTimeout { onHeadTimeout() } else { context.close(promise: nil) }
    }
}
