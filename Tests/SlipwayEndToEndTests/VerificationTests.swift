import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Post-deploy checks (`verify:`) end to end: the real `slipway` binary and hello-app,
/// real traffic through the router, checks seconds (not hours) after the deploy. An
/// analysis that fails rolls back; a command passes, then fails after a SIGKILL of the
/// control plane; checks of a replaced release are skipped.
@Suite(.serialized) struct VerificationTests {
    func checks(_ h: SlipwayHarness) async throws -> [VerificationRecord] {
        let reply = try await h.api("/v1/services/hello/verifications")
        guard reply.status == 200 else { throw PollStop("GET /v1/services/hello/verifications answered \(reply.status): \(reply.body)") }
        return try decode([VerificationRecord].self, reply.body)
    }

    @Test func aFailingAnalysisRollsBackToThePreviousReleaseAndIsNotified() async throws {
        let receiver = try await StubHTTPServer { _ in .init(status: 204, body: "") }
        defer { Task { await receiver.close() } }
        let extra = """
            analysis:
              quick:
                checks:
                  - { metric: error_rate, max: 5%, window: 10s, min_samples: 5 }
            verify: { after: [10s], analysis: quick, on_failure: rollback }
            notifications:
              - { kind: webhook, url: "\(receiver.url)/hook", events: [verification_passed, verification_failed, verification_inconclusive] }
            """
        try await withHello(replicas: 1, extra: extra) { h, port in
            let probes = (0..<3).map { _ in TrafficProbe(port: port) }
            // v2 answers 500 to about half its requests, but passes health checks: the deploy succeeds.
            // The check needs 5 requests in 10 s (loaded CI machines sent only 14, once 3, in a
            // 4 s window, below the default 20); 5 requests without one failure at a 50 %
            // fault rate happen once in 32 runs, 14 once in 16,000.
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.5", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let failed = try await eventually("the T+10s check of v2 to fail", timeout: .seconds(60)) { () -> VerificationRecord? in
                try await checks(h).first { $0.version == "v2" && $0.status.isFinished }
            }
            #expect(failed.status == .failed, "\(failed)")
            #expect(failed.summary?.contains("error rate") == true, "\(failed.summary ?? "")")
            _ = try await eventually("v1 to serve again after the rollback", timeout: .seconds(60)) { () -> Bool? in
                let serving = try? await h.versionAt(port: port)
                let acted = try await checks(h).first?.action != nil
                return serving == "v1" && acted ? true : nil
            }
            for probe in probes { _ = await probe.stop() }
            let action = try #require(try await checks(h).first?.action)
            #expect(action.hasPrefix("rolling back to v1 (rollout "), "\(action)")
            let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
            #expect(history.first?.kind == .rollback && history.first?.toVersion == "v1", "\(history.map { ($0.kind, $0.toVersion) })")

            // Stored with the rollout: `why` of the deploy shows it, in JSON and text.
            let deployID = try #require(history.first { $0.kind == .deploy && $0.toVersion == "v2" }?.id)
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "\(deployID)", "-o", "json"]).stdout)
            #expect(why.verifications?.map(\.status) == [.failed])
            let text = try await h.cli(["why", "hello", "\(deployID)"]).stdout
            #expect(text.contains("post-deploy checks of v2") && text.contains("T+10s") && text.contains("failed"), "\(text)")

            let sent = try await eventually("verification_failed at the webhook") { () -> [String]? in
                let bodies = receiver.requests.map(\.body).filter { $0.contains("verification_failed") }
                return bodies.isEmpty ? nil : bodies
            }
            #expect(sent.count == 1 && sent[0].contains(#""version":"v2""#), "\(sent)")
        }
    }

    @Test func aCommandCheckRunsAtEachOffsetAndSurvivesASigkill() async throws {
        try await withHarness { h in
            let log = h.directory.file("verify.log")
            let exitFile = try h.directory.write("exit-status", "0")
            let extra = """
                verify:
                  after: [2s, 20s, 1h]
                  command:
                    run: [sh, -c, 'echo "$SLIPWAY_VERSION $SLIPWAY_FROM_VERSION $SLIPWAY_VERIFY_AFTER $SLIPWAY_URL" >> \(log); echo checked; exit $(cat \(exitFile))']
                    timeout: 20s
                """
            let (config, port) = try h.helloConfig(replicas: 1, extra: extra)
            try await h.startServer(configs: [config])
            _ = try await eventually("v1 to serve") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")

            // v1 was an initial release with the same verify: its checks were skipped by v2's success.
            let first = try await eventually("the T+2s check of v2 to pass", timeout: .seconds(60)) { () -> VerificationRecord? in
                try await checks(h).first { $0.version == "v2" && $0.afterSeconds == 2 && $0.status == .passed }
            }
            #expect(first.summary == "command passed (exit 0): checked", "\(first.summary ?? "")")
            let all = try await checks(h)
            #expect(all.filter { $0.version == "v1" }.allSatisfy { $0.status == .skipped || $0.status == .passed }, "\(all.map { ($0.version, $0.label, $0.status) })")
            #expect(all.filter { $0.version == "v2" }.map(\.label) == ["T+2s", "T+20s", "T+1h"])

            let status = try await h.cli(["status", "hello"]).stdout
            #expect(status.contains("verify v2") && status.contains("T+2s passed") && status.contains("T+20s due"), "\(status)")

            // The control plane dies before T+20s; the next check fails once it is back.
            #expect(try await checks(h).first { $0.version == "v2" && $0.afterSeconds == 20 }?.status == .pending, "T+20s must still be pending at the kill")
            try await h.killServer()
            try "7".write(toFile: exitFile, atomically: true, encoding: .utf8)
            try await h.startServer()
            let second = try await eventually("the T+20s check of v2 to fail", timeout: .seconds(60)) { () -> VerificationRecord? in
                try await checks(h).first { $0.version == "v2" && $0.afterSeconds == 20 && $0.status.isFinished }
            }
            #expect(second.status == .failed)
            #expect(second.summary == "command failed (exit 7): checked", "\(second.summary ?? "")")
            #expect(second.action == "alerted only (on_failure: alert)")
            #expect(try await h.versionAt(port: port) == "v2", "alert only: v2 still serves")

            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("v2 ") }
            #expect(lines == ["v2 v1 2s http://127.0.0.1:\(port)", "v2 v1 20s http://127.0.0.1:\(port)"], "\(lines)")

            // A new release: v2's T+1h check will never run.
            let v3 = try await h.cli(["deploy", "hello", "--version", "v3", "--wait"])
            #expect(v3.status == 0, "\(v3.stdout)\(v3.stderr)")
            let skipped = try #require(try await checks(h).first { $0.version == "v2" && $0.afterSeconds == 3600 })
            #expect(skipped.status == .skipped)
            #expect(skipped.summary?.contains("made v3 the stable release") == true, "\(skipped.summary ?? "")")
        }
    }
}
