import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import SlipwayCore

/// One active health check over a fresh connection, passing within the timeout on:
/// - `kind: http` — `GET path` answered 2xx or 3xx (over HTTP/1.1 with `Connection: close`,
///   or as one HTTP/2 stream for `upstream: h2c`; there a `grpc-status` other than 0 fails);
/// - `kind: grpc` — the standard gRPC health service (`grpc.health.v1.Health/Check`) answering
///   `SERVING` with `grpc-status` 0.
enum HealthProbe {
    static func run(endpoint: EndpointState, spec: HealthSpec, http2: Bool, timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<HealthThresholds.Outcome> {
        let promise = loop.makePromise(of: HealthThresholds.Outcome.self)
        let host = endpoint.endpoint.host
        let port = endpoint.endpoint.port
        let request = ProbeRequest(host: host, port: port, spec: spec, http2: http2)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if http2 {
                        try UpstreamHTTP2Pool.configure(channel)
                        let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
                        multiplexer.createStreamChannel(promise: nil) { stream in
                            stream.eventLoop.makeCompletedFuture {
                                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                                try stream.pipeline.syncOperations.addHandler(ProbeHandler(request: request, promise: promise))
                            }
                        }
                    } else {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ProbeHandler(request: request, promise: promise))
                    }
                }
            }
        let deadline = loop.scheduleTask(in: timeout) {
            promise.fail(ProbeTimeout())
        }
        let connected = endpoint.address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: host, port: port)
        connected.whenFailure { promise.fail($0) }
        promise.futureResult.whenComplete { _ in
            deadline.cancel()
            connected.whenSuccess { $0.close(promise: nil) }
        }
        return promise.futureResult.recover { error in
            if error is ProbeTimeout { return .failure("timed out after \(ErrorDescription.format(timeout))") }
            if case ChannelError.connectTimeout = error { return .failure("timed out after \(ErrorDescription.format(timeout))") }
            return .failure(ErrorDescription.describe(error))
        }
    }

    struct ProbeTimeout: Error {}

    /// What a probe sends and how it judges the answer.
    struct ProbeRequest: Sendable {
        var host: String
        var port: Int
        var spec: HealthSpec
        var http2: Bool

        var head: HTTPRequestHead {
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
            headers.add(name: "User-Agent", value: "slipway-health")
            if !http2 { headers.add(name: "Connection", value: "close") }
            switch spec.kind {
            case .http:
                return HTTPRequestHead(version: .http1_1, method: .GET, uri: spec.path, headers: headers)
            case .grpc:
                headers.add(name: "Content-Type", value: "application/grpc")
                headers.add(name: "TE", value: "trailers")
                return HTTPRequestHead(version: .http1_1, method: .POST, uri: GRPCHealth.checkPath, headers: headers)
            }
        }

        var body: ByteBuffer? {
            spec.kind == .grpc ? GRPCHealth.request(service: spec.grpcService) : nil
        }
    }

    private final class ProbeHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        let request: ProbeRequest
        let promise: EventLoopPromise<HealthThresholds.Outcome>
        private var status: Int?
        private var body = ByteBuffer()
        private var sent = false

        init(request: ProbeRequest, promise: EventLoopPromise<HealthThresholds.Outcome>) {
            self.request = request
            self.promise = promise
        }

        func handlerAdded(context: ChannelHandlerContext) {
            if context.channel.isActive { send(context: context) }
        }

        func channelActive(context: ChannelHandlerContext) {
            send(context: context)
            context.fireChannelActive()
        }

        private func send(context: ChannelHandlerContext) {
            guard !sent else { return }
            sent = true
            context.write(wrapOutboundOut(.head(request.head)), promise: nil)
            if let body = request.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                let code = Int(head.status.code)
                if code >= 100 && code < 200 { return }
                status = code
                if let grpc = head.headers.first(name: "grpc-status") {
                    // A trailers-only answer: the call ended here.
                    finish(context, grpcStatus: grpc)
                    return
                }
                if request.spec.kind == .http {
                    // Over HTTP/1.1 the status decides; over HTTP/2 a gRPC server's
                    // trailers may still say the call failed.
                    if !(200..<400).contains(code) || !request.http2 { finish(context, grpcStatus: nil) }
                }
            case .body(var part):
                if request.spec.kind == .grpc, body.readableBytes + part.readableBytes <= 65536 { body.writeBuffer(&part) }
            case .end(let trailers):
                finish(context, grpcStatus: trailers?.first(name: "grpc-status"))
            }
        }

        private func finish(_ context: ChannelHandlerContext, grpcStatus: String?) {
            promise.succeed(judge(grpcStatus: grpcStatus))
            context.close(promise: nil)
        }

        private func judge(grpcStatus: String?) -> HealthThresholds.Outcome {
            let code = status ?? 0
            guard (200..<400).contains(code) else { return .failure("HTTP \(code)") }
            if let grpcStatus, grpcStatus != "0" { return .failure("grpc-status \(grpcStatus)") }
            guard request.spec.kind == .grpc else { return .success }
            guard grpcStatus != nil else { return .failure("no grpc-status in the answer") }
            switch GRPCHealth.servingStatus(body) {
            case .some(GRPCHealth.serving): return .success
            case .some(let other): return .failure("health status \(GRPCHealth.name(other))")
            case nil: return .failure("an unreadable health answer")
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.eof)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}

