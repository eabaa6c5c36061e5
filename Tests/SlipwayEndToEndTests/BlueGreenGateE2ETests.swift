import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Blue-green with preview analysis and a post-switch watch, end to end.
@Suite(.serialized) struct BlueGreenGateE2ETests {
    @Test func previewGatesTheSwitchAndAFailedWatchSwitchesBack() async throws {
        let strategy = "blue-green: { keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 2s, preview_analysis: default, watch: 6s }"
        let analysis = """
            analysis:
              default:
                interval: 1s
                inconclusive_limit: 3
                checks:
                  - { metric: error_rate, max: 5%, window: 5s }
            """
        try await withHello(replicas: 1, extra: analysis, strategy: strategy) { h, port in
            func rollout() async throws -> RolloutRecord {
                try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0]
            }
            // v2: testers' pinned traffic passes the preview, users switch, the watch passes.
            let users = TrafficProbe(port: port)
            let testers = TrafficProbe(port: port, headers: [("X-Slipway-Version", "v2")])
            let good = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
            #expect(good.stdout.contains("preview analysis `default` passed"), "\(good.stdout)")
            #expect(good.stdout.contains("watch of 6s ended"), "\(good.stdout)")
            let tested = await testers.stop()
            let before = await users.stop()
            #expect(before.failures.isEmpty, "\(before.failures.prefix(3))")
            #expect(tested.versions["v2", default: 0] > 0)

            // v3 fails half its requests; nobody previews it, so a person promotes it; the
            // watch catches it and switches back to the still-warm v2.
            // A long watch: on a loaded machine the probe may send too few requests for some
            // seconds (inconclusive runs); a watch that ended first would pass v3.
            let (longWatch, _) = try h.helloConfig(listenPort: port, replicas: 1, extra: analysis,
                                                   strategy: strategy.replacingOccurrences(of: "watch: 6s", with: "watch: 60s"))
            #expect(try await h.cli(["apply", "-f", longWatch]).status == 0)
            let probe = TrafficProbe(port: port)
            #expect(try await h.cli(["deploy", "hello", "--version", "v3", "--set-env", "FAULT_ERROR_RATE=0.5"]).status == 0)
            _ = try await eventually("v3 to wait in preview") { () async throws -> RolloutRecord? in
                let r = try await rollout()
                guard r.toVersion == "v3" else { return nil }
                if r.phase.isTerminal {
                    throw PollStop("v3's rollout ended \(r.phase) before its preview: \(r.reason ?? "") \(r.details ?? "")")
                }
                return r.phase == .previewing ? r : nil
            }
            let promote = try await h.cli(["promote", "hello"])
            #expect(promote.status == 0, "\(promote.stdout)\(promote.stderr)")
            let ended = try await eventually("the watch to switch back", timeout: .seconds(90)) {
                let r = try await rollout()
                return r.phase.isTerminal ? r : nil
            }
            #expect(ended.phase == .failed)
            #expect(ended.reason?.contains("watch analysis `default`") == true, "\(String(describing: ended.reason))")
            for _ in 0..<20 { #expect(try await h.versionAt(port: port) == "v2") }
            _ = await probe.stop()
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.decisions.map(\.kind).suffix(2) == [.promoted, .rolledBack])
            #expect(why.decisions.last?.summary.contains("switched back to v2 during the watch") == true)
            let status = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(status.stableVersion == "v2")
        }
    }
}
