import NIOCore
import NIOEmbedded
import NIOHTTP1
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// `Connection: Upgrade` requests (WebSocket and others) through the proxy handler on an
/// embedded loop: the instance's `101` turns both connections into a byte tunnel.
@Suite struct UpgradeTests {
    static let upgrade = "GET /ws HTTP/1.1\r\nHost: web\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    static let switched = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

    static func table(drain: Duration = .seconds(30), weight: Int = 100) -> RouteTable {
        var route = EmbeddedProxy.route(groups: [BackendGroup(version: "v1", weight: weight, endpoints: [Endpoint(id: "v1-a", host: "127.0.0.1", port: 9001)])])
        route.websocketDrain = drain
        return RouteTable(generation: 1, services: [route])
    }

    /// Upgrades a connection; returns the proxy and the instance's channel, tunnel established.
    func tunnel(drain: Duration = .seconds(30), early: String = "", serverFirst: String = "") throws -> (EmbeddedProxy, EmbeddedChannel) {
        let proxy = try EmbeddedProxy(table: Self.table(drain: drain))
        try proxy.send(Self.upgrade + early)
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        let sent = try EmbeddedProxy.drain(up)
        #expect(sent.hasPrefix("GET /ws HTTP/1.1\r\n"))
        #expect(sent.contains("Connection: Upgrade\r\n"), "the upgrade is asked of the instance: \(sent)")
        #expect(sent.contains("Upgrade: websocket\r\n"))
        #expect(sent.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="))
        #expect(!sent.contains("keep-alive"), "other hop-by-hop tokens are dropped")
        #expect(!sent.contains(early.isEmpty ? "\u{0}" : early), "bytes after the request wait for the switch")
        try up.writeInbound(ByteBuffer(string: Self.switched + serverFirst))
        proxy.loop.run()
        return (proxy, up)
    }

    @Test func aSwitchRelaysBytesBothWaysIncludingThoseSentEarly() throws {
        let (proxy, up) = try tunnel(early: "client-first", serverFirst: "server-first")
        let toClient = try proxy.clientOutput()
        #expect(toClient.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(toClient)")
        #expect(toClient.contains("Upgrade: websocket\r\n") && toClient.contains("Connection: Upgrade\r\n"), "\(toClient)")
        #expect(toClient.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        #expect(toClient.contains("X-Request-Id: "))
        #expect(toClient.hasSuffix("\r\n\r\nserver-first"), "bytes the instance sent right behind its 101 follow it: \(toClient.debugDescription)")
        #expect(try EmbeddedProxy.drain(up) == "client-first", "bytes the client sent right behind its request reach the instance")

        // Raw bytes now, in both directions, untouched (no HTTP parsing any more).
        try proxy.send("GET not-http\r\n\r\n\u{1}\u{2}")
        #expect(try EmbeddedProxy.drain(up) == "GET not-http\r\n\r\n\u{1}\u{2}")
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 also-not-http"))
        #expect(try proxy.clientOutput() == "HTTP/1.1 200 also-not-http")

        // Counted: one request (101) in the version's numbers, one open tunnel, no in-flight request.
        let endpoint = try #require(proxy.context.snapshot.endpoints.first?.0)
        #expect(endpoint.tunnels.load(ordering: .relaxed) == 1)
        #expect(endpoint.inflight.load(ordering: .relaxed) == 0)
        #expect(proxy.context.tunnels.count == 1)
        #expect(proxy.context.pool.idleCount == 0, "an upgraded connection never returns to the pool")

        // The instance closes: so does the client's connection, and the counts drop.
        try up.close().wait()
        proxy.loop.run()
        #expect(!proxy.client.isActive)
        #expect(endpoint.tunnels.load(ordering: .relaxed) == 0)
        #expect(proxy.context.tunnels.count == 0)
    }

    @Test func aClientThatDoesNotReadStopsReadsFromTheInstance() throws {
        let (proxy, up) = try tunnel()
        _ = try proxy.clientOutput()
        let upstreamReads = ReadCounter()
        try up.pipeline.syncOperations.addHandler(upstreamReads, position: .first)
        up.pipeline.read()
        #expect(upstreamReads.count == 1, "reads flow while the client takes bytes")

        // The client's socket buffer is full: nothing more is read from the instance...
        proxy.client.isWritable = false
        proxy.client.pipeline.fireChannelWritabilityChanged()
        up.pipeline.read()
        up.pipeline.read()
        #expect(upstreamReads.count == 1, "no read from the instance while the client cannot take more")
        // ...until the client drains it; then the held read goes through.
        proxy.client.isWritable = true
        proxy.client.pipeline.fireChannelWritabilityChanged()
        #expect(upstreamReads.count == 2)

        // The same the other way: an instance that does not read holds the client back.
        let before = proxy.reads.count
        up.isWritable = false
        up.pipeline.fireChannelWritabilityChanged()
        proxy.client.pipeline.read()
        #expect(proxy.reads.count == before)
        up.isWritable = true
        up.pipeline.fireChannelWritabilityChanged()
        #expect(proxy.reads.count == before + 1)
    }

