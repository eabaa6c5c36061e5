import NIOCore
import NIOEmbedded
import NIOHTTP1
import SlipwayCore
import Testing
@testable import SlipwayRouter

@Suite struct ProxyServerHandlerTests {
    static func table(_ generation: UInt64, _ version: String, port: Int, timeout: Duration = .seconds(60)) -> RouteTable {
        RouteTable(generation: generation, services: [
            EmbeddedProxy.route(groups: [BackendGroup(version: version, weight: 100, endpoints: [Endpoint(id: "\(version)-a", host: "127.0.0.1", port: port)])], timeout: timeout),
        ])
    }

    @Test func keepAliveConnectionFollowsATableSwap() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001))
        try proxy.send("GET /a HTTP/1.1\r\nHost: web\r\n\r\n")
        let up1 = try #require(proxy.connector.channel(for: "v1-a"))
        let sent = try EmbeddedProxy.drain(up1)
        #expect(sent.hasPrefix("GET /a HTTP/1.1\r\n"))
        #expect(sent.contains("X-Forwarded-For: 10.1.2.3"))
        #expect(sent.contains("X-Forwarded-Proto: http"))
        #expect(sent.contains("X-Request-Id: "))
        #expect(sent.contains("Host: web"))
        try up1.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nv1"))
        let first = try proxy.clientOutput()
        #expect(first.hasPrefix("HTTP/1.1 200 OK"))
        #expect(first.hasSuffix("v1"))
        #expect(!first.lowercased().contains("keep-alive"))
        #expect(first.contains("X-Request-Id: "))
        #expect(proxy.context.pool.idleCount == 1)

        proxy.install(Self.table(2, "v2", port: 9002))
        #expect(!up1.isActive, "idle connection to an endpoint that left the table is closed")
        #expect(proxy.context.pool.idleCount == 0)

        try proxy.send("GET /b HTTP/1.1\r\nHost: web\r\nX-Request-Id: mine\r\n\r\n")
        let up2 = try #require(proxy.connector.channel(for: "v2-a"))
        #expect(try EmbeddedProxy.drain(up2).contains("X-Request-Id: mine"))
        try up2.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv2"))
        let second = try proxy.clientOutput()
        #expect(second.hasSuffix("v2"))
        #expect(second.contains("X-Request-Id: mine"))
        #expect(proxy.client.isActive)
        #expect(proxy.registry.recorders(for: Self.table(2, "v2", port: 9002), nowNanos: NIODeadline.now().uptimeNanoseconds).count == 2)
    }

    @Test func pooledConnectionIsReused() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001))
        for _ in 0..<3 {
            try proxy.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
            let up = try #require(proxy.connector.channel(for: "v1-a"))
            _ = try EmbeddedProxy.drain(up)
            try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
            #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 200 OK"))
        }
        #expect(proxy.connector.channels.count == 1)
    }

    /// An idle pooled connection the instance closes leaves the pool at once (the next request
    /// opens a new one instead of failing on it); of several idle ones the last returned is
    /// taken first.
    @Test func anIdleConnectionClosedByTheInstanceLeavesThePool() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001))
        // Two requests in flight on two client connections: two upstream connections.
        let second = try proxy.openClient()
        try proxy.send("GET /1 HTTP/1.1\r\nHost: web\r\n\r\n")
        try proxy.send("GET /2 HTTP/1.1\r\nHost: web\r\n\r\n", on: second)
        let first = try #require(proxy.connector.channel(for: "v1-a", index: 0))
        let other = try #require(proxy.connector.channel(for: "v1-a", index: 1))
        for up in [first, other] {
            _ = try EmbeddedProxy.drain(up)
            try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        }
        #expect(proxy.context.pool.idleCount == 2)

        // The instance closes the connection returned last: it leaves the pool.
        other.pipeline.fireChannelInactive()
        #expect(proxy.context.pool.idleCount == 1)
        try proxy.send("GET /3 HTTP/1.1\r\nHost: web\r\n\r\n")
        #expect(try EmbeddedProxy.drain(first).hasPrefix("GET /3 "), "the remaining idle connection serves the next request")
        #expect(proxy.context.pool.idleCount == 0)
        #expect(proxy.connector.channels.count == 2)
    }

    @Test func upstreamConnectionCloseIsNotReused() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001))
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 200 OK"))
        #expect(!out.lowercased().contains("connection: close"), "upstream's Connection header is hop-by-hop")
        #expect(proxy.context.pool.idleCount == 0)
        #expect(!up.isActive)
        #expect(proxy.client.isActive)
    }

    @Test func clientConnectionCloseClosesAfterResponse() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001))
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        #expect(!(try EmbeddedProxy.drain(up)).lowercased().contains("connection: close"))
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"))
        #expect(try proxy.clientOutput().contains("Connection: close"))
        #expect(!proxy.client.isActive)
        #expect(proxy.context.pool.idleCount == 1)
    }

    @Test func malformedRequestGets400AndClose() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001))
        try? proxy.send("GARBAGE\u{1}\r\n\r\n")
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(out.contains("bad request"))
        #expect(!proxy.client.isActive)
        #expect(proxy.connector.channels.isEmpty)
    }

    @Test func noHealthyInstanceGives502WithBody() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001), healthy: false)
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 502 Bad Gateway"))
        #expect(out.hasSuffix("no healthy instance of service web\n"))
        #expect(proxy.client.isActive)
        let stats = proxy.registry.recorders(for: Self.table(1, "v1", port: 9001), nowNanos: NIODeadline.now().uptimeNanoseconds)
            .first?.summary(windowSeconds: 60, nowNanos: NIODeadline.now().uptimeNanoseconds)
        #expect(stats?.totals.upstreamErrors == 1)
        #expect(stats?.totals.byClass.5 == 1)
    }

    @Test func routesByHostHeader() throws {
        let table = RouteTable(generation: 1, services: [
            EmbeddedProxy.route("api", hosts: ["api.example.com"], groups: [BackendGroup(version: "a1", weight: 100, endpoints: [Endpoint(id: "api-1", host: "127.0.0.1", port: 9101)])]),
            EmbeddedProxy.route("www", hosts: ["www.example.com"], groups: [BackendGroup(version: "w1", weight: 100, endpoints: [Endpoint(id: "www-1", host: "127.0.0.1", port: 9102)])]),
        ])
        let proxy = try EmbeddedProxy(table: table)
        try proxy.send("GET / HTTP/1.1\r\nHost: API.Example.com:8080\r\n\r\n")
        #expect(proxy.connector.channel(for: "api-1") != nil)
        let api = try #require(proxy.connector.channel(for: "api-1"))
        try api.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 204"))

        try proxy.send("GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
        #expect(proxy.connector.channel(for: "www-1") != nil)
        let www = try #require(proxy.connector.channel(for: "www-1"))
        try www.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        _ = try proxy.clientOutput()

        try proxy.send("GET / HTTP/1.1\r\nHost: other.example.com\r\n\r\n")
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 404 Not Found"))
        #expect(out.contains("no service for host \"other.example.com\""))
        #expect(proxy.client.isActive)
    }

    @Test func chunkedRequestIsStreamedPartByPartWithBackpressure() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001))
        try proxy.send("POST /upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        let first = try EmbeddedProxy.drain(up)
        #expect(first.lowercased().contains("transfer-encoding: chunked"))
        #expect(first.hasSuffix("5\r\nhello\r\n"))

        // The instance cannot take more: reads from the client stop.
        up.isWritable = false
        up.pipeline.fireChannelWritabilityChanged()
        try proxy.send("6\r\n world\r\n")
        #expect(try EmbeddedProxy.drain(up) == "6\r\n world\r\n")
        let before = proxy.reads.count
        proxy.client.read()
        #expect(proxy.reads.count == before, "read must be held while the upstream is not writable")
        up.isWritable = true
        up.pipeline.fireChannelWritabilityChanged()
        #expect(proxy.reads.count == before + 1, "the held read is released on writability")

        try proxy.send("0\r\n\r\n")
        #expect(try EmbeddedProxy.drain(up) == "0\r\n\r\n")
        let upstreamReads = ReadCounter()
        try up.pipeline.syncOperations.addHandler(upstreamReads, position: .first)
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"))
        let out1 = try proxy.clientOutput()
        #expect(out1.contains("3\r\nabc\r\n"))
        // The client cannot take more: reads from the instance stop.
        proxy.client.isWritable = false
        proxy.client.pipeline.fireChannelWritabilityChanged()
        up.read()
        #expect(upstreamReads.count == 0, "upstream read must be held while the client is not writable")
        proxy.client.isWritable = true
        proxy.client.pipeline.fireChannelWritabilityChanged()
        #expect(upstreamReads.count == 1)
        try up.writeInbound(ByteBuffer(string: "0\r\n\r\n"))
        #expect(try proxy.clientOutput() == "0\r\n\r\n")
        #expect(proxy.context.pool.idleCount == 1)
    }

    @Test func slowUpstreamGets504() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001, timeout: .seconds(2)))
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        proxy.loop.advanceTime(by: .milliseconds(1999))
        #expect(try proxy.clientOutput().isEmpty)
        let endpoint = try #require(proxy.context.snapshot.endpoints.first?.0)
        #expect(endpoint.inflight.load(ordering: .relaxed) == 1)
        proxy.loop.advanceTime(by: .milliseconds(1))
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 504 Gateway Timeout"))
        #expect(out.contains("did not answer within 2s"))
        #expect(!up.isActive)
        #expect(proxy.client.isActive)
        #expect(endpoint.inflight.load(ordering: .relaxed) == 0)
    }

    /// One timer per connection checks the response-head timeout: each request on a
    /// keep-alive connection still gets the whole timeout from its own start, not from the
    /// first request's (the timer armed for the first fires, finds the second's deadline
    /// ahead and waits for it).
    @Test func eachRequestOnAKeepAliveConnectionGetsTheWholeTimeout() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001, timeout: .seconds(2)))
        try proxy.send("GET /1 HTTP/1.1\r\nHost: web\r\n\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(up)
        proxy.loop.advanceTime(by: .milliseconds(1500))
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 200 OK"))

        // The second request starts at 1.5 s: its answer is due by 3.5 s.
        try proxy.send("GET /2 HTTP/1.1\r\nHost: web\r\n\r\n")
        #expect(try EmbeddedProxy.drain(up).hasPrefix("GET /2 "))
        proxy.loop.advanceTime(by: .milliseconds(600))   // 2.1 s: past the first request's deadline
        #expect(try proxy.clientOutput().isEmpty)
        proxy.loop.advanceTime(by: .milliseconds(1399))  // 3.499 s
        #expect(try proxy.clientOutput().isEmpty)
        proxy.loop.advanceTime(by: .milliseconds(1))     // 3.5 s
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 504 Gateway Timeout"), "\(out)")
        #expect(!up.isActive)

        // A request answered in time leaves nothing to fire later.
        try proxy.send("GET /3 HTTP/1.1\r\nHost: web\r\n\r\n")
        let next = try #require(proxy.connector.channels.last?.channel)
        _ = try EmbeddedProxy.drain(next)
        try next.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 200 OK"))
        proxy.loop.advanceTime(by: .seconds(10))
        #expect(try proxy.clientOutput().isEmpty)
        #expect(next.isActive && proxy.client.isActive)
    }

    /// A request body that keeps arriving is not a slow instance: the timeout restarts while
    /// body parts move, and runs its whole length from the end of the request.
    @Test func anUploadThatKeepsMovingIsNotTimedOut() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001, timeout: .seconds(2)))
        try proxy.send("POST /upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(up)
        for _ in 0..<4 {   // a part every 1.5 s for 6 s
            proxy.loop.advanceTime(by: .milliseconds(1500))
            try proxy.send("5\r\nworld\r\n")
            #expect(try EmbeddedProxy.drain(up) == "5\r\nworld\r\n")
        }
        #expect(try proxy.clientOutput().isEmpty)
        try proxy.send("0\r\n\r\n")
        _ = try EmbeddedProxy.drain(up)
        proxy.loop.advanceTime(by: .milliseconds(1999))
        #expect(try proxy.clientOutput().isEmpty)
        proxy.loop.advanceTime(by: .milliseconds(1))
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 504 Gateway Timeout"), "\(out)")
    }

    @Test func getIsRetriedOnAnotherInstanceWhenConnectFails() throws {
        let table = RouteTable(generation: 1, services: [
            EmbeddedProxy.route(groups: [BackendGroup(version: "v1", weight: 100, endpoints: [
                Endpoint(id: "a", host: "127.0.0.1", port: 9001), Endpoint(id: "b", host: "127.0.0.1", port: 9002),
            ])]),
        ])
        let proxy = try EmbeddedProxy(table: table)
        proxy.connector.refuse = ["a"]
        for _ in 0..<4 {
            try proxy.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
            let up = try #require(proxy.connector.channel(for: "b"))
            _ = try EmbeddedProxy.drain(up)
            try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"))
            #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 200 OK"))
        }
        let a = try #require(proxy.context.snapshot.endpoints.first { $0.0.id == "a" }?.0)
        #expect(a.inflight.load(ordering: .relaxed) == 0)
        // Round-robin starts every request at "a" (the retry consumed the other turn).
        #expect(a.passive.currentFailureRun == 4)
    }

    @Test func postIsNotRetried() throws {
        let table = RouteTable(generation: 1, services: [
            EmbeddedProxy.route(groups: [BackendGroup(version: "v1", weight: 100, endpoints: [Endpoint(id: "a", host: "127.0.0.1", port: 9001)])]),
        ])
        let proxy = try EmbeddedProxy(table: table)
        proxy.connector.refuse = ["a"]
        try proxy.send("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 2\r\n\r\nhi")
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 502 Bad Gateway"))
        #expect(out.contains("connection refused"))
    }

    @Test func passiveEjectionFallsBackToActivelyHealthyInstances() throws {
        let proxy = try EmbeddedProxy(table: Self.table(1, "v1", port: 9001))
        let endpoint = try #require(proxy.context.snapshot.endpoints.first?.0)
        for _ in 0..<Defaults.passiveFailureRun { endpoint.passive.recordFailure(now: NIODeadline.now().uptimeNanoseconds) }
        #expect(endpoint.passive.isEjected(now: NIODeadline.now().uptimeNanoseconds))
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
        #expect(proxy.connector.channel(for: "v1-a") != nil)
    }
}
