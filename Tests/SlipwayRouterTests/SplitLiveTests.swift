import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// Traffic splits, sticky assignment and the pin header over real loopback sockets.
@Suite(.serialized) struct SplitLiveTests {
    typealias Rig = RouterLiveTests.Rig

    static func route(_ groups: [BackendGroup], affinity: Affinity? = nil, pin: PinRule? = nil) -> ServiceRoute {
        var route = RouterLiveTests.route(groups)
        route.affinity = affinity
        route.pin = pin
        return route
    }

    static func group(_ version: String, _ weight: Int, _ upstream: TestUpstream) -> BackendGroup {
        RouterLiveTests.group(version, weight, [upstream])
    }

    @Test func splitFollowsTheWeightsWithinTwoPoints() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let v1 = try await TestUpstream.start(name: "v1", group: group)
        let v2 = try await TestUpstream.start(name: "v2", group: group)
        let rig = try await Rig.start(RouteTable(generation: 1, services: [Self.route([Self.group("v1", 90, v1), Self.group("v2", 10, v2)])]))
        let total = 10_000
        let connections = 4
        let port = rig.port
        let counts = try await withThrowingTaskGroup(of: [String: Int].self) { tasks in
            for _ in 0..<connections {
                tasks.addTask {
                    let client = try await TestClient.connect(port: port, group: group)
                    var counts: [String: Int] = [:]
                    for _ in 0..<(total / connections) {
                        let response = try await client.send(.GET, "/")
                        #expect(response.headers["Set-Cookie"].isEmpty)
                        counts[response.body, default: 0] += 1
                    }
                    await client.close()
                    return counts
                }
            }
            var merged: [String: Int] = [:]
            for try await counts in tasks { merged.merge(counts, uniquingKeysWith: +) }
            return merged
        }
        #expect(counts.values.reduce(0, +) == total)
        let v1Share = Double(counts["v1", default: 0]) * 100 / Double(total)
        let v2Share = Double(counts["v2", default: 0]) * 100 / Double(total)
        #expect(abs(v1Share - 90) <= 2, "v1 answered \(v1Share)%")
        #expect(abs(v2Share - 10) <= 2, "v2 answered \(v2Share)%")

        // The router's own counts agree with what the instances answered, and the
        // exported latency buckets hold one sample per request.
        let stats = rig.router.stats(window: .seconds(300), latencyBuckets: true)
        for version in ["v1", "v2"] {
            let entry = try #require(stats.first { $0.version == version })
            #expect(entry.requests == UInt64(counts[version, default: 0]))
            let buckets = try #require(entry.latency)
            #expect(buckets.reduce(0) { $0 + $1.count } == entry.requests)
        }
        #expect(rig.router.stats(window: .seconds(300)).allSatisfy { $0.latency == nil })

