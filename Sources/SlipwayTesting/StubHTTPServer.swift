import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A tiny HTTP server for tests that need something to answer (analysis `http` checks):
/// bound to 127.0.0.1 on port 0, answering every request with what `answer` returns for
/// its path, and remembering the paths it was asked for.
public final class StubHTTPServer: Sendable {
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
        public init(status: Int = 200, body: String) {
            self.status = status
            self.body = body
        }
    }

    public let port: Int
    private let channel: any Channel
    private let seen = Seen()

    public init(answer: @escaping @Sendable (_ path: String) -> Answer) async throws {
        let seen = self.seen
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(StubHandler(answer: answer, seen: seen))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else { throw PollTimeout(description: "the stub server has no port") }
        self.port = port
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    /// Every request path (with its query) in the order they came.
    public var paths: [String] { seen.paths.withLock { $0 } }

    public func close() async {
        try? await channel.close()
    }
}

final class Seen: Sendable {
    let paths = Mutex<[String]>([])
}

private final class StubHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let answer: @Sendable (String) -> StubHTTPServer.Answer
    let seen: Seen
    var path = ""

    init(answer: @escaping @Sendable (String) -> StubHTTPServer.Answer, seen: Seen) {
        self.answer = answer
        self.seen = seen
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri
        case .body:
            break
        case .end:
            let path = self.path
            seen.paths.withLock { $0.append(path) }
            let reply = answer(path)
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: "\(reply.body.utf8.count)")
            headers.add(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: reply.status), headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
