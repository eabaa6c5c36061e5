import NIOCore
import NIOHTTP1
import NIOPosix

/// A keep-alive HTTP/1.1 client connection for live tests. Uploads stream from a small
/// reused buffer and respect writability, so the client itself never holds a big body.
final class TestClient: Sendable {
    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        /// The first KiB of the body (enough for tests; large downloads are only counted).
        var body: String
        var bodyBytes = 0
    }

    struct Request: Sendable {
        var head: HTTPRequestHead
        var uploadBytes: Int
        var promise: EventLoopPromise<Response>
    }

    let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    static func connect(port: Int, group: any EventLoopGroup) async throws -> TestClient {
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return TestClient(channel: channel)
    }

    func send(_ method: HTTPMethod = .GET, _ uri: String, host: String = "web", headers extra: [(String, String)] = [], uploadBytes: Int = 0) async throws -> Response {
        var headers = HTTPHeaders([("Host", host)] + extra)
        if uploadBytes > 0 { headers.add(name: "Content-Length", value: String(uploadBytes)) }
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let request = Request(head: HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers), uploadBytes: uploadBytes, promise: promise)
        channel.writeAndFlush(request, promise: nil)
        return try await promise.futureResult.get()
    }

    func close() async { try? await channel.close() }

    private final class Handler: ChannelDuplexHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundIn = Request
        typealias OutboundOut = HTTPClientRequestPart

        var current: Request?
        var remaining = 0
        var response: Response?
        lazy var chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let request = unwrapOutboundIn(data)
            current = request
            remaining = request.uploadBytes
            context.write(wrapOutboundOut(.head(request.head)), promise: promise)
            pump(context: context)
        }

        func pump(context: ChannelHandlerContext) {
            guard current != nil else { return }
            while remaining > 0 && context.channel.isWritable {
                let size = min(remaining, chunk.readableBytes)
                context.write(wrapOutboundOut(.body(.byteBuffer(chunk.getSlice(at: chunk.readerIndex, length: size) ?? chunk))), promise: nil)
                remaining -= size
                if remaining == 0 { context.write(wrapOutboundOut(.end(nil)), promise: nil) }
                context.flush()
            }
            if current?.uploadBytes == 0 {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                current?.uploadBytes = -1
            }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            pump(context: context)
            context.fireChannelWritabilityChanged()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                response = Response(status: head.status, headers: head.headers, body: "")
            case .body(let buffer):
                response?.bodyBytes += buffer.readableBytes
                if let count = response?.body.utf8.count, count < 1024 {
                    response?.body += String(buffer: buffer.getSlice(at: buffer.readerIndex, length: min(buffer.readableBytes, 1024 - count)) ?? buffer)
                }
            case .end:
                if let response, let request = current {
                    current = nil
                    request.promise.succeed(response)
                }
                response = nil
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            current?.promise.fail(ChannelError.eof)
            current = nil
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            current?.promise.fail(error)
            current = nil
            context.close(promise: nil)
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes; never a fixed sleep.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
