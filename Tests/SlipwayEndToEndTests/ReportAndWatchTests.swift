import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// `slipway report` (DORA metrics from real rollouts) and `slipway status --watch` on and
/// off a terminal.
@Suite(.serialized) struct ReportAndWatchTests {
    @Test func reportCountsRealDeploysRollbacksAndLeadTime() async throws {
        try await withHello(replicas: 1) { h, port in
            // v2 was committed an hour ago; it goes live, then a person rolls it back.
            let commitTime = Int(Date().timeIntervalSince1970) - 3600
            let release = try await h.cli(["release", "create", "hello", "v2", "--commit", "abc1234", "--commit-time", "\(commitTime)"])
            #expect(release.status == 0, "\(release.stdout)\(release.stderr)")
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(try await h.versionAt(port: port) == "v1")

            let json = try await h.cli(["report", "--since", "1d", "-o", "json"])
            #expect(json.status == 0, "\(json.stderr)")
            let report = try decode(DeliveryReport.self, json.stdout)
            #expect(report.deployments == 2, "the initial release and v2: \(json.stdout)")
            #expect(report.succeeded == 2)
            #expect(report.reachedTraffic == 2)
            #expect(report.changeFailures == 1, "v2 was undone by the rollback")
            #expect(report.changeFailureRate == 0.5)
            #expect(report.rollbacks == 1)
            #expect(report.successRate == 1)
            let lead = try #require(report.leadTimeMedian)
            #expect(lead >= 3600 && lead < 3600 + 600, "commit an hour ago to live now: \(lead)")
            #expect(report.leadTimeSamples == 1)
            let restore = try #require(report.timeToRestoreMedian)
            #expect(restore > 0 && restore < 300, "\(restore)")
            #expect(report.deploymentsPerDay == 2)

            let text = try await h.cli(["report", "hello"])
            #expect(text.status == 0)
            #expect(text.stdout.contains("change failure rate"), "\(text.stdout)")
            #expect(text.stdout.contains("50.0 %"), "\(text.stdout)")
            #expect(text.stdout.contains("1 of 2 deployments that took traffic"), "\(text.stdout)")
            #expect(text.stdout.contains("lead time for changes"), "\(text.stdout)")

            // Bad input: an unknown environment, a bad window, a unit name.
            let env = try await h.cli(["report", "--env", "nowhere"])
            #expect(env.status == 1)
            #expect(env.stderr.contains("no environment nowhere"), "\(env.stderr)")
            let window = try await h.cli(["report", "--since", "lately"])
            #expect(window.status == 64)
            #expect(window.stderr.contains("--since must be a duration"), "\(window.stderr)")
            let unknown = try await h.cli(["report", "nosuch"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("nosuch"), "\(unknown.stderr)")
            let api = try await h.api("/v1/report?since=-3d")
            #expect(api.status == 400, "\(api.body)")
        }
    }

    @Test func watchRedrawsOnATerminalAndPrintsPlainLinesOtherwise() async throws {
        try await withHello(replicas: 1) { h, _ in
            // Not a terminal: no escape sequences, a time-stamped snapshot (printed once: nothing changed).
            let piped = try await h.cli(["status", "--watch", "--interval", "100ms", "--count", "3"])
            #expect(piped.status == 0, "\(piped.stderr)")
            #expect(!piped.stdout.contains("\u{1B}"), "\(piped.stdout)")
            #expect(piped.stdout.hasPrefix("--- "), "\(piped.stdout)")
            #expect(piped.stdout.contains("stable:   v1"), "\(piped.stdout)")
            #expect(piped.stdout.components(separatedBy: "stable:   v1").count == 2, "an unchanged view is not printed again: \(piped.stdout)")

            // A terminal (script(1) gives the command a pty): redrawn in place, in colour.
            let slipway = try BuiltProducts.path("slipway")
            let command = "\(slipway) status --watch --interval 100ms --count 2"
            // NO_COLOR empty counts as unset (no-color.org); the test runner may set it.
            let environment = ["SLIPWAY_SERVER": h.apiURL, "SLIPWAY_TOKEN": h.adminToken, "PATH": "/usr/bin:/bin", "TERM": "xterm", "NO_COLOR": ""]
            let tty = try await runCommand("/usr/bin/script", ["-qec", command, "/dev/null"], environment: environment)
            #expect(tty.status == 0, "\(tty.stdout)\(tty.stderr)")
            #expect(tty.stdout.contains("\u{1B}[H"), "cursor home: \(tty.stdout.debugDescription)")
            #expect(tty.stdout.components(separatedBy: "(Ctrl-C to stop)").count == 3, "two frames: \(tty.stdout.debugDescription)")
            #expect(tty.stdout.contains("\u{1B}[32mhealthy\u{1B}[0m"), "\(tty.stdout.debugDescription)")

            // NO_COLOR: still redrawn in place, no colours.
            var noColor = environment
            noColor["NO_COLOR"] = "1"
            let plain = try await runCommand("/usr/bin/script", ["-qec", command, "/dev/null"], environment: noColor)
            #expect(plain.status == 0)
            #expect(plain.stdout.contains("\u{1B}[H"))
            #expect(!plain.stdout.contains("\u{1B}[32m"), "\(plain.stdout.debugDescription)")
            #expect(plain.stdout.contains("healthy"))

            let bad = try await h.cli(["status", "--watch", "--interval", "1ms"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("--interval must be a duration of at least 100ms"), "\(bad.stderr)")
        }
    }
}
