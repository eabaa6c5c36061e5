import NIOCore
import NIOEmbedded
import NIOHTTP1
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// Sticky assignment: cookie values, which requests they steer, and the handler's use of them.
@Suite struct AffinityTests {
    static let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    static let affinity = Affinity(cookie: "sw_web", key: key, scope: "r1")
    /// HMAC-SHA256(key, "web\0<scope>\0<version>") truncated to 16 bytes, base64url,
    /// computed outside Swift (Python's hmac module).
    static let signatures = [
        "r1.v1": "g00-6-Vr558WJtxkj5UToA",
        "r1.v2": "U-P5RglK0D-OLJ2BKJ1_QQ",
        "r0.v1": "J9GLLVRwVnRVKhYTWZ_2fw",
    ]
    static let fullSignatureR1V1 = "g00-6-Vr558WJtxkj5UToBwWV1AVnUqSG6iVI1gHrXo"

    static func cookie(_ scopeVersion: String) -> String {
        "sw_web=\(scopeVersion).\(signatures[scopeVersion]!)"
    }

    static func route(_ weights: [(String, Int)], affinity: Affinity? = AffinityTests.affinity, pin: PinRule? = nil) -> ServiceRoute {
        ServiceRoute(service: "web", listen: EmbeddedProxy.listen, groups: weights.enumerated().map { index, entry in
            BackendGroup(version: entry.0, weight: entry.1, endpoints: [Endpoint(id: "\(entry.0)-a", host: "127.0.0.1", port: 9001 + index)])
        }, affinity: affinity, pin: pin)
    }