        await rig.stop()
        await v1.stop()
        await v2.stop()
        try await group.shutdownGracefully()
    }

    @Test func clientsStayOnTheirVersionDuringASplit() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let v1 = try await TestUpstream.start(name: "v1", group: group)
        let v2 = try await TestUpstream.start(name: "v2", group: group)
        let split = Self.route([Self.group("v1", 50, v1), Self.group("v2", 50, v2)], affinity: AffinityTests.affinity)
        let rig = try await Rig.start(RouteTable(generation: 1, services: [split]))
        let client = try await TestClient.connect(port: rig.port, group: group)

        // No cookie: chosen by weight and assigned.
        let first = try await client.send(.GET, "/")
        let assigned = first.body
        let other = assigned == "v1" ? "v2" : "v1"
        #expect(first.headers["Set-Cookie"] == ["\(AffinityTests.cookie("r1.\(assigned)")); Path=/; HttpOnly; SameSite=Lax"])
        let pair = try #require(first.headers["Set-Cookie"].first.map { String($0.prefix { $0 != ";" }) })

        // With the cookie (among others): always the same version, no new cookie.
        for _ in 0..<200 {
            let response = try await client.send(.GET, "/", headers: [("Cookie", "theme=dark; \(pair); lang=en")])
            #expect(response.body == assigned)
            #expect(response.headers["Set-Cookie"].isEmpty)
        }

        // Version swapped, signature kept: ignored, so requests are split again and
        // each answer assigns its own version.
        let tampered = "sw_web=r1.\(other).\(AffinityTests.signatures["r1.\(assigned)"]!)"
        var seen = Set<String>()
        for _ in 0..<40 {
            let response = try await client.send(.GET, "/", headers: [("Cookie", tampered)])
            #expect(response.headers["Set-Cookie"] == ["\(AffinityTests.cookie("r1.\(response.body)")); Path=/; HttpOnly; SameSite=Lax"])
            seen.insert(response.body)
        }
        #expect(seen == ["v1", "v2"], "a tampered cookie must not steer")

        // A genuine cookie of an earlier rollout (scope r0) is ignored too.
        let stale = try await client.send(.GET, "/", headers: [("Cookie", AffinityTests.cookie("r0.v1"))])
        #expect(stale.headers["Set-Cookie"] == ["\(AffinityTests.cookie("r1.\(stale.body)")); Path=/; HttpOnly; SameSite=Lax"])

        // The assigned version leaves the split: the cookie no longer applies, and with a
        // single weighted version no cookie is set.
        let weights = assigned == "v1" ? (0, 100) : (100, 0)
        let moved = Self.route([Self.group("v1", weights.0, v1), Self.group("v2", weights.1, v2)], affinity: AffinityTests.affinity)
        #expect(await rig.router.apply(RouteTable(generation: 2, services: [moved])).isEmpty)
        for _ in 0..<20 {
            let response = try await client.send(.GET, "/", headers: [("Cookie", pair)])
            #expect(response.body == other)
            #expect(response.headers["Set-Cookie"].isEmpty)
        }

        await client.close()
        await rig.stop()
        await v1.stop()
        await v2.stop()
        try await group.shutdownGracefully()
    }

    @Test func noCookieWithASingleWeightedVersion() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let v1 = try await TestUpstream.start(name: "v1", group: group)
        let v2 = try await TestUpstream.start(name: "v2", group: group)
        let rig = try await Rig.start(RouteTable(generation: 1, services: [
            Self.route([Self.group("v1", 100, v1), Self.group("v2", 0, v2)], affinity: AffinityTests.affinity),
        ]))
        let client = try await TestClient.connect(port: rig.port, group: group)
        for _ in 0..<5 {
            let response = try await client.send(.GET, "/")
            #expect(response.body == "v1")
            #expect(response.headers["Set-Cookie"].isEmpty)
        }
        await client.close()
        await rig.stop()
        await v1.stop()
        await v2.stop()
        try await group.shutdownGracefully()
    }

    @Test func pinHeaderReachesAWeightZeroVersionFromAllowedClientsOnly() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let v1 = try await TestUpstream.start(name: "v1", group: group)
        let v2 = try await TestUpstream.start(name: "v2", group: group)
        let v3 = try await TestUpstream.start(name: "v3", group: group)
        let groups = [Self.group("v1", 50, v1), Self.group("v2", 50, v2), Self.group("v3", 0, v3)]
        let rig = try await Rig.start(RouteTable(generation: 1, services: [Self.route(groups, affinity: AffinityTests.affinity, pin: PinRule())]))
        let client = try await TestClient.connect(port: rig.port, group: group)

        // 127.0.0.1 is allowed by default.
        for _ in 0..<10 {
            let response = try await client.send(.GET, "/", headers: [("x-slipway-version", "v3")])
            #expect(response.status == .ok)
            #expect(response.body == "v3")
            #expect(response.headers["Set-Cookie"].isEmpty, "a pinned request is not assigned")
        }
        let unknown = try await client.send(.GET, "/", headers: [("X-Slipway-Version", "v9")])
        #expect(unknown.status == .serviceUnavailable)
        #expect(unknown.body.contains("\"v9\""))
        #expect(unknown.body.contains("X-Slipway-Version"))
        let v3Stats = rig.router.stats(window: .seconds(300)).first { $0.version == "v3" }
        #expect(v3Stats?.requests == 10)

        // Loopback is not in allow: the header is ignored.
        let officeOnly = Self.route(groups, pin: PinRule(allow: ["10.0.0.0/8"]))
        #expect(await rig.router.apply(RouteTable(generation: 2, services: [officeOnly])).isEmpty)
        for _ in 0..<10 {
            let response = try await client.send(.GET, "/", headers: [("X-Slipway-Version", "v3")])
            #expect(response.status == .ok)
            #expect(response.body != "v3")
        }

        await client.close()
        await rig.stop()
        await v1.stop()
        await v2.stop()
        await v3.stop()
        try await group.shutdownGracefully()
    }
}
