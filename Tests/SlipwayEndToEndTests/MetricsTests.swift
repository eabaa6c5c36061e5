import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// The control plane's state on `GET /metrics` (weights, phases, steps, health, ended
/// rollouts, loop timings): linted by promtool and scraped by a real Prometheus that
/// answers PromQL about the canary that just ran.
@Suite(.serialized) struct MetricsTests {
    static let canary = "canary: { steps: [ {weight: 25}, {pause: {}} ], keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 5s }"

    @Test func prometheusAnswersAboutTheCanaryThatJustRan() async throws {
        let prometheusPort = freeLoopbackPort()
        try await withHello(replicas: 1, strategy: Self.canary) { h, port in
            try await PrometheusProviderTests.withPrometheus(port: prometheusPort, scraping: h) {
                let deploy = try await h.cli(["deploy", "hello", "--version", "v2"])
                #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
                _ = try await eventually("the canary to pause at 25 %", timeout: .seconds(60)) { () async throws -> Bool? in
                    let status = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                    return status.activeRollout?.phase == .paused ? true : nil
                }

                // What the scrape sees during the canary, and it passes Prometheus' linter.
                let during = try await h.api("/metrics").body
                #expect(during.contains(#"slipway_version_weight_ratio{service="hello",version="v2",role="canary"} 0.25"#), "\(during)")
                #expect(during.contains(#"slipway_version_weight_ratio{service="hello",version="v1",role="stable"} 0.75"#), "\(during)")
                #expect(during.contains(#"slipway_rollout_phase{service="hello",phase="paused"} 1"#), "\(during)")
                #expect(during.contains(#"slipway_rollout_phase{service="hello",phase="progressing"} 0"#), "\(during)")
                #expect(during.contains(#"slipway_rollout_active{service="hello"} 1"#), "\(during)")
                #expect(during.contains(#"slipway_canary_step{service="hello"} 2"#), "\(during)")
                #expect(during.contains(#"slipway_canary_steps{service="hello"} 2"#), "\(during)")
                #expect(during.contains(#"slipway_instances{service="hello",version="v2",state="running"} 1"#), "\(during)")
                #expect(during.contains(#"slipway_instance_healthy{service="hello",version="v2",instance="#), "\(during)")
                #expect(during.contains("slipway_controller_tick_duration_seconds_count"), "\(during)")
                try await Self.lint(during, in: h)

                // Prometheus has scraped the canary's weight.
                let weight = try await Self.query("slipway_version_weight_ratio{service=\"hello\",version=\"v2\"}", port: prometheusPort, until: { $0 == 0.25 })
                #expect(weight == 0.25)

                let promote = try await h.cli(["promote", "hello", "--full"])
                #expect(promote.status == 0, "\(promote.stdout)\(promote.stderr)")
                _ = try await eventually("the rollout to succeed", timeout: .seconds(60)) { () async throws -> Bool? in
                    let status = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                    return status.activeRollout == nil && status.stableVersion == "v2" ? true : nil
                }
                #expect(try await h.versionAt(port: port) == "v2")

                // PromQL about the deploy that just happened: one succeeded deploy, v2 takes everything.
                let succeeded = try await Self.query("sum(slipway_rollouts_total{service=\"hello\",kind=\"deploy\",result=\"succeeded\"})", port: prometheusPort, until: { $0 == 1 })
                #expect(succeeded == 1)
                let stable = try await Self.query("slipway_version_weight_ratio{service=\"hello\",version=\"v2\",role=\"stable\"}", port: prometheusPort, until: { $0 == 1 })
                #expect(stable == 1)
                let active = try await Self.query("slipway_rollout_active{service=\"hello\"}", port: prometheusPort, until: { $0 == 0 })
                #expect(active == 0)

                let after = try await h.api("/metrics").body
                #expect(!after.contains("slipway_canary_step{"), "no canary runs any more: \(after)")
                try await Self.lint(after, in: h)
            }
        }
    }

    /// The Grafana dashboard in the repository only uses metric names `/metrics` serves.
    @Test func grafanaDashboardUsesOnlyServedMetrics() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dashboard = root.appendingPathComponent("Examples/grafana/slipway-dashboard.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard)) as? [String: Any]
        let panels = try #require(json?["panels"] as? [[String: Any]])
        var expressions: [String] = []
        for panel in panels {
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                if let expr = target["expr"] as? String { expressions.append(expr) }
            }
        }
        #expect(expressions.count >= 8, "\(expressions)")
        let used = Set(expressions.flatMap { expr in
            expr.matches(of: /slipway_[a-z_]+/).map { String($0.output) }
        })
        try await withHello(replicas: 1, strategy: Self.canary) { h, port in
            // Traffic and a running canary so every family has samples.
            _ = try await TestHTTP.get("http://127.0.0.1:\(port)/")
            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            _ = try await eventually("the canary to pause", timeout: .seconds(60)) { () async throws -> Bool? in
                let status = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return status.activeRollout?.phase == .paused ? true : nil
            }
            let body = try await h.api("/metrics").body
            let served = Set(body.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.flatMap { line -> [String] in
                let name = String(line.split(separator: " ")[2])
                return [name, name + "_bucket", name + "_sum", name + "_count"]
            })
            for name in used.sorted() {
                #expect(served.contains(name), "the dashboard queries \(name), which /metrics does not serve")
            }
        }
    }

    static func lint(_ text: String, in h: SlipwayHarness) async throws {
        let file = try h.directory.write("metrics-\(UUID().uuidString).txt", text)
        let lint = try await runCommand("/bin/sh", ["-c", "\(try PrometheusProviderTests.tool("promtool")) check metrics < \(file)"])
        #expect(lint.status == 0, "promtool: \(lint.stdout)\(lint.stderr)")
    }

    /// An instant query's single value, polled until `until` holds (Prometheus scrapes every second).
    static func query(_ promql: String, port: Int, until: @escaping @Sendable (Double) -> Bool) async throws -> Double {
        let encoded = promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        var last = ""
        do {
            return try await eventually("prometheus to answer \(promql)", timeout: .seconds(30)) { () async throws -> Double? in
                let reply = try await TestHTTP.get("http://127.0.0.1:\(port)/api/v1/query?query=\(encoded)", timeout: .seconds(2))
                last = reply.body
                guard let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
                      let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
                      let value = result.first?["value"] as? [Any], value.count == 2,
                      let text = value[1] as? String, let number = Double(text), until(number) else { return nil }
                return number
            }
        } catch {
            throw PrometheusProviderTests.Failure(description: "\(error); last answer: \(last)")
        }
    }
}
