import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Steps of the wall clock under a running canary: the control plane's clock is stepped
/// through its test hook (`SLIPWAY_FAULT_CLOCK_FILE`: seconds added to this process's wall
/// clock, the machine's is untouched). A jump forward of 2 h must not end a 45 s pause, a
/// jump back of 3 h must not stretch it: the canary is promoted about 45 s after the pause
/// began, with no failed request.
@Suite(.serialized) struct ClockStepE2ETests {
    struct Event: Decodable { var kind: String; var message: String }

    func rollout(_ h: SlipwayHarness) async throws -> RolloutRecord {
        try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0]
    }

    func steps(_ h: SlipwayHarness) async throws -> [Event] {
        try decode([Event].self, try await h.api("/v1/services/hello/events?limit=500").body).filter { $0.kind == "clock_stepped" }
    }

    @Test func aCanaryPauseIsNeitherCutShortNorStretchedByStepsOfTheWallClock() async throws {
        let directory = try TemporaryDirectory(prefix: "slipway-clock")
        defer { directory.remove() }
        let offset = try directory.write("offset", "0")
        let patient = CanaryTests.quickAnalysis.replacingOccurrences(of: "inconclusive_limit: 4", with: "inconclusive_limit: 30")
        try await withHello(replicas: 1, extra: patient, strategy: CanaryTests.canary("[ {weight: 50}, {pause: 45s} ]"),
                            environment: ["SLIPWAY_FAULT_CLOCK_FILE": offset]) { h, port in
            let probes = (0..<3).map { _ in TrafficProbe(port: port) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            _ = try await eventually("the canary to reach its pause", timeout: .seconds(60)) {
                let r = try await rollout(h)
                return r.phase == .progressing && r.canary?.step == 2 ? r : nil
            }

            try "7200".write(toFile: offset, atomically: true, encoding: .utf8)
            let forward = try await eventually("the jump forward to be noticed") { () -> [Event]? in
                let found = try await steps(h)
                return found.count == 1 ? found : nil
            }
            #expect(forward[0].message.contains("stepped by +7200"), "\(forward[0].message)")
            let afterForward = try await rollout(h)
            #expect(afterForward.phase == .progressing && afterForward.canary?.step == 2,
                    "a jump forward of 2 h did not end the 45 s pause: \(afterForward.phase) \(String(describing: afterForward.canary?.step))")

            try "-3600".write(toFile: offset, atomically: true, encoding: .utf8)
            let back = try await eventually("the jump back to be noticed") { () -> [Event]? in
                let found = try await steps(h)
                return found.count == 2 ? found : nil
            }
            #expect(back.contains { $0.message.contains("stepped by -10800") }, "\(back.map(\.message))")
            // Not stretched by 3 h: the pause ends on its own time and the canary is promoted.
            let done = try await eventually("the canary to be promoted after its pause", timeout: .seconds(120)) {
                let r = try await rollout(h)
                return r.phase.isTerminal ? r : nil
            }
            #expect(done.phase == .succeeded, "\(done.phase) \(done.reason ?? "")")
            #expect(try await h.versionAt(port: port) == "v2")
            for probe in probes {
                let result = await probe.stop()
                #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))")
            }
        }
    }
}