    static func service(_ route: ServiceRoute, healthy: Bool = true) throws -> (ServiceState, [RouteProblem]) {
        let snapshot = EndpointRegistry(shardCount: 1).compile(RouteTable(generation: 1, services: [route]))
        for (endpoint, _) in snapshot.endpoints { endpoint.forceActiveHealth(healthy) }
        return (try #require(snapshot.listeners[EmbeddedProxy.listen]?.services.first), snapshot.problems)
    }

    static func assign(_ service: ServiceState, cookies: [String]) -> VersionAssignment {
        let headers = HTTPHeaders([("Host", "web")] + cookies.map { ("Cookie", $0) })
        return service.assignment(for: headers, client: { IPBits("127.0.0.1") }, isAvailable: { $0.isActivelyHealthy })
    }

    static func describe(_ assignment: VersionAssignment) -> String {
        switch assignment {
        case .weighted: "weighted"
        case .weightedAssigning: "assigning"
        case .sticky(let group): "sticky \(group.version)"
        case .pinned(let group): "pinned \(group.version)"
        case .unknownPin(let version, _): "unknown \(version)"
        }
    }

    @Test func cookieValuesAreSignedPerServiceScopeAndVersion() throws {
        let (service, problems) = try Self.service(Self.route([("v1", 50), ("v2", 50)]))
        #expect(problems.isEmpty)
        #expect(service.groups[0].cookie?.setCookie == "\(Self.cookie("r1.v1")); Path=/; HttpOnly; SameSite=Lax")
        #expect(service.groups[1].cookie?.setCookie == "\(Self.cookie("r1.v2")); Path=/; HttpOnly; SameSite=Lax")
        #expect(service.affinity?.groups.map(\.version) == ["v1", "v2"])
    }

    @Test func validCookieAmongOthersStaysOnItsVersion() throws {
        let (service, _) = try Self.service(Self.route([("v1", 50), ("v2", 50)]))
        #expect(Self.describe(Self.assign(service, cookies: [Self.cookie("r1.v2")])) == "sticky v2")
        #expect(Self.describe(Self.assign(service, cookies: ["theme=dark; \(Self.cookie("r1.v1")); lang=en"])) == "sticky v1")
        #expect(Self.describe(Self.assign(service, cookies: ["theme=dark", "  \(Self.cookie("r1.v1"))  "])) == "sticky v1", "a second Cookie header is read too")
        #expect(Self.describe(Self.assign(service, cookies: ["sw_web=r1.v1.\(Self.fullSignatureR1V1)"])) == "sticky v1", "an untruncated MAC is accepted")
        #expect(Self.describe(Self.assign(service, cookies: ["sw_web=garbage; \(Self.cookie("r1.v2"))"])) == "sticky v2", "a later valid duplicate wins over a garbled one")
    }

    @Test func forgedGarbledAndOtherScopeCookiesAreIgnored() throws {
        let (service, _) = try Self.service(Self.route([("v1", 50), ("v2", 50)]))
        let v1Signature = Self.signatures["r1.v1"]!
        for cookie in [
            "sw_web=r1.v2.\(v1Signature)",                    // version swapped, signature kept
            Self.cookie("r0.v1"),                             // signed for another scope
            "sw_web=r1.v1.\(v1Signature.dropLast())",         // truncated signature
            "sw_web=r1.v1.\(v1Signature)x",
            "sw_web=r1.v1",
            "sw_web=",
            "sw_web",
            "SW_WEB=r1.v1.\(v1Signature)",                    // cookie names are case-sensitive
            "other=r1.v1.\(v1Signature)",
            "",
        ] {
            #expect(Self.describe(Self.assign(service, cookies: [cookie])) == "assigning", "\(cookie)")
        }
        #expect(Self.describe(Self.assign(service, cookies: [])) == "assigning")
    }

    @Test func cookieForAVersionWithoutWeightOrInstancesIsIgnored() throws {
        let (threeWay, _) = try Self.service(Self.route([("v1", 0), ("v2", 50), ("v3", 50)]))
        #expect(Self.describe(Self.assign(threeWay, cookies: [Self.cookie("r1.v1")])) == "assigning")
        #expect(threeWay.affinity?.groups.map(\.version) == ["v2", "v3"])

        let (split, _) = try Self.service(Self.route([("v1", 50), ("v2", 50)]))
        split.groups[0].endpoints[0].forceActiveHealth(false)
        #expect(Self.describe(Self.assign(split, cookies: [Self.cookie("r1.v1")])) == "assigning")
        #expect(Self.describe(Self.assign(split, cookies: [Self.cookie("r1.v2")])) == "sticky v2")
    }

    @Test func noSplitMeansNoCookieWork() throws {
        let (single, _) = try Self.service(Self.route([("v1", 100), ("v2", 0)]))
        #expect(single.affinity == nil)
        #expect(Self.describe(Self.assign(single, cookies: [Self.cookie("r1.v1")])) == "weighted")
        let (none, _) = try Self.service(Self.route([("v1", 50), ("v2", 50)], affinity: nil))
        #expect(none.affinity == nil)
        #expect(none.groups.allSatisfy { $0.cookie == nil })
        #expect(Self.describe(Self.assign(none, cookies: [Self.cookie("r1.v1")])) == "weighted")
    }

    @Test func unusableAffinityIsReportedAndOff() throws {
        let (badKey, keyProblems) = try Self.service(Self.route([("v1", 50), ("v2", 50)], affinity: Affinity(cookie: "sw_web", key: "not hex", scope: "r1")))
        #expect(badKey.affinity == nil)
        #expect(keyProblems.map(\.message) == ["service web: affinity.key must be an even number of hex digits (got 7 characters); sticky assignment is off, requests are split by weight"])
        let (badName, nameProblems) = try Self.service(Self.route([("v1", 50), ("v2", 50)], affinity: Affinity(cookie: "a;b", key: Self.key, scope: "r1")))
        #expect(badName.affinity == nil)
        #expect(nameProblems.first?.message.contains("affinity.cookie") == true)
        let (shortKey, shortProblems) = try Self.service(Self.route([("v1", 50), ("v2", 50)], affinity: Affinity(cookie: "sw_web", key: "abcd", scope: "r1")))
        #expect(shortKey.affinity != nil)
        #expect(shortProblems.first?.message.contains("2 bytes") == true)
    }

    @Test func namesOutsideTheCookieCharacterSetAreEscaped() throws {
        let (service, _) = try Self.service(Self.route([("v1;x y", 50), ("v%2", 50)], affinity: Affinity(cookie: "c", key: Self.key, scope: "r\"1,")))
        let value = try #require(service.groups[0].cookie?.setCookie)
        #expect(value.hasPrefix("c=r%221%2C.v1%3Bx%20y."))
        #expect(service.groups[1].cookie?.setCookie.hasPrefix("c=r%221%2C.v%252.") == true)
        let pair = String(value.prefix { $0 != ";" })
        #expect(Self.describe(Self.assign(service, cookies: [pair])) == "sticky v1;x y")
    }

    @Test func base64urlHasNoPadding() {
        #expect(AffinitySigner.base64url(Array("f".utf8)[...]) == "Zg")
        #expect(AffinitySigner.base64url(Array("fo".utf8)[...]) == "Zm8")
        #expect(AffinitySigner.base64url(Array("foo".utf8)[...]) == "Zm9v")
        #expect(AffinitySigner.base64url([0xFB, 0xFF][...]) == "-_8")
        #expect(AffinitySigner.decodeHex("0aFf") == [0x0A, 0xFF])
        #expect(AffinitySigner.decodeHex("abc") == nil)
        #expect(AffinitySigner.decodeHex("zz") == nil)
    }

    // MARK: Through the handler

    @Test func responseGetsSetCookieNextToTheInstancesOwnAndCookiesGoUpstreamUntouched() throws {
        let proxy = try EmbeddedProxy(table: RouteTable(generation: 1, services: [Self.route([("v1", 50), ("v2", 50)])]))
        try proxy.send("GET / HTTP/1.1\r\nHost: web\r\nCookie: theme=dark; sw_web=forged; lang=en\r\n\r\n")
        let (version, up) = try #require(proxy.connector.channels.last.map { ($0.endpoint.dropLast(2), $0.channel) })
        let sent = try EmbeddedProxy.drain(up)
        #expect(sent.contains("Cookie: theme=dark; sw_web=forged; lang=en\r\n"))
        try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nSet-Cookie: app=1; Path=/\r\nContent-Length: 0\r\n\r\n"))
        let out = try proxy.clientOutput()
        #expect(out.contains("Set-Cookie: app=1; Path=/\r\n"))
        #expect(out.contains("Set-Cookie: \(Self.cookie("r1.\(version)")); Path=/; HttpOnly; SameSite=Lax\r\n"))
    }

    @Test func stickyRetryStaysOnTheAssignedVersion() throws {
        var route = Self.route([("v1", 50), ("v2", 50)])
        route.groups[0].endpoints.append(Endpoint(id: "v1-b", host: "127.0.0.1", port: 9011))
        let proxy = try EmbeddedProxy(table: RouteTable(generation: 1, services: [route]))
        proxy.connector.refuse = ["v1-a"]
        for _ in 0..<6 {
            try proxy.send("GET / HTTP/1.1\r\nHost: web\r\nCookie: \(Self.cookie("r1.v1"))\r\n\r\n")
            let up = try #require(proxy.connector.channel(for: "v1-b"))
            _ = try EmbeddedProxy.drain(up)
            try up.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
            let out = try proxy.clientOutput()
            #expect(out.hasPrefix("HTTP/1.1 200 OK"))
            #expect(!out.contains("Set-Cookie"), "a valid cookie is not set again")
        }
        #expect(proxy.connector.channel(for: "v2-a") == nil)
    }
}
