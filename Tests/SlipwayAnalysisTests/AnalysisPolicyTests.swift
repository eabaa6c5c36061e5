import Foundation
import SlipwayCore
import Testing

/// The analysis configuration as JSON (the config parser maps YAML onto these keys).
@Suite struct AnalysisPolicyTests {
    func decode(_ json: String) throws -> AnalysisPolicy {
        try JSONDecoder().decode(AnalysisPolicy.self, from: Data(json.utf8))
    }

    @Test func defaultPolicyIsTheDocumentsTriggers() {
        let p = AnalysisPolicy.default
        #expect(p.checks == [
            .threshold(ThresholdCheck(metric: .errorRate, .max(0.05), window: .seconds(30), minSamples: nil)),
            .threshold(ThresholdCheck(metric: .latencyP95, .max(500), window: .seconds(30), minSamples: nil)),
        ])
        #expect(p.interval == .seconds(5))
        #expect(p.failureLimit == 1 && p.inconclusiveLimit == 12 && p.onInconclusive == .pause)
    }

    @Test func decodesEveryKindOfCheck() throws {
        let p = try decode("""
        {"interval": "10s", "failure_limit": 2, "inconclusive_limit": 4, "on_inconclusive": "fail",
         "checks": [
          {"metric": "error_rate", "max": "5%", "window": "1m", "min_samples": 40},
          {"metric": "latency_p99", "max": "1.5s"},
          {"metric": "request_rate", "min": 2},
          {"compare": "baseline", "metric": "latency", "significance": 0.05, "min_effect": 0.2},
          {"compare": "baseline", "metric": "error_rate", "min_samples": 100}
         ]}
        """)
        #expect(p.interval == .seconds(10))
        #expect(p.failureLimit == 2 && p.inconclusiveLimit == 4 && p.onInconclusive == .fail)
        #expect(p.checks == [
            .threshold(ThresholdCheck(metric: .errorRate, .max(0.05), window: .seconds(60), minSamples: 40)),
            .threshold(ThresholdCheck(metric: .latencyP99, .max(1500))),
            .threshold(ThresholdCheck(metric: .requestRate, .min(2))),
            .baseline(BaselineComparison(metric: .latency, significance: 0.05, minEffect: 0.2)),
            .baseline(BaselineComparison(metric: .errorRate, minEffect: 0.01, minSamples: 100)),
        ])
    }

    @Test func missingKeysTakeTheDefaults() throws {
        #expect(try decode("{}") == .default)
        let b = try JSONDecoder().decode(BaselineComparison.self, from: Data(#"{"compare": "baseline", "metric": "latency"}"#.utf8))
        #expect(b.significance == 0.01 && b.minEffect == 0.1 && b.minSamples == 50 && b.window == .seconds(30))
        #expect(ThresholdCheck(metric: .requestRate, .min(1)).effectiveMinSamples == 0)
        #expect(ThresholdCheck(metric: .latencyP50, .max(1)).effectiveMinSamples == 20)
    }

    @Test func roundTripsThroughJSON() throws {
        let p = AnalysisPolicy(interval: .milliseconds(2500), checks: [
            .threshold(ThresholdCheck(metric: .latencyP50, .max(80), window: .seconds(45), minSamples: 5)),
            .baseline(BaselineComparison(metric: .errorRate, window: .seconds(120), significance: 0.05, minEffect: 0.02, minSamples: 60)),
        ], failureLimit: 3, inconclusiveLimit: 6, onInconclusive: .fail)
        let data = try JSONEncoder().encode(p)
        #expect(try JSONDecoder().decode(AnalysisPolicy.self, from: data) == p)
    }

    @Test(arguments: [
        #"{"failure_limit": 0}"#,
        #"{"inconclusive_limit": 0}"#,
        #"{"on_inconclusive": "ignore"}"#,
        #"{"checks": []}"#,
        #"{"checks": [{"metric": "error_rate", "max": 0.05, "min": 0.01}]}"#,
        #"{"checks": [{"metric": "error_rate"}]}"#,
        #"{"checks": [{"metric": "error_rate", "max": 1.5}]}"#,
        #"{"checks": [{"metric": "error_rate", "max": "500ms"}]}"#,
        #"{"checks": [{"metric": "latency_p95", "max": "fast"}]}"#,
        #"{"checks": [{"metric": "cpu", "max": 1}]}"#,
        #"{"checks": [{"compare": "baseline", "metric": "latency", "significance": 1.5}]}"#,
        #"{"checks": [{"compare": "baseline", "metric": "latency", "min_effect": 0.7}]}"#,
        #"{"checks": [{"compare": "stable", "metric": "latency"}]}"#,
        #"{"checks": [{"compare": "baseline", "metric": "latency_p95"}]}"#,
    ])
    func rejectsInvalidPolicies(json: String) {
        #expect(throws: DecodingError.self) { try decode(json) }
    }
}
