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
