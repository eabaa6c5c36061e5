import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHPACK
import NIOHTTP2
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// Hostile HTTP/1.1 on the router's client side, byte for byte (request smuggling and
/// resource attacks): each gets the right status or a close, and nothing reaches an instance
/// that an upstream could read differently from the router. Requests that are forwarded are
/// forwarded as the router re-encoded them (one framing, no ambiguous header).
@Suite struct HostileHTTPTests {
    static let table = ProxyServerHandlerTests.table(1, "v1", port: 9001)

    /// What the instance received, and what the client got, for these bytes.
    func exchange(_ bytes: String, answer: String? = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") throws -> (upstream: String, client: String, open: Bool, proxy: EmbeddedProxy) {
        let proxy = try EmbeddedProxy(table: Self.table)
        try? proxy.send(bytes)
        var upstream = ""
        if let channel = proxy.connector.channel(for: "v1-a") {
            upstream = try EmbeddedProxy.drain(channel)
            if let answer, !upstream.isEmpty { try? channel.writeInbound(ByteBuffer(string: answer)) }
        }
        return (upstream, try proxy.clientOutput(), proxy.client.isActive, proxy)
    }

    func refused(_ bytes: String, status: String = "400 Bad Request", _ comment: Comment) throws {
        let result = try exchange(bytes)
        #expect(result.client.hasPrefix("HTTP/1.1 \(status)"), comment)
        #expect(result.upstream.isEmpty, "nothing reaches the instance: \(result.upstream.debugDescription)")
        #expect(!result.open, "the connection is closed after the refusal")
    }

    @Test func contentLengthWithTransferEncodingIsRefused() throws {
        try refused("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: web\r\n\r\n",
                    "CL.TE: a front end and an upstream could frame this differently")
        try refused("POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
                    "TE.CL")
    }

