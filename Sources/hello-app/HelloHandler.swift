#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1

/// Serves one HTTP/1.1 connection. Runs behind NIO's pipelining handler, so it sees one
/// request at a time even when the client pipelines; delayed answers are scheduled on
/// the event loop, never blocking it.
final class HelloHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Route {
        case hello, health, slow(milliseconds: Int64), bytes(Int), upload, notFound, badRequest(String)
    }

    private let app: App
    private var route: Route = .notFound
    private var version: HTTPVersion = .http1_1
    private var keepAlive = true
    private var headOnly = false
    private var bodyBytes = 0
    private var needsFlush = false
    /// For the access log: the request line and the router's request id.
    private var method = ""
    private var path = ""
    private var requestID: String?
    /// The W3C `traceparent` the request carried (the router's span when it traces requests).
    private var traceparent: String?

    init(app: App) {
        self.app = app
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            version = head.version
            keepAlive = head.isKeepAlive
            headOnly = head.method == .HEAD
            bodyBytes = 0
            route = Self.route(head)
            if app.settings.accessLog {
                method = head.method.rawValue
                path = head.uri
                requestID = head.headers.first(name: "x-request-id")
                traceparent = head.headers.first(name: "traceparent")
            }
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                // curl waits for this before sending a large body.
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
        case .end:
            app.log.served()
            respond(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private static func route(_ head: HTTPRequestHead) -> Route {
        let hasBody = head.headers.contains(name: "transfer-encoding")
            || head.headers.first(name: "content-length").map { $0 != "0" } ?? false
            || head.method == .POST || head.method == .PUT || head.method == .PATCH
        if hasBody { return .upload }
        guard head.method == .GET || head.method == .HEAD else { return .notFound }
        let uri = head.uri
        let path = uri.firstIndex(of: "?").map { uri[..<$0] } ?? uri[...]
        switch path {
        case "/": return .hello
        case "/health": return .health
        case "/slow":
            let query = uri.firstIndex(of: "?").map { uri[uri.index(after: $0)...] } ?? ""
            for item in query.split(separator: "&") where item.hasPrefix("ms=") {
                guard let ms = Int64(item.dropFirst(3)), (0...600_000).contains(ms) else {
                    return .badRequest("ms must be a whole number of milliseconds from 0 to 600000\n")
                }
                return .slow(milliseconds: ms)
            }
            return .slow(milliseconds: 0)
        case "/bytes":
            let query = uri.firstIndex(of: "?").map { uri[uri.index(after: $0)...] } ?? ""
            for item in query.split(separator: "&") where item.hasPrefix("n=") {
                guard let n = Int(item.dropFirst(2)), (0...App.maxBytes).contains(n) else {
                    return .badRequest("n must be a whole number of bytes from 0 to \(App.maxBytes)\n")
                }
                return .bytes(n)
            }
            return .badRequest("GET /bytes?n=N answers N bytes (0 to \(App.maxBytes))\n")
        default: return .notFound
        }
    }

    private func respond(context: ChannelHandlerContext) {
        switch route {
        case .hello:
            let faults = app.settings.faults
            let failing = faults.errorFile.map { access($0.replacing("{port}", with: String(app.settings.port)), F_OK) == 0 } == true
            let response = failing || (faults.errorRate > 0 && Double.random(in: 0..<1) < faults.errorRate) ? app.injectedError : app.hello
            if faults.latencyMilliseconds > 0, faults.latencyRate >= 1 || Double.random(in: 0..<1) < faults.latencyRate {
                later(context: context, milliseconds: faults.latencyMilliseconds, response)
            } else {
                send(context: context, response)
            }
        case .health:
            let faults = app.settings.faults
            let sick = faults.unhealthy || faults.unhealthyFile.map { access($0, F_OK) == 0 } == true
            send(context: context, sick ? app.unhealthy : app.healthy)
        case .slow(let ms):
            later(context: context, milliseconds: ms, Response(.ok, "slept \(ms) ms", version: app.settings.version))
        case .bytes(let n):
            send(context: context, app.bytes(n))
        case .upload:
            send(context: context, Response(.ok, "received \(bodyBytes) bytes", version: app.settings.version))
        case .notFound:
            send(context: context, app.notFound)
        case .badRequest(let message):
            send(context: context, Response(.badRequest, message, version: app.settings.version))
        }
    }

    /// Answers after a delay; the pipelining handler holds later requests until then.
    private func later(context: ChannelHandlerContext, milliseconds: Int64, _ response: Response) {
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(milliseconds)) {
            self.send(context: context, response)
            if self.needsFlush {
                self.needsFlush = false
                context.flush()
            }
        }
    }

    private func send(context: ChannelHandlerContext, _ response: Response) {
        if app.settings.accessLog, path != "/health" {
            AccessLog.write(method: method, path: path, status: Int(response.status.code), requestID: requestID, traceparent: traceparent, version: app.settings.version)
        }
        var headers = response.headers
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if version.major == 1, version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        if !headOnly {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        if keepAlive {
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
            needsFlush = true
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }
}
