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

    /// One request as received.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [(String, String)]
        public var body: String

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    public let port: Int
    private let channel: any Channel
    private let seen = Seen()

    /// `port` 0 picks a free one; a test that restarts a receiver passes the old port.
    public init(port: Int = 0, answer: @escaping @Sendable (_ path: String) -> Answer) async throws {
        let seen = self.seen
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(StubHandler(answer: answer, seen: seen))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        guard let port = channel.localAddress?.port else { throw PollTimeout(description: "the stub server has no port") }
        self.port = port
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    /// Every request path (with its query) in the order they came.
    public var paths: [String] { seen.paths.withLock { $0 } }

    /// Every request with its headers and body, in the order they came.
    public var requests: [Request] { seen.requests.withLock { $0 } }

    public func close() async {
        try? await channel.close()
    }
}

final class Seen: Sendable {
    let paths = Mutex<[String]>([])
    let requests = Mutex<[StubHTTPServer.Request]>([])
}

private final class StubHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let answer: @Sendable (String) -> StubHTTPServer.Answer
    let seen: Seen
    var path = ""
    var method = ""
    var headers: [(String, String)] = []
    var body = ""

    init(answer: @escaping @Sendable (String) -> StubHTTPServer.Answer, seen: Seen) {
        self.answer = answer
        self.seen = seen
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri
            method = head.method.rawValue
            headers = head.headers.map { ($0.name, $0.value) }
            body = ""
        case .body(let buffer):
            body += String(buffer: buffer)
        case .end:
            let path = self.path
            let request = StubHTTPServer.Request(method: method, path: path, headers: headers, body: body)
            seen.paths.withLock { $0.append(path) }
            seen.requests.withLock { $0.append(request) }
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
