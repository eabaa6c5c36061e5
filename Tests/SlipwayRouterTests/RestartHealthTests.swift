import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// A router that starts from a table (a restart: the saved table, or the control plane's)
/// takes each endpoint's health from it, so it serves at once instead of answering errors
/// until its first checks pass; active checks still take over.
@Suite struct RestartHealthTests {
    /// Checks fail (the upstream answers `/slow=5000` after 5 s, the check gives up after
    /// 200 ms) and are far apart: only the table's hint can make the endpoint serve; 3
    /// failures in a row would take it out.
    static let failingHealth = HealthSpec(path: "/slow=5000", interval: .seconds(60), timeout: .milliseconds(200), healthy: 1, unhealthy: 3, grace: .zero)

    func serve(hint: Bool?) async throws -> (status: HTTPResponseStatus, body: String, healthy: Bool) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let upstream = try await TestUpstream.start(name: "v1", group: group)
        let router = Router(eventLoopGroup: group, logger: Logger(label: "test"))
        let endpoint = Endpoint(id: "v1", host: "127.0.0.1", port: upstream.port, healthy: hint)
        let route = ServiceRoute(service: "web", listen: ListenAddress(host: "127.0.0.1", port: 0),
                                 groups: [BackendGroup(version: "v1", weight: 100, endpoints: [endpoint])], health: Self.failingHealth)
        #expect(await router.apply(RouteTable(generation: 1, services: [route])).isEmpty)
        let port = try #require(router.boundPort(for: route.listen))
        let client = try await TestClient.connect(port: port, group: group)
        let response = try await client.send(.GET, "/")
        let healthy = router.health().first?.healthy ?? false
        await client.close()
        await router.shutdown()
        await upstream.stop()
        try? await group.shutdownGracefully()
        return (response.status, response.body, healthy)
    }

    @Test func anEndpointKnownHealthyServesBeforeItsChecksPass() async throws {
        let known = try await serve(hint: true)
        #expect(known.status == .ok && known.body == "v1")
        #expect(known.healthy)
    }

    @Test func anEndpointOfUnknownHealthWaitsForItsChecks() async throws {
        let unknown = try await serve(hint: nil)
        #expect(unknown.status != .ok && unknown.body != "v1", "\(unknown.status)")
        #expect(!unknown.healthy)
    }

    @Test func theHintSeedsOnlyANewEndpointAndChecksTakeOver() {
        var thresholds = HealthThresholds(healthyAfter: 2, unhealthyAfter: 2, grace: .seconds(30), firstSeen: .now(), healthy: true)
        #expect(thresholds.isHealthy)
        // No grace for an endpoint known healthy: failures count at once.
        #expect(thresholds.record(.failure("HTTP 503"), at: .now()) == nil)
        #expect(thresholds.record(.failure("HTTP 503"), at: .now()) == .becameUnhealthy)
    }
}
