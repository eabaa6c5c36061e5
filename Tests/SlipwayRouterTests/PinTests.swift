import NIOCore
import NIOEmbedded
import NIOHTTP1
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// The pin header: allowed clients reach a named version whatever its weight.
/// (`EmbeddedProxy`'s client is 10.1.2.3.)
@Suite struct PinTests {
    static let officeOnly = PinRule(allow: ["10.0.0.0/8"])

    static func assign(_ service: ServiceState, _ headers: [(String, String)], from client: String) -> String {
        AffinityTests.describe(service.assignment(for: HTTPHeaders(headers), client: { IPBits(client) }, isAvailable: { $0.isActivelyHealthy }))
    }

    @Test func allowedClientPinsWhateverTheWeight() throws {
        let (service, _) = try AffinityTests.service(AffinityTests.route([("v1", 100), ("v2", 0)], affinity: nil, pin: PinRule()))
        #expect(Self.assign(service, [("X-Slipway-Version", "v2")], from: "127.0.0.1") == "pinned v2")
        #expect(Self.assign(service, [("x-slipway-version", "v1")], from: "::1") == "pinned v1", "the header name is case-insensitive")
        #expect(Self.assign(service, [("X-Slipway-Version", "v9")], from: "127.0.0.1") == "unknown v9")
        #expect(Self.assign(service, [("X-Slipway-Version", "v2")], from: "10.1.2.3") == "weighted", "loopback only by default")
        #expect(Self.assign(service, [("X-Slipway-Version", "")], from: "127.0.0.1") == "weighted")
        #expect(Self.assign(service, [], from: "127.0.0.1") == "weighted")
    }

    @Test func pinWinsOverTheAffinityCookie() throws {
        let (service, _) = try AffinityTests.service(AffinityTests.route([("v1", 50), ("v2", 50)], pin: PinRule()))
        #expect(Self.assign(service, [("Cookie", AffinityTests.cookie("r1.v1")), ("X-Slipway-Version", "v2")], from: "127.0.0.1") == "pinned v2")
        #expect(Self.assign(service, [("Cookie", AffinityTests.cookie("r1.v1")), ("X-Slipway-Version", "v2")], from: "192.0.2.1") == "sticky v1")
    }

    @Test func pinnedRequestGoesToTheWeightZeroVersionAndCountsThere() throws {
        var route = AffinityTests.route([("v1", 50), ("v2", 50), ("v3", 0)], pin: Self.officeOnly)
        route.groups[2].endpoints.append(Endpoint(id: "v3-b", host: "127.0.0.1", port: 9013))
        let table = RouteTable(generation: 1, services: [route])
        let proxy = try EmbeddedProxy(table: table)
        for round in 0..<2 {
            try proxy.send("GET / HTTP/1.1\r\nHost: web\r\nX-Slipway-Version: v3\r\n\r\n")
            let up = try #require(proxy.connector.channels.last)
            #expect(up.endpoint.hasPrefix("v3-"))
            #expect(try EmbeddedProxy.drain(up.channel).contains("X-Slipway-Version: v3"))
            try up.channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
            let out = try proxy.clientOutput()
            #expect(out.hasPrefix("HTTP/1.1 200 OK"), "round \(round)")
            #expect(!out.contains("Set-Cookie"), "a pinned request is not assigned")
        }
        #expect(Set(proxy.connector.channels.map(\.endpoint)) == ["v3-a", "v3-b"], "round-robin inside the pinned version")
        let now = NIODeadline.now().uptimeNanoseconds
        let v3 = try #require(proxy.registry.recorders(for: table, nowNanos: now).first { $0.version == "v3" })
        #expect(v3.summary(windowSeconds: 60, nowNanos: now).totals.byClass.2 == 2)
    }

    @Test func unknownVersionGets503NamingItAndTheHeader() throws {
        let table = RouteTable(generation: 1, services: [AffinityTests.route([("v1", 100)], affinity: nil, pin: Self.officeOnly)])
        let proxy = try EmbeddedProxy(table: table)
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\nX-Slipway-Version: v9\r\n\r\n")
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 503 Service Unavailable"))
        #expect(out.hasSuffix("service web has no version \"v9\" (asked for with the X-Slipway-Version header)\n"))
        #expect(proxy.connector.channels.isEmpty)
        #expect(proxy.client.isActive)
    }

    @Test func pinnedVersionWithoutInstancesGets503AndNeverAnotherVersion() throws {
        let table = RouteTable(generation: 1, services: [AffinityTests.route([("v1", 100), ("v2", 0)], affinity: nil, pin: Self.officeOnly)])
        let proxy = try EmbeddedProxy(table: table)
        try #require(proxy.context.snapshot.endpoints.first { $0.0.id == "v2-a" }?.0).forceActiveHealth(false)
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\nX-Slipway-Version: v2\r\n\r\n")
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 503 Service Unavailable"))
        #expect(out.hasSuffix("version v2 of service web has no available instance (asked for with the X-Slipway-Version header)\n"))
        #expect(proxy.connector.channels.isEmpty)
    }

    @Test func headerFromAClientOutsideAllowIsIgnored() throws {
        let table = RouteTable(generation: 1, services: [AffinityTests.route([("v1", 100), ("v2", 0)], affinity: nil, pin: PinRule(header: "X-Pin", allow: ["127.0.0.0/8", "garbage"]))])
        let proxy = try EmbeddedProxy(table: table)
        #expect(proxy.context.snapshot.problems.count == 1)
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\nX-Pin: v2\r\n\r\n")
        #expect(proxy.connector.channels.map(\.endpoint) == ["v1-a"])
    }

    @Test func pinRuleSkipsUnparsableEntriesWithAProblem() {
        var problems: [RouteProblem] = []
        let matcher = PinMatcher(rule: PinRule(allow: ["10.0.0.0/8", "ten.zero/8", "::1/128", "1.2.3.4/40"]), service: "web", problems: &problems)
        #expect(matcher.networks.map(\.description) == ["10.0.0.0/8", "0:0:0:0:0:0:0:1/128"])
        #expect(problems.count == 2)
        #expect(problems.first?.message.contains("\"ten.zero/8\"") == true)
        #expect(problems.allSatisfy { $0.service == "web" })
        #expect(matcher.allows(IPBits("10.9.9.9")))
        #expect(!matcher.allows(IPBits("1.2.3.4")))
        #expect(!matcher.allows(nil))
    }
}