    @Test func anUpgradeTakesANewConnectionNotAPooledOne() throws {
        let proxy = try EmbeddedProxy(table: Self.table())
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
        let pooled = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(pooled)
        try pooled.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        _ = try proxy.clientOutput()
        #expect(proxy.context.pool.idleCount == 1)

        try proxy.send(Self.upgrade)
        #expect(try EmbeddedProxy.drain(pooled).isEmpty, "the idle connection is not used for the upgrade")
        let fresh = try #require(proxy.connector.channel(for: "v1-a", index: 1))
        #expect(try EmbeddedProxy.drain(fresh).hasPrefix("GET /ws HTTP/1.1\r\n"))
        #expect(proxy.context.pool.idleCount == 1)
    }

    @Test func theClientClosingClosesTheInstanceConnection() throws {
        let (proxy, up) = try tunnel()
        _ = try proxy.clientOutput()
        try proxy.client.close().wait()
        proxy.loop.run()
        #expect(!up.isActive)
        #expect(proxy.context.tunnels.count == 0)
    }

    @Test func aDeclinedUpgradeIsAnsweredAndTheConnectionCloses() throws {
        let proxy = try EmbeddedProxy(table: Self.table())
        try proxy.send(Self.upgrade)
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(up)
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\n\r\nnope"))
        proxy.loop.run()
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"), "\(out)")
        #expect(out.contains("Connection: close\r\n"), "nothing after an upgrade request is read as HTTP, so the connection ends: \(out)")
        #expect(out.hasSuffix("nope"))
        #expect(!proxy.client.isActive)
        #expect(proxy.context.tunnels.count == 0)
    }

    @Test func aSwitchNobodyAskedForIsABadGateway() throws {
        let proxy = try EmbeddedProxy(table: Self.table())
        try proxy.send("POST /plain HTTP/1.1\r\nHost: web\r\nContent-Length: 0\r\n\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        _ = try EmbeddedProxy.drain(up)
        try up.writeInbound(ByteBuffer(string: Self.switched))
        proxy.loop.run()
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(out)")
        #expect(out.contains("did not ask to switch"), "\(out)")
        #expect(!up.isActive)
    }

    @Test func halfAnUpgradeIsAPlainRequestAndAnUpgradeToAnH2cServiceIsRefused() throws {
        for half in ["GET /ws HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\n\r\n",
                     "GET /ws HTTP/1.1\r\nHost: web\r\nUpgrade: websocket\r\n\r\n"] {
            let proxy = try EmbeddedProxy(table: Self.table())
            try proxy.send(half)
            let up = try #require(proxy.connector.channel(for: "v1-a"))
            let sent = try EmbeddedProxy.drain(up)
            #expect(sent.hasPrefix("GET /ws HTTP/1.1\r\n") && !sent.lowercased().contains("upgrade"), "forwarded as a plain request: \(sent)")
            try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
            #expect(try proxy.clientOutput().hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(proxy.client.isActive, "and the connection stays for the next request")
        }
        var table = Self.table()
        table.services[0].upstream = .h2c
        let proxy = try EmbeddedProxy(table: table)
        try proxy.send(Self.upgrade)
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 501 Not Implemented\r\n") && out.contains("protocol upgrades cannot be forwarded"), "\(out)")
        #expect(proxy.connector.channel(for: "v1-a") == nil, "nothing reached an instance")
    }

    @Test func anHTTP10RequestCannotUpgrade() throws {
        let proxy = try EmbeddedProxy(table: Self.table())
        try proxy.send("GET /ws HTTP/1.0\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        let up = try #require(proxy.connector.channel(for: "v1-a"))
        let sent = try EmbeddedProxy.drain(up)
        #expect(!sent.contains("Upgrade"), "HTTP/1.0 has no upgrade: the headers are dropped as hop-by-hop: \(sent)")
    }

    @Test func tunnelsCloseWebsocketDrainAfterTheirVersionStopsTakingTraffic() throws {
        let (proxy, up) = try tunnel(drain: .seconds(5))
        _ = try proxy.clientOutput()
        // Still serving: nothing happens however long it stays open.
        proxy.context.tunnels.tableApplied(RouteTableView(Self.table(drain: .seconds(5))), on: proxy.loop)
        proxy.loop.advanceTime(by: .seconds(60))
        #expect(proxy.client.isActive && up.isActive)

        // Weight 0 (a switch to another version): the drain starts; a return to traffic
        // before it runs out calls it off.
        proxy.context.tunnels.tableApplied(RouteTableView(Self.table(drain: .seconds(5), weight: 0)), on: proxy.loop)
        proxy.loop.advanceTime(by: .seconds(3))
        proxy.context.tunnels.tableApplied(RouteTableView(Self.table(drain: .seconds(5))), on: proxy.loop)
        proxy.loop.advanceTime(by: .seconds(10))
        #expect(proxy.client.isActive && up.isActive, "back in traffic before websocket_drain ran out")

        // Out of the table altogether: closed when websocket_drain runs out, not before.
        proxy.context.tunnels.tableApplied(RouteTableView(RouteTable(generation: 3, services: [])), on: proxy.loop)
        proxy.loop.advanceTime(by: .milliseconds(4900))
        #expect(proxy.client.isActive && up.isActive)
        proxy.loop.advanceTime(by: .milliseconds(200))
        #expect(!proxy.client.isActive && !up.isActive)
        #expect(proxy.context.tunnels.count == 0)
    }
}