/// The standard gRPC health service's messages (grpc/grpc doc/health-checking.md), encoded
/// by hand: `HealthCheckRequest { string service = 1; }` and
/// `HealthCheckResponse { ServingStatus status = 1; }`, each in gRPC's length-prefixed frame.
enum GRPCHealth {
    static let checkPath = "/grpc.health.v1.Health/Check"
    static let serving: UInt64 = 1

    /// The request frame asking about `service` ("" is the server as a whole).
    static func request(service: String) -> ByteBuffer {
        var message: [UInt8] = []
        if !service.isEmpty {
            message.append(0x0A)  // field 1, length-delimited
            appendVarint(UInt64(service.utf8.count), to: &message)
            message.append(contentsOf: service.utf8)
        }
        var frame = ByteBuffer()
        frame.writeInteger(UInt8(0))  // not compressed
        frame.writeInteger(UInt32(message.count))
        frame.writeBytes(message)
        return frame
    }

    /// The status in a response frame (0, UNKNOWN, when the field is absent); nil when the
    /// bytes are not one uncompressed frame holding a well-formed message.
    static func servingStatus(_ frame: ByteBuffer) -> UInt64? {
        var frame = frame
        guard let compressed = frame.readInteger(as: UInt8.self), compressed == 0,
              let length = frame.readInteger(as: UInt32.self), Int(length) == frame.readableBytes,
              let bytes = frame.readBytes(length: Int(length)) else { return nil }
        var index = 0
        var status: UInt64 = 0
        while index < bytes.count {
            guard let tag = readVarint(bytes, &index) else { return nil }
            switch tag & 7 {
            case 0:
                guard let value = readVarint(bytes, &index) else { return nil }
                if tag >> 3 == 1 { status = value }
            case 1: index += 8
            case 2:
                guard let length = readVarint(bytes, &index), length <= UInt64(bytes.count - index) else { return nil }
                index += Int(length)
            case 5: index += 4
            default: return nil
            }
            if index > bytes.count { return nil }
        }
        return status
    }

    static func name(_ status: UInt64) -> String {
        switch status {
        case 0: "UNKNOWN"
        case 1: "SERVING"
        case 2: "NOT_SERVING"
        case 3: "SERVICE_UNKNOWN"
        default: "\(status)"
        }
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private static func readVarint(_ bytes: [UInt8], _ index: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            index += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }
}