    @Test func conflictingOrDuplicateLengthsAreRefused() throws {
        try refused("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc", "two different lengths")
        try refused("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "the same length twice")
        try refused("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 3, 3\r\n\r\nabc", "a list of lengths")
        try refused("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: -1\r\n\r\n", "a negative length")
        try refused("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 0x10\r\n\r\n", "a length that is not decimal")
    }

    @Test func oddTransferEncodingsAreRefused() throws {
        try refused("POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", "an unknown coding")
        try refused("POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", "chunked not last")
        try refused("POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "a space before the colon")
    }

    /// The requests an instance reads from these bytes, with their bodies, under a strict parser.
    static func requests(in bytes: String) throws -> [(head: HTTPRequestHead, body: String)] {
        let parser = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
        try parser.writeInbound(ByteBuffer(string: bytes))
        var requests: [(head: HTTPRequestHead, body: String)] = []
        while let part = try parser.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head): requests.append((head, ""))
            case .body(let buffer): requests[requests.count - 1].body += String(buffer: buffer)
            case .end: break
            }
        }
        return requests
    }

    /// `Transfer-Encoding: Chunked` in any case is `chunked`, and the instance gets exactly
    /// `chunked` with the body chunked again. Found by fuzzing: NIO's encoder chunks a body
    /// only for the exact value, so a GET with `Chunked` had its decoded body written raw and
    /// a request hidden in it reached the instance.
    @Test func aTransferEncodingInAnyCaseIsForwardedAsChunked() throws {
        let hidden = "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: web\r\n\r\n"
        let body = String(hidden.utf8.count, radix: 16) + "\r\n" + hidden + "\r\n0\r\n\r\n"
        for method in ["GET", "DELETE", "OPTIONS", "POST", "PUT"] {
            for spelling in ["Chunked", "CHUNKED", "chUnked", "chunked"] {
                let result = try exchange("\(method) /x HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: \(spelling)\r\n\r\n" + body)
                let requests = try Self.requests(in: result.upstream)
                #expect(requests.map(\.head.uri) == ["/x"], "\(method) \(spelling): \(result.upstream.debugDescription)")
                #expect(requests.first?.body == hidden, "\(method) \(spelling): the body arrives whole, as the client sent it")
                #expect(requests.first?.head.headers["transfer-encoding"] == ["chunked"])
                #expect(result.client.hasPrefix("HTTP/1.1 200 OK"), "\(result.client)")
            }
        }
    }

    /// NIO's encoder drops a TRACE's framing headers, so its content would reach the instance
    /// as the next request: a TRACE with content is refused (it may have none).
    @Test func aTraceWithContentIsRefused() throws {
        try refused("TRACE / HTTP/1.1\r\nHost: web\r\nContent-Length: 35\r\n\r\nGET /admin HTTP/1.1\r\nHost: web\r\n\r\n", "TRACE with a length")
        try refused("TRACE / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "TRACE with chunks")
        let plain = try exchange("TRACE / HTTP/1.1\r\nHost: web\r\nContent-Length: 0\r\n\r\n")
        #expect(try Self.requests(in: plain.upstream).map(\.head.method) == [.TRACE])
    }

    /// An HTTP/2 stream into the proxy's router, as `HTTP2Listener` sets one up.
    static func http2Stream(_ proxy: EmbeddedProxy) throws -> EmbeddedChannel {
        let stream = EmbeddedChannel(loop: proxy.loop)
        try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
        try stream.pipeline.syncOperations.addHandler(ProxyServerHandler(loop: proxy.context, listenAddress: EmbeddedProxy.listen, tls: false))
        try stream.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        stream.remoteAddress = try SocketAddress(ipAddress: "10.1.2.3", port: 40000)
        return stream
    }

    /// HTTP/2 to an HTTP/1.1 instance: NIO's HTTP/2 codec adds no framing to a GET (or
    /// HEAD, DELETE, CONNECT) whose DATA comes without content-length, so the body would
    /// reach the instance raw, as a second request: such a request is refused.
    @Test func anHTTP2GetWithUnframedContentIsRefused() throws {
        let proxy = try EmbeddedProxy(table: Self.table)
        let stream = try Self.http2Stream(proxy)
        let headers = HPACKHeaders([(":method", "GET"), (":scheme", "http"), (":authority", "web"), (":path", "/x")])
        try stream.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: headers)))
        try stream.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "GET /admin HTTP/1.1\r\nHost: web\r\n\r\n")), endStream: true)))
        let upstream = try proxy.connector.channel(for: "v1-a").map { try EmbeddedProxy.drain($0) } ?? ""
        #expect(try Self.requests(in: upstream).map(\.head.uri).allSatisfy { $0 == "/x" }, "\(upstream.debugDescription)")
        #expect(!upstream.contains("/admin"))
        var status: String?
        while let payload = try stream.readOutbound(as: HTTP2Frame.FramePayload.self) {
            if case .headers(let h) = payload, status == nil { status = h.headers.first(name: ":status") }
        }
        #expect(status == "400")

        // With a content-length the same body is forwarded, framed.
        let framed = try EmbeddedProxy(table: Self.table)
        let stream2 = try Self.http2Stream(framed)
        try stream2.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":method", "GET"), (":scheme", "http"), (":authority", "web"), (":path", "/x"), ("content-length", "5")]))))
        try stream2.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "hello")), endStream: true)))
        let forwarded = try framed.connector.channel(for: "v1-a").map { try EmbeddedProxy.drain($0) } ?? ""
        let requests = try Self.requests(in: forwarded)
        #expect(requests.count == 1 && requests.first?.body == "hello", "\(forwarded.debugDescription)")
    }

    @Test func badChunksAreRefused() throws {
        // The head is valid and forwarded before the body: what follows the bad chunk is not.
        for body in ["zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcde\r\n0\r\n\r\n", "ffffffffffffffffff\r\n"] {
            let result = try exchange("POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
            #expect(!result.open, "\(body.debugDescription): the connection is closed")
            #expect(!result.upstream.contains("abcde") && !result.upstream.contains("0\r\n\r\nGET"), "\(result.upstream.debugDescription)")
        }
    }

    @Test func bareLineEndingsAndFoldedHeadersNeverReachAnInstanceAsSent() throws {
        try refused("GET / HTTP/1.1\r\nHost: web\r\nX-A: a\rX-B: b\r\n\r\n", "a bare CR inside a header")
        for bytes in ["GET / HTTP/1.1\r\nHost: web\r\nX-A: a\r\n b\r\n\r\n", "GET / HTTP/1.1\nHost: web\nX-A: a\n\n"] {
            let result = try exchange(bytes)
            if result.client.hasPrefix("HTTP/1.1 400") {
                #expect(result.upstream.isEmpty && !result.open)
            } else {
                // Accepted: re-encoded with CRLF line endings and no folded line.
                let head = result.upstream.components(separatedBy: "\r\n\r\n")[0]
                #expect(!head.contains("\r\n ") && !head.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "\(result.upstream.debugDescription)")
            }
        }
    }

    /// The router writes headers without re-validating them (no outbound validator): what an
    /// instance answers must be checked on the way in. A bare CR or LF, a folded line or a NUL
    /// in a response header never reaches the client as sent: the answer is refused (502) or
    /// re-encoded with one header per CRLF line and no injected header.
    @Test func bareLineEndingsAndFoldedHeadersInAnAnswerNeverReachTheClientAsSent() throws {
        for answer in [
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\rX-Injected: 1\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\nX-Injected: 1\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\r\n X-Injected: 1\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\u{0}X-Injected: 1\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A\r\nX-Injected: 1\r\n\r\nok",
        ] {
            let result = try exchange("GET / HTTP/1.1\r\nHost: web\r\n\r\n", answer: answer)
            #expect(!result.upstream.isEmpty)
            if result.client.hasPrefix("HTTP/1.1 502") { continue }
            let head = result.client.components(separatedBy: "\r\n\r\n")[0]
            let lines = head.components(separatedBy: "\r\n")
            #expect(!lines.contains { $0.lowercased().hasPrefix("x-injected") }, "an injected header line: \(result.client.debugDescription)")
            #expect(!head.contains("\u{0}") && !lines.contains { $0.contains("\r") || $0.contains("\n") || $0.hasPrefix(" ") },
                    "a bare line ending or folded line: \(result.client.debugDescription)")
        }
    }

    @Test func oversizedRequestLinesAndHeaderSectionsGet431() throws {
        let long = String(repeating: "a", count: 128 * 1024)
        try refused("GET /\(long) HTTP/1.1\r\nHost: web\r\n\r\n", status: "431 Request Header Fields Too Large", "a 128 KiB request line")
        try refused("GET / HTTP/1.1\r\nHost: web\r\nX-Big: \(long)\r\n\r\n", status: "431 Request Header Fields Too Large", "a 128 KiB header")
        let many = (0..<3000).map { "X-H\($0): v\r\n" }.joined()
        try refused("GET / HTTP/1.1\r\nHost: web\r\n\(many)\r\n", status: "431 Request Header Fields Too Large", "3,000 headers")
    }

    @Test func headersThatNeverFinishGet408() throws {
        let proxy = try EmbeddedProxy(table: Self.table)
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\nX-Slow: ")
        proxy.loop.advanceTime(by: ProxyServerHandler.requestHeadTimeout - .seconds(1))
        try proxy.send("a")
        #expect(proxy.client.isActive, "still within the time to send the head")
        proxy.loop.advanceTime(by: .seconds(2))
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 408 Request Timeout"), "\(out)")
        #expect(!proxy.client.isActive)
        #expect(proxy.connector.channels.isEmpty)
    }

    /// `max_request_body`: an announced length over it is refused before anything is
    /// forwarded; a chunked body that grows past it ends the instance's connection before
    /// the body could look complete there, and the client gets 413; bodies within it pass.
    @Test func bodiesOverMaxRequestBodyGet413AndNeverReachAnInstanceWhole() throws {
        var table = Self.table
        table.services[0].maxRequestBody = 10
        let announced = try EmbeddedProxy(table: table)
        try? announced.send("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 11\r\n\r\n01234567890")
        let out = try announced.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 413 Payload Too Large") && out.contains("at most 10 bytes (max_request_body)"), "\(out)")
        #expect(out.contains("Connection: close"))
        #expect(announced.connector.channels.isEmpty, "no instance was even connected")

        let chunked = try EmbeddedProxy(table: table)
        try chunked.send("POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n")
        let upstream = try #require(chunked.connector.channel(for: "v1-a"))
        #expect(try EmbeddedProxy.drain(upstream).hasSuffix("abcdef\r\n"), "within the limit so far: forwarded")
        try? chunked.send("6\r\nghijkl\r\n0\r\n\r\n")
        let forwarded = try EmbeddedProxy.drain(upstream)
        #expect(!forwarded.contains("ghijkl") && !forwarded.contains("0\r\n\r\n"), "\(forwarded.debugDescription)")
        #expect(!upstream.isActive, "the instance's connection is closed: it never sees the body end")
        let refused = try chunked.clientOutput()
        #expect(refused.hasPrefix("HTTP/1.1 413 Payload Too Large"), "\(refused)")

        for request in ["POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 10\r\n\r\n0123456789",
                        "POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n"] {
            let proxy = try EmbeddedProxy(table: table)
            try proxy.send(request)
            let channel = try #require(proxy.connector.channel(for: "v1-a"))
            let sent = try EmbeddedProxy.drain(channel)
            #expect(sent.contains("0123456789") || sent.contains("fghij\r\n0\r\n\r\n"), "\(sent.debugDescription)")
            try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
            #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 200 OK"))
            #expect(proxy.client.isActive)
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosedQuietly() throws {
        let result = try exchange("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
        #expect(result.client.hasPrefix("HTTP/1.1 200 OK") && result.open)
        result.proxy.loop.advanceTime(by: ProxyServerHandler.keepAliveIdleTimeout - .seconds(1))
        #expect(result.proxy.client.isActive)
        result.proxy.loop.advanceTime(by: .seconds(2))
        #expect(try result.proxy.clientOutput().isEmpty, "no 408 on a connection with no request begun")
        #expect(!result.proxy.client.isActive)
    }
}
