import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Analysis `prometheus` checks against a real Prometheus (Debian's `prometheus`, which
/// scripts/test.sh installs) scraping Slipway's own `GET /metrics`.
@Suite(.serialized) struct PrometheusProviderTests {
    /// The canary's error ratio over the window, from the router's counters as Prometheus
    /// scraped them; nothing (inconclusive) until the window holds 20 of its requests, as the
    /// README advises: a ratio of the first few requests says little (1.0 after two errors).
    static let errorRatio = #"sum(rate(slipway_requests_total{service="{{service}}",version="{{version}}",code_class="5xx"}[{{window}}])) / sum(rate(slipway_requests_total{service="{{service}}",version="{{version}}"}[{{window}}])) and sum(increase(slipway_requests_total{service="{{service}}",version="{{version}}"}[{{window}}])) >= 20"#

    static func analysis(prometheus: String, inconclusiveLimit: Int) -> String {
        """
        analysis:
          default:
            interval: 1s
            inconclusive_limit: \(inconclusiveLimit)
            checks:
              - provider: prometheus
                url: \(prometheus)
                query: '\(errorRatio)'
                max: 0.05
                window: 10s
                timeout: 2s
        """
    }

    static let canary = "canary: { steps: [ {weight: 50}, {pause: 10m} ], keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 5s }"

    @Test func badCanaryIsRolledBackOnTheValuePrometheusScrapedFromUs() async throws {
        let prometheusPort = freeLoopbackPort()
        let extra = Self.analysis(prometheus: "http://127.0.0.1:\(prometheusPort)", inconclusiveLimit: 60)
        try await withHello(replicas: 1, extra: extra, strategy: Self.canary) { h, port in
            // Our exposition passes Prometheus' own linter.
            #expect(try await TestHTTP.get("\(h.apiURL)/metrics").status == 401, "/metrics needs a token")
            let metrics = try await h.api("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.body.contains(#"slipway_requests_total{service="hello",version="v1",code_class="2xx"}"#), "\(metrics.body)")
            let file = try h.directory.write("metrics.txt", metrics.body)
            let lint = try await runCommand("/bin/sh", ["-c", "\(try Self.tool("promtool")) check metrics < \(file)"])
            #expect(lint.status == 0, "promtool: \(lint.stdout)\(lint.stderr)")

            try await Self.withPrometheus(port: prometheusPort, scraping: h) {
                let probe = TrafficProbe(port: port)
                let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.3", "--wait"], timeout: .seconds(120))
                _ = await probe.stop()
                #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
                #expect(deploy.stdout.contains("prometheus value"), "\(deploy.stdout)")

                let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
                let last = try #require(why.decisions.last)
                #expect(last.kind == .rolledBack)
                #expect(last.actor == "analysis")
                let check = try #require(last.verdict?.checks.first)
                #expect(check.outcome == .fail, "\(check.summary)")
                #expect(check.evidence.provider == "prometheus")
                let value = try #require(check.evidence.canaryValue)
                #expect(value > 0.05 && value < 0.7, "about 30 % of the canary's requests fail: \(value)")
                #expect(check.evidence.threshold == 0.05)
                #expect(check.evidence.query?.contains(#"version="v2""#) == true, "\(check.evidence.query ?? "")")
                #expect(check.summary.contains("exceeded 0.05"), "\(check.summary)")
                #expect(try await h.versionAt(port: port) == "v1")
            }
        }
    }

    @Test func prometheusThatDoesNotAnswerIsInconclusiveWithTheErrorNeverAPass() async throws {
        let deadPort = freeLoopbackPort() // nothing listens here
        let extra = Self.analysis(prometheus: "http://127.0.0.1:\(deadPort)", inconclusiveLimit: 2)
        try await withHello(replicas: 1, extra: extra, strategy: Self.canary) { h, port in
            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            let paused = try await eventually("the rollout to pause on inconclusive analysis", timeout: .seconds(60)) {
                let r = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0]
                return r.phase == .paused ? r : nil
            }
            let reason = paused.canary?.pauseReason ?? ""
            #expect(reason.contains("prometheus at http://127.0.0.1:\(deadPort) did not answer: connection refused"), "\(reason)")

            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(!why.decisions.contains { $0.kind == .promoted || $0.kind == .rolledBack })
            let check = try #require(why.decisions.last { $0.kind == .inconclusive }?.verdict?.checks.first)
            #expect(check.outcome == .inconclusive)
            #expect(check.evidence.error == "prometheus at http://127.0.0.1:\(deadPort) did not answer: connection refused")
            #expect(check.evidence.canaryValue == nil)
            #expect(try await h.cli(["abort", "hello"]).status == 0)
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }

    // MARK: a real Prometheus

    /// The path of a tool on PATH; a test failure (not a skip) when it is missing.
    static func tool(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin", "/usr/sbin"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Failure(description: "`\(name)` is not installed; scripts/test.sh installs it (apt-get install -y prometheus)")
    }

    /// Runs `body` with a Prometheus on `port` that scrapes `apiURL`/metrics every second,
    /// once it is ready and has scraped us; stops it afterwards.
    static func withPrometheus(port: Int, scraping h: SlipwayHarness, _ body: () async throws -> Void) async throws {
        let directory = h.directory
        let target = h.apiURL.replacingOccurrences(of: "http://", with: "")
        // Prometheus scrapes with a viewer token of its own, as a real deployment would.
        let created = try await h.cli(["token", "create", "prometheus", "--role", "viewer"])
        guard created.status == 0 else { throw Failure(description: "token create: \(created.stderr)") }
        let tokenFile = try directory.write("prometheus.token", created.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let config = try directory.write("prometheus.yml", """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: slipway
                metrics_path: /metrics
                authorization:
                  type: Bearer
                  credentials_file: \(tokenFile)
                static_configs:
                  - targets: ['\(target)']

            """)
        let prometheus = try ChildProcess(executable: try tool("prometheus"), arguments: [
            "--config.file=\(config)",
            "--storage.tsdb.path=\(directory.file("prometheus-data"))",
            "--web.listen-address=127.0.0.1:\(port)",
            "--log.level=warn",
        ])
        do {
            let base = "http://127.0.0.1:\(port)"
            _ = try await eventually("prometheus to be ready", timeout: .seconds(60)) { () async throws -> Bool? in
                if !prometheus.isRunning {
                    throw Failure(description: "prometheus exited with \(prometheus.process.terminationStatus): \(prometheus.stderr)")
                }
                return try await TestHTTP.get("\(base)/-/ready", timeout: .seconds(2)).status == 200 ? true : nil
            }
            _ = try await eventually("prometheus to scrape slipway's /metrics", timeout: .seconds(60)) {
                let reply = try await TestHTTP.get("\(base)/api/v1/query?query=up%7Bjob%3D%22slipway%22%7D", timeout: .seconds(2))
                return reply.body.contains(#""1"]"#) ? true : nil
            }
            try await body()
        } catch {
            await stop(prometheus)
            throw error
        }
        await stop(prometheus)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func stop(_ process: ChildProcess) async {
        process.signal(SIGTERM)
        if (try? await process.wait(timeout: .seconds(20))) == nil {
            process.signal(SIGKILL)
            _ = try? await process.wait(timeout: .seconds(10))
        }
    }
}
