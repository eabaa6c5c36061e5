import NIOCore
import NIOEmbedded
import NIOHTTP1
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// Pipelined requests are queued by the proxy handler itself and answered in order, and
/// reads are not stopped between a request and its response (no per-request epoll_ctl).
@Suite struct PipeliningTests {
    @Test func pipelinedRequestsAreAnsweredInOrderOnOneUpstreamConnection() throws {
        let proxy = try EmbeddedProxy(table: ProxyServerHandlerTests.table(1, "v1", port: 9001))
        try proxy.send("GET /1 HTTP/1.1\r\nHost: web\r\n\r\nGET /2 HTTP/1.1\r\nHost: web\r\n\r\nPOST /3 HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\n\r\nabc")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        let first = try EmbeddedProxy.drain(up)
        #expect(first.hasPrefix("GET /1 "))
        #expect(!first.contains("GET /2"), "the next request waits for the current response")

        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"))
        proxy.loop.run()
        let second = try EmbeddedProxy.drain(up)
        #expect(second.hasPrefix("GET /2 "))
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo"))
        proxy.loop.run()
        let third = try EmbeddedProxy.drain(up)
        #expect(third.hasPrefix("POST /3 "))
        #expect(third.hasSuffix("abc"))
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nthree"))
        proxy.loop.run()

        let out = try proxy.clientOutput()
        let one = try #require(out.range(of: "one")), two = try #require(out.range(of: "two")), three = try #require(out.range(of: "three"))
        #expect(one.lowerBound < two.lowerBound && two.lowerBound < three.lowerBound, "responses in request order: \(out)")
        #expect(out.contains("HTTP/1.1 201 Created"))
        #expect(proxy.connector.channels.count == 1)
        #expect(proxy.client.isActive)
    }

    @Test func readsContinueWhileAResponseIsPending() throws {
        let proxy = try EmbeddedProxy(table: ProxyServerHandlerTests.table(1, "v1", port: 9001))
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(up)
        let before = proxy.reads.count
        proxy.client.read()
        #expect(proxy.reads.count == before + 1, "a read while the response is pending reaches the socket")
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func aFloodOfPipelinedRequestsStopsReadingUntilDrained() throws {
        let proxy = try EmbeddedProxy(table: ProxyServerHandlerTests.table(1, "v1", port: 9001))
        let many = String(repeating: "GET /x HTTP/1.1\r\nHost: web\r\n\r\n", count: 100)
        try proxy.send(many)
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(up)
        let before = proxy.reads.count
        proxy.client.read()
        #expect(proxy.reads.count == before, "reads are held while more than \(ProxyServerHandler.maxPipelinedParts) parts are queued")
        for _ in 0..<100 {
            try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
            proxy.loop.run()
        }
        let out = try proxy.clientOutput()
        #expect(out.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 100)
        #expect(proxy.reads.count > before, "the held read is released once the queue drained")
    }
}
