import SlipwayCore
import Testing

/// `GET /metrics`: the router's cumulative numbers in Prometheus' text format.
@Suite struct PrometheusExpositionTests {
    @Test func countersAndCumulativeHistogramBuckets() {
        var buckets = ExportedLatency.emptyBuckets
        buckets[0] = 3   // ≤ 5 ms
        buckets[4] = 1   // ≤ 100 ms
        buckets[11] = 1  // > 10 s
        let text = PrometheusExposition.render([
            VersionTotals(service: "hello", version: "v2", status2xx: 4, status5xx: 1, noResponse: 1, upstreamErrors: 1, latencyBuckets: buckets, latencySumMicros: 12_345_678),
        ])
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains(#"slipway_requests_total{service="hello",version="v2",code_class="2xx"} 4"#))
        #expect(lines.contains(#"slipway_requests_total{service="hello",version="v2",code_class="5xx"} 1"#))
        #expect(lines.contains(#"slipway_requests_total{service="hello",version="v2",code_class="1xx"} 0"#))
        #expect(lines.contains(#"slipway_requests_total{service="hello",version="v2",code_class="none"} 1"#))
        #expect(lines.contains(#"slipway_upstream_errors_total{service="hello",version="v2"} 1"#))
        #expect(lines.contains(#"slipway_request_duration_seconds_bucket{service="hello",version="v2",le="0.005"} 3"#))
        #expect(lines.contains(#"slipway_request_duration_seconds_bucket{service="hello",version="v2",le="0.05"} 3"#))
        #expect(lines.contains(#"slipway_request_duration_seconds_bucket{service="hello",version="v2",le="0.1"} 4"#))
        #expect(lines.contains(#"slipway_request_duration_seconds_bucket{service="hello",version="v2",le="10.0"} 4"#))
        #expect(lines.contains(#"slipway_request_duration_seconds_bucket{service="hello",version="v2",le="+Inf"} 5"#))
        #expect(lines.contains(#"slipway_request_duration_seconds_sum{service="hello",version="v2"} 12.345678"#))
        #expect(lines.contains(#"slipway_request_duration_seconds_count{service="hello",version="v2"} 5"#))
        #expect(lines.contains("# TYPE slipway_requests_total counter"))
        #expect(lines.contains("# TYPE slipway_request_duration_seconds histogram"))
        #expect(text.hasSuffix("\n"))
    }

    @Test func labelValuesAreEscaped() {
        let text = PrometheusExposition.render([VersionTotals(service: "a", version: "x\"y\\z\nw")])
        #expect(text.contains(#"version="x\"y\\z\nw""#))
    }

    @Test func everyMetricFamilyIsDeclaredOnceWithVersionsSorted() {
        let text = PrometheusExposition.render([VersionTotals(service: "b", version: "v1"), VersionTotals(service: "a", version: "v2")])
        #expect(text.components(separatedBy: "# TYPE slipway_requests_total").count == 2)
        let a = text.range(of: #"service="a""#)!.lowerBound
        let b = text.range(of: #"service="b""#)!.lowerBound
        #expect(a < b)
    }

    @Test func latenciesFallInTheFirstBucketWhoseBoundHoldsThem() {
        #expect(ExportedLatency.bucket(micros: 0) == 0)
        #expect(ExportedLatency.bucket(micros: 5_000) == 0)
        #expect(ExportedLatency.bucket(micros: 5_001) == 1)
        #expect(ExportedLatency.bucket(micros: 10_000_000) == 10)
        #expect(ExportedLatency.bucket(micros: 10_000_001) == 11)
        #expect(VersionTotals(service: "s", version: "v", status2xx: 2, noResponse: 1).requests == 3)
    }
}

@Suite struct EdgeExpositionTests {
    @Test func edgeRefusalsAreTheirOwnFamiliesAndOnlyWhenAnyServiceHasEdgeRules() {
        #expect(!PrometheusExposition.render([VersionTotals(service: "a", version: "v1")]).contains("slipway_rate_limited_total"))
        let text = PrometheusExposition.render([], edge: [EdgeTotals(service: "web", rateLimited: 7, forbidden: 2), EdgeTotals(service: "api", rateLimited: 0, forbidden: 1)])
        #expect(text.contains("# TYPE slipway_rate_limited_total counter\nslipway_rate_limited_total{service=\"api\"} 0\nslipway_rate_limited_total{service=\"web\"} 7\n"))
        #expect(text.contains("# TYPE slipway_forbidden_total counter\nslipway_forbidden_total{service=\"api\"} 1\nslipway_forbidden_total{service=\"web\"} 2\n"))
    }
}

/// The control plane's state families: weights as ratios with roles, the phase state set,
/// instance health and ended rollouts.
@Suite struct ControlPlaneExpositionTests {
    static func status(rollout: RolloutRecord?, instances: [InstanceRecord]) -> ServiceStatus {
        ServiceStatus(service: "web@prod", configVersion: 3, listen: ListenAddress(host: "127.0.0.1", port: 8080), stableVersion: "v1",
                      previousVersion: "v0", previousRetireAt: nil, activeRollout: rollout, instances: instances, serviceURL: "http://127.0.0.1:8080/")
    }

    static func instance(_ id: String, _ version: String, healthy: Bool?, state: InstanceState = .running) -> InstanceRecord {
        var i = InstanceRecord(id: id, service: "web@prod", version: version, port: 1, pid: 1, pidStartTime: 1, state: state, startedAt: 0, logPath: "/dev/null")
        i.healthy = healthy
        return i
    }

    @Test func weightsPhasesHealthAndTotals() {
        let rollout = RolloutRecord(id: 7, service: "web@prod", kind: .deploy, fromVersion: "v1", toVersion: "v2", phase: .paused, startedAt: 0)
        let text = ControlPlaneExposition.render(
            statuses: [Self.status(rollout: rollout, instances: [Self.instance("a", "v1", healthy: true), Self.instance("b", "v2", healthy: false), Self.instance("c", "v2", healthy: nil, state: .crashed)])],
            groups: ["web@prod": [BackendGroup(version: "v1", weight: 90, endpoints: []), BackendGroup(version: "v2", weight: 10, endpoints: []), BackendGroup(version: "v0", weight: 0, endpoints: [])]],
            rolloutTotals: [.init(service: "web@prod", kind: "deploy", result: "succeeded", count: 4), .init(service: "web@prod", kind: "deploy", result: "failed", count: 1)],
            build: "0.1.0", notifications: [("pending", 2), ("delivered", 5), ("failed", 0)], dashboardStreams: 3)
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"slipway_notifications{status="pending"} 2"#))
        #expect(lines.contains(#"slipway_notifications{status="failed"} 0"#))
        #expect(lines.contains("slipway_dashboard_streams 3"))
        #expect(lines.contains(#"slipway_version_weight_ratio{service="web@prod",version="v1",role="stable"} 0.9"#), "\(text)")
        #expect(lines.contains(#"slipway_version_weight_ratio{service="web@prod",version="v2",role="canary"} 0.1"#))
        #expect(lines.contains(#"slipway_version_weight_ratio{service="web@prod",version="v0",role="previous"} 0"#))
        #expect(lines.contains(#"slipway_rollout_active{service="web@prod"} 1"#))
        #expect(lines.contains(#"slipway_rollout_phase{service="web@prod",phase="paused"} 1"#))
        #expect(lines.contains(#"slipway_rollout_phase{service="web@prod",phase="progressing"} 0"#))
        #expect(!text.contains(#"phase="succeeded""#), "ended phases are not states of a running rollout")
        #expect(lines.contains(#"slipway_instance_healthy{service="web@prod",version="v1",instance="a"} 1"#))
        #expect(lines.contains(#"slipway_instance_healthy{service="web@prod",version="v2",instance="b"} 0"#))
        #expect(!text.contains(#"instance="c""#), "no health judged yet: no sample")
        #expect(lines.contains(#"slipway_instances{service="web@prod",version="v2",state="crashed"} 1"#))
        #expect(lines.contains(#"slipway_rollouts_total{service="web@prod",kind="deploy",result="failed"} 1"#))
        #expect(lines.contains(#"slipway_rollouts_total{service="web@prod",kind="deploy",result="succeeded"} 4"#))
        #expect(lines.contains(#"slipway_build_info{version="0.1.0"} 1"#))
        #expect(lines.contains("# TYPE slipway_rollouts_total counter"))
    }

    @Test func nothingRunningIsAllZeroAndNoCanaryFamilies() {
        let text = ControlPlaneExposition.render(statuses: [Self.status(rollout: nil, instances: [])], groups: [:], rolloutTotals: [], build: "x")
        #expect(text.contains(#"slipway_rollout_active{service="web@prod"} 0"#))
        #expect(!text.contains(#"phase="paused"} 1"#))
        #expect(!text.contains("slipway_canary_step"))
    }

    @Test func fleetSeriesCarryTheirServer() {
        var a = VersionTotals(service: "web", version: "v1", status2xx: 5)
        a.server = "10.0.0.2"
        let text = PrometheusExposition.render([a]) + PrometheusExposition.renderServers([.init(id: "10.0.0.2", up: true, sshCommands: 4, routerCalls: 30), .init(id: "10.0.0.1", up: false)])
        #expect(text.contains("slipway_requests_total{service=\"web\",version=\"v1\",server=\"10.0.0.2\",code_class=\"2xx\"} 5"))
        #expect(text.contains("slipway_server_up{server=\"10.0.0.1\"} 0\nslipway_server_up{server=\"10.0.0.2\"} 1\n"))
        #expect(text.contains("slipway_fleet_ssh_commands_total{server=\"10.0.0.2\"} 4\n") && text.contains("slipway_fleet_router_calls_total{server=\"10.0.0.2\"} 30\n"))
        #expect(PrometheusExposition.renderServers([]).isEmpty)
    }
}
