import NIOCore
import NIOHTTP1
import NIOWebSocket

/// `GET /ws` with a WebSocket upgrade: each text or binary message comes back prefixed
/// with the version (`v1: hello`), pings are answered, a close is echoed. The version a
/// connection was opened on is what it keeps answering with, which lets tests see which
/// release a long-lived connection stays on across a switch.
enum WebSocketEcho {
    static func upgrader(version: String) -> NIOWebSocketServerUpgrader {
        NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 20,
            shouldUpgrade: { channel, head in
                let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
                return channel.eventLoop.makeSucceededFuture(path == "/ws" ? HTTPHeaders([("X-Version", version)]) : nil)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(version: version))
                }
            }
        )
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame

        let version: String
        /// A fragmented message being collected.
        private var message: ByteBuffer?
        private var messageOpcode = WebSocketOpcode.text
        private var closing = false

        init(version: String) { self.version = version }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text, .binary:
                messageOpcode = frame.opcode
                message = frame.unmaskedData
                if frame.fin { reply(context) }
            case .continuation:
                var data = frame.unmaskedData
                message?.writeBuffer(&data)
                if frame.fin { reply(context) }
            case .ping:
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
            case .connectionClose:
                guard !closing else {
                    context.close(promise: nil)
                    return
                }
                closing = true
                var data = frame.unmaskedData
                let code = data.readSlice(length: min(2, data.readableBytes)) ?? context.channel.allocator.buffer(capacity: 0)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: code))).whenComplete { _ in
                    channel.close(promise: nil)
                }
            default:
                break
            }
        }

        private func reply(_ context: ChannelHandlerContext) {
            guard var body = message else { return }
            message = nil
            var out = context.channel.allocator.buffer(capacity: version.utf8.count + 2 + body.readableBytes)
            out.writeString("\(version): ")
            out.writeBuffer(&body)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: messageOpcode, data: out)), promise: nil)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            // The app is stopping: say so with a close frame (1001, going away).
            if event is ChannelShouldQuiesceEvent, !closing {
                closing = true
                var data = context.channel.allocator.buffer(capacity: 2)
                data.writeInteger(UInt16(1001))
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))).whenComplete { _ in
                    channel.close(promise: nil)
                }
                return
            }
            context.fireUserInboundEventTriggered(event)
        }
    }
}
