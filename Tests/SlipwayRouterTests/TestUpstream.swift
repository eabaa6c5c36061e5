import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A tiny instance for live tests, on 127.0.0.1 port 0.
/// - `GET /health` → 200
/// - `GET /slow?ms=N` → answers after N ms with the name
/// - `GET /hold` → answers with the name once the test calls `releaseHeld()`
/// - `POST /count` → counts body bytes without keeping them, answers the count
/// - `GET /download?bytes=N` → N bytes, written only while the connection is writable
/// - `GET /own-frame` → like anything else, plus its own `X-Frame-Options: SAMEORIGIN`
/// - anything else → 200 with body `name`, headers X-Seen-Forwarded-For, X-Seen-Forwarded-Proto
final class TestUpstream: Sendable {
    let name: String
    let channel: any Channel
    private let children = Mutex<[ObjectIdentifier: any Channel]>([:])
    let connections = Atomic<Int>(0)
    /// Body bytes written by `/download` answers (what the router took so far).
    let downloaded = Atomic<Int>(0)
    /// `/hold` requests waiting for `releaseHeld()`: their loop and their answer.
    private let held = Mutex<[(any EventLoop, @Sendable () -> Void)]>([])

    func hold(on loop: any EventLoop, _ answer: @escaping @Sendable () -> Void) {
        held.withLock { $0.append((loop, answer)) }
    }

    /// Answers every `/hold` request received so far.
    func releaseHeld() {
        let all = held.withLock { held in
            defer { held.removeAll() }
            return held
        }
        for (loop, answer) in all { loop.execute(answer) }
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    private init(name: String, channel: any Channel) {
        self.name = name
        self.channel = channel
    }

    static func start(name: String, group: any EventLoopGroup) async throws -> TestUpstream {
        let holder = Mutex<TestUpstream?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let upstream = holder.withLock({ $0 }) {
                        upstream.connections.wrappingAdd(1, ordering: .relaxed)
                        upstream.children.withLock { $0[ObjectIdentifier(channel)] = channel }
                        channel.closeFuture.whenComplete { _ in _ = upstream.children.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(name: name, upstream: holder.withLock { $0 }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let upstream = TestUpstream(name: name, channel: channel)
        holder.withLock { $0 = upstream }
        return upstream
    }

    /// Stops listening and closes every accepted connection.
    func stop() async {
        try? await channel.close()
        for child in children.withLock({ Array($0.values) }) { try? await child.close() }
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let name: String
        weak var upstream: TestUpstream?
        var head: HTTPRequestHead?
        var counted = 0
        var toSend = 0
        lazy var chunk = ByteBuffer(repeating: UInt8(ascii: "y"), count: 64 * 1024)

        init(name: String, upstream: TestUpstream?) {
            self.name = name
            self.upstream = upstream
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                counted = 0
            case .body(let buffer):
                counted += buffer.readableBytes
            case .end:
                guard let head else { return }
                if head.uri.hasPrefix("/slow") {
                    let ms = Int64(head.uri.split(separator: "=").last.flatMap { Int64($0) } ?? 500)
                    context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) { [self] in
                        respond(context: context, head: head, body: name)
                    }
                } else if head.uri.hasPrefix("/hold") {
                    let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                    let name = self.name
                    upstream?.hold(on: context.eventLoop) {
                        let (responder, context) = bound.value
                        responder.respond(context: context, head: head, body: name)
                    }
                } else if head.uri.hasPrefix("/download") {
                    toSend = head.uri.split(separator: "=").last.flatMap { Int($0) } ?? 0
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: String(toSend))
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                    pump(context: context)
                } else if head.uri == "/count" {
                    respond(context: context, head: head, body: "\(counted)")
                } else {
                    respond(context: context, head: head, body: name)
                }
            }
        }

        func pump(context: ChannelHandlerContext) {
            while toSend > 0 && context.channel.isWritable {
                let size = min(toSend, chunk.readableBytes)
                toSend -= size
                upstream?.downloaded.wrappingAdd(size, ordering: .relaxed)
                context.write(wrapOutboundOut(.body(.byteBuffer(chunk.getSlice(at: chunk.readerIndex, length: size) ?? chunk))), promise: nil)
                if toSend == 0 { context.write(wrapOutboundOut(.end(nil)), promise: nil) }
                context.flush()
            }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            pump(context: context)
            context.fireChannelWritabilityChanged()
        }

        func respond(context: ChannelHandlerContext, head: HTTPRequestHead, body: String) {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "X-Seen-Forwarded-For", value: head.headers["X-Forwarded-For"].joined(separator: ","))
            headers.add(name: "X-Seen-Request-Id", value: head.headers["X-Request-Id"].joined(separator: ","))
            headers.add(name: "X-Seen-Forwarded-Proto", value: head.headers["X-Forwarded-Proto"].joined(separator: ","))
            if head.uri.hasPrefix("/own-frame") { headers.add(name: "X-Frame-Options", value: "SAMEORIGIN") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
