import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// `GET /v1/stream` on the real server: it follows a rollout with `phase` events and
/// snapshots, and an open stream does not hold the server's graceful shutdown open.
@Suite(.serialized) struct DashboardStreamTests {
    @Test func anOpenStreamFollowsARolloutAndEndsWhenTheServerStops() async throws {
        try await withHello(replicas: 1) { h, _ in
            let port = try #require(URLComponents(string: h.apiURL)?.port)
            let stream = try RawHTTPStream(port: port, path: "/v1/stream", headers: ["Authorization: Bearer \(h.adminToken)"])
            // Snapshots come about every second; a CI machine starting every suite at once
            // can hold the first one back for many.
            let first = try await stream.read(until: #""stableVersion":"v1""#, timeout: .seconds(30))
            #expect(first.hasPrefix("HTTP/1.1 200"))
            #expect(first.lowercased().contains("content-type: text/event-stream"))
            let metrics = try await h.api("/metrics")
            #expect(metrics.body.contains("\nslipway_dashboard_streams 1\n"), "\(metrics.body.suffix(400))")

            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let followed = try await stream.read(until: #""kind":"deploy","phase":"succeeded""#, timeout: .seconds(30))
            let phases = followed.components(separatedBy: "event: phase\n").dropFirst().map { $0.prefix { $0 != "\n" } }
            #expect(phases.contains { $0.contains(#""phase":"succeeded""#) && $0.contains(#""toVersion":"v2""#) }, "a phase event for the rollout's end: \(phases)")
            _ = try await stream.read(until: #""stableVersion":"v2""#, timeout: .seconds(30))

            // SIGTERM: the stream ends and the control plane exits promptly.
            let server = try #require(h.server)
            let stopping = ContinuousClock.now
            server.signal(SIGTERM)
            try await stream.waitForEnd(timeout: .seconds(15))
            let status = try await server.wait(timeout: .seconds(20))
            let took = ContinuousClock.now - stopping
            #expect(status == 0, "\(server.stderr.suffix(2000))")
            print("server stopped \(took) after SIGTERM with an open dashboard stream")
        }
    }
}
