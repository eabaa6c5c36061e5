import NIOCore
import NIOEmbedded
import NIOHTTP1
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// A router that handed its listeners over drains its HTTP/1.1 connections (NIO's
/// `ChannelShouldQuiesceEvent`): none is cut while a client may be sending on it.
@Suite struct DrainTests {
    static let request = "GET / HTTP/1.1\r\nHost: web\r\n\r\n"
    static let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    /// One request answered on a keep-alive connection; returns the instance's channel.
    func exchange(_ proxy: EmbeddedProxy) throws -> EmbeddedChannel {
        try proxy.send(Self.request)
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(up)
        try up.writeInbound(ByteBuffer(string: Self.answer))
        #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 200 OK\r\n"))
        return up
    }

    @Test func aBusyConnectionClosesAfterItsResponseWhichSaysSo() throws {
        let proxy = try EmbeddedProxy(table: UpgradeTests.table())
        try proxy.send(Self.request)
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(up)
        proxy.client.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(proxy.client.isActive, "the request in flight is answered first")
        try up.writeInbound(ByteBuffer(string: Self.answer))
        proxy.loop.run()
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 200 OK\r\n") && out.lowercased().contains("connection: close"), "\(out)")
        #expect(!proxy.client.isActive)
    }

    @Test func anIdleConnectionClosesOnlyAfterTheGrace() throws {
        let proxy = try EmbeddedProxy(table: UpgradeTests.table())
        _ = try exchange(proxy)
        proxy.client.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        proxy.loop.advanceTime(by: ProxyServerHandler.quiesceIdleGrace - .milliseconds(1))
        #expect(proxy.client.isActive, "a client about to send has the grace to do so")
        proxy.loop.advanceTime(by: .milliseconds(1))
        #expect(!proxy.client.isActive)
    }

    @Test func aRequestInTheGraceIsAnsweredWithConnectionCloseThenTheConnectionCloses() throws {
        let proxy = try EmbeddedProxy(table: UpgradeTests.table())
        let up = try exchange(proxy)
        proxy.client.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        proxy.loop.advanceTime(by: .milliseconds(500))
        try proxy.send(Self.request)
        let sent = try EmbeddedProxy.drain(up)
        #expect(sent.hasPrefix("GET / HTTP/1.1\r\n"), "forwarded on the pooled connection: \(sent)")
        // The grace runs out while the instance answers: the exchange is not cut.
        proxy.loop.advanceTime(by: .seconds(1))
        #expect(proxy.client.isActive)
        try up.writeInbound(ByteBuffer(string: Self.answer))
        proxy.loop.run()
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 200 OK\r\n") && out.lowercased().contains("connection: close"), "\(out)")
        #expect(!proxy.client.isActive)
    }
}
