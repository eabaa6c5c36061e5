import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Steps of the wall clock under a running rollout: the control plane's clock is stepped
/// through its test hook (`SLIPWAY_FAULT_CLOCK_FILE`: seconds added to this process's wall
/// clock; the machine's is untouched). A blue-green deploy drains v1 for its 45 s
/// `drain_timeout` while a slow request holds v1 busy: a jump forward of 2 h must not end the
/// drain, a jump back of 3 h must not stretch it — the rollout succeeds on its own time.
/// (A timer with no analysis in it, so a loaded machine cannot change the outcome.)
@Suite(.serialized) struct ClockStepE2ETests {
    struct Event: Decodable { var kind: String; var message: String }

    func rollout(_ h: SlipwayHarness) async throws -> RolloutRecord {
        try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0]
    }

    func steps(_ h: SlipwayHarness) async throws -> [Event] {
        try decode([Event].self, try await h.api("/v1/services/hello/events?limit=500").body).filter { $0.kind == "clock_stepped" }
    }

    @Test func aDrainIsNeitherCutShortNorStretchedByStepsOfTheWallClock() async throws {
        let directory = try TemporaryDirectory(prefix: "slipway-clock")
        defer { directory.remove() }
        let offset = try directory.write("offset", "0")
        try await withHello(replicas: 1, strategy: "blue-green: { keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 45s }",
                            environment: ["SLIPWAY_FAULT_CLOCK_FILE": offset]) { h, port in
            // A request v1 answers only after 5 minutes: the drain waits for it until drain_timeout.
            let slow = Task { try? await TestHTTP.get("http://127.0.0.1:\(port)/slow?ms=300000", timeout: .seconds(330)) }
            defer { slow.cancel() }
            _ = try await eventually("the slow request to be in flight on v1") { () -> Bool? in
                let status = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return status.instances.contains { $0.version == "v1" && ($0.inflight ?? 0) > 0 } ? true : nil
            }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            _ = try await eventually("v2 to take the traffic and v1 to drain", timeout: .seconds(60)) {
                let r = try await rollout(h)
                return r.phase == .draining ? r : nil
            }

            try "7200".write(toFile: offset, atomically: true, encoding: .utf8)
            let forward = try await eventually("the jump forward to be noticed") { () -> [Event]? in
                let found = try await steps(h)
                return found.count == 1 ? found : nil
            }
            #expect(forward[0].message.contains("stepped by +7200"), "\(forward[0].message)")
            let afterForward = try await rollout(h)
            #expect(afterForward.phase == .draining, "a jump forward of 2 h did not end the 45 s drain: \(afterForward.phase)")

            try "-3600".write(toFile: offset, atomically: true, encoding: .utf8)
            let back = try await eventually("the jump back to be noticed") { () -> [Event]? in
                let found = try await steps(h)
                return found.count == 2 ? found : nil
            }
            #expect(back.contains { $0.message.contains("stepped by -10800") }, "\(back.map(\.message))")
            // Not stretched by 3 h: the drain ends at its own deadline.
            let done = try await eventually("the drain to end at drain_timeout", timeout: .seconds(120)) {
                let r = try await rollout(h)
                return r.phase.isTerminal ? r : nil
            }
            #expect(done.phase == .succeeded, "\(done.phase) \(done.reason ?? "")")
            #expect(try await h.versionAt(port: port) == "v2")
        }
    }
}
