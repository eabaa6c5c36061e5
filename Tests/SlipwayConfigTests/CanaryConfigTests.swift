@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `strategy.canary`, `analysis:` and `pin:`: what parses, and the precise error for what does not.
@Suite struct CanaryConfigTests {
    func parse(_ yaml: String) throws -> ServiceSpec {
        try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: nil)
    }

    @Test func fullCanaryConfigParses() throws {
        let spec = try parse(minimal + """
            strategy:
              canary:
                steps: [ {weight: 10}, {pause: 30s}, {analysis: slow}, {weight: 50}, {pause: {}} ]
                sticky: false
                max_restarts: 5
                keep_previous: 5m
            analysis:
              default:
                interval: 2s
                checks:
                  - { metric: error_rate, max: 5% }
                  - { metric: latency_p95, max: 500ms, window: 20s, min_samples: 30 }
                  - { compare: baseline, metric: latency, significance: 0.01, min_effect: 0.15 }
              slow:
                on_inconclusive: fail
                inconclusive_limit: 3
                checks: [ { metric: request_rate, min: 1 } ]
            pin: { header: X-Tester-Version, allow: [10.0.0.0/8, "::1/128"] }
            """)
        let canary = try #require(spec.strategy.canary)
        #expect(canary.steps == [.weight(10), .pause(.seconds(30)), .analysis("slow"), .weight(50), .pause(nil)])
        #expect(canary.sticky == false)
        #expect(canary.maxRestarts == 5)
        #expect(canary.timing.keepPrevious == .seconds(300))
        let policy = try #require(spec.analysis["default"])
        #expect(policy.interval == .seconds(2))
        #expect(policy.checks == [
            .threshold(ThresholdCheck(metric: .errorRate, .max(0.05))),
            .threshold(ThresholdCheck(metric: .latencyP95, .max(500), window: .seconds(20), minSamples: 30)),
            .baseline(BaselineComparison(metric: .latency, significance: 0.01, minEffect: 0.15)),
        ])
        #expect(spec.analysis["slow"]?.onInconclusive == .fail)
        #expect(spec.pin == PinRule(header: "X-Tester-Version", allow: ["10.0.0.0/8", "::1/128"]))
    }

    @Test func canaryExampleParses() throws {
        let spec = try ConfigLoader.load(file: canaryExamplePath)
        #expect(spec.strategy.canary?.steps.count == 5)
        #expect(spec.analysis["default"]?.checks.count == 3)
    }

    @Test func canaryWithDefaultsParses() throws {
        let spec = try parse(minimal + "strategy: canary\n")
        #expect(spec.strategy.canary?.steps == CanarySpec.defaultSteps)
        #expect(spec.pin == PinRule())
    }

    @Test func weightOutsideZeroToHundredNamesTheStep() {
        #expect(singleError(minimal + "strategy:\n  canary:\n    steps: [ {weight: 10}, {weight: 150} ]\n")
            == "5:37: strategy.canary.steps[1].weight: weight must be between 0 and 100 (got 150)")
    }

    @Test func unknownAnalysisIsNamedWithWhatExists() {
        #expect(singleError(minimal + """
            strategy:
              canary:
                steps: [ {weight: 10}, {analysis: slwo} ]
            analysis:
              slow: { checks: [ {metric: error_rate, max: 0.01} ] }
            """) == "5:39: strategy.canary.steps[1].analysis: unknown analysis `slwo`; defined: slow")
        #expect(singleError(minimal + "strategy:\n  canary:\n    analysis: strict\n    steps: [ {weight: 10} ]\n")
            == "5:15: strategy.canary.analysis: unknown analysis `strict`; the file defines none under `analysis:`")
    }

    @Test func stepsThatCanNeverFinishAreRejected() {
        #expect(singleError(minimal + "strategy:\n  canary:\n    steps: [ {analysis: default}, {weight: 10} ]\n")
            == "5:14: strategy.canary.steps[0]: analysis `default` runs while the canary's weight is 0: it gets no traffic, so the step could never pass; put a `weight:` step before it")
        #expect(singleError(minimal + "strategy:\n  canary:\n    steps: [ {weight: 0}, {pause: {}} ]\n")
            == "5:12: strategy.canary.steps: no step gives the canary any traffic (a `weight:` above 0), so its analysis could never pass and the rollout never finish")
        #expect(singleError(minimal + "strategy:\n  canary:\n    steps: []\n")
            == "5:12: strategy.canary.steps: must list at least one entry")
    }

    @Test func badStepShapes() {
        #expect(singleError(minimal + "strategy:\n  canary:\n    steps: [ {wait: 10s} ]\n")
            == "5:15: strategy.canary.steps[0].wait: unknown step `wait`; allowed: `weight`, `pause`, `analysis`")
        #expect(singleError(minimal + "strategy:\n  canary:\n    steps: [ {weight: 10, pause: 5s} ]\n")?.contains("a step with one key") == true)
        #expect(singleError(minimal + "strategy:\n  canary:\n    steps: [ {weight: 10}, {pause: {until: x}} ]\n")?.contains("pause takes a duration") == true)
        #expect(singleError(minimal + "strategy:\n  canary:\n    steps: [ {weight: ten} ]\n")?.contains("expected a whole percentage from 0 to 100") == true)
    }

    @Test func badChecks() {
        func check(_ line: String) -> String? {
            singleError(minimal + "analysis:\n  default:\n    checks:\n      - \(line)\n")
        }
        #expect(check("{ metric: error_rat, max: 0.05 }") == "6:19: analysis.default.checks[0].metric: unknown metric `error_rat`; did you mean `error_rate`?")
        #expect(check("{ metric: error_rate, max: 5%, min: 1% }")?.contains("exactly one of max or min") == true)
        #expect(check("{ metric: error_rate, max: 120% }")?.contains("is not a limit for error_rate") == true)
        #expect(check("{ metric: latency_p95, max: fast }")?.contains("milliseconds or a duration such as 500ms") == true)
        #expect(check("{ compare: baseline, metric: latency_p95 }")?.contains("compares `latency` or `error_rate`") == true)
        #expect(check("{ compare: baseline, metric: latency, significance: 1.5 }")?.contains("significance: must be between 0 and 1 (exclusive) (got 1.5)") == true)
        #expect(check("{ compare: nearby, metric: latency }")?.contains("compare must be `baseline`") == true)
    }

    @Test func providerChecksParse() throws {
        let spec = try parse(minimal + """
            analysis:
              default:
                checks:
                  - provider: prometheus
                    url: http://127.0.0.1:9090
                    query: 'sum(rate(slipway_requests_total{version="{{version}}",code_class="5xx"}[{{window}}]))'
                    max: 0.05
                    window: 1m
                  - { provider: http, url: "http://checks.local/{{service}}?v={{version}}", json_path: data.ok_ratio, min: 0.99, timeout: 2s }
                  - { provider: http, url: "https://checks.local/ready" }
                  - { provider: command, run: [./check.sh, "{{version}}", "{{stable}}"] }
                  - { provider: command, run: [./latency.sh], max: 250 }
            """)
        let checks = try #require(spec.analysis["default"]?.checks)
        #expect(checks == [
            .provider(ProviderCheck(.prometheus(url: "http://127.0.0.1:9090", query: #"sum(rate(slipway_requests_total{version="{{version}}",code_class="5xx"}[{{window}}]))"#), .max(0.05), window: .seconds(60))),
            .provider(ProviderCheck(.http(url: "http://checks.local/{{service}}?v={{version}}", jsonPath: "data.ok_ratio"), .min(0.99), timeout: .seconds(2))),
            .provider(ProviderCheck(.http(url: "https://checks.local/ready", jsonPath: nil))),
            .provider(ProviderCheck(.command(run: ["./check.sh", "{{version}}", "{{stable}}"]))),
            .provider(ProviderCheck(.command(run: ["./latency.sh"]), .max(250))),
        ])
        #expect(checks[0].provider?.timeout == AnalysisDefaults.providerTimeout)
    }

    @Test func badProviderChecks() {
        func check(_ line: String) -> String? {
            singleError(minimal + "analysis:\n  default:\n    checks:\n      - \(line)\n")
        }
        #expect(check("{ provider: promethues, url: http://p:9090, query: up, max: 1 }")
            == "6:21: analysis.default.checks[0].provider: unknown provider `promethues`; did you mean `prometheus`?")
        #expect(check("{ provider: prometheus, query: up, max: 1 }")
            == "6:9: analysis.default.checks[0].url: `analysis.default.checks[0]` lacks the required key `url` for a prometheus check")
        #expect(check("{ provider: prometheus, url: http://p:9090, max: 1 }")
            == "6:9: analysis.default.checks[0].query: `analysis.default.checks[0]` lacks the required key `query` for a prometheus check")
        #expect(check("{ provider: prometheus, url: http://p:9090, query: up }")
            == "6:9: analysis.default.checks[0].max: a prometheus check needs max or min: the query's value is held against it")
        #expect(check("{ provider: command }")
            == "6:9: analysis.default.checks[0].run: `analysis.default.checks[0]` lacks the required key `run` for a command check")
        #expect(check("{ provider: http, url: \"ftp://files/x\" }")
            == "6:32: analysis.default.checks[0].url: \"ftp://files/x\" is not an http or https URL (the scheme is ftp)")
        #expect(check("{ provider: http, url: \"127.0.0.1:9090/x\" }")?.contains("analysis.default.checks[0].url: \"127.0.0.1:9090/x\" is not") == true)
        #expect(check("{ provider: prometheus, url: http://p:9090, query: 'x{version=\"{{verison}}\"}', max: 1 }")
            == "6:60: analysis.default.checks[0].query: unknown placeholder `{{verison}}`; did you mean `{{version}}`? the known placeholders are {{service}}, {{version}}, {{stable}}, {{window}}")
        #expect(check("{ provider: command, run: [./check.sh, \"{{port}}\"] }")
            == "6:48: analysis.default.checks[0].run[1]: unknown placeholder `{{port}}`; the known placeholders are {{service}}, {{version}}, {{stable}}, {{window}}")
        #expect(check("{ provider: prometheus, url: http://p:9090, query: 'rate(x[{{window])', max: 1 }")?.contains("has `{{` without a closing `}}`") == true)
        #expect(check("{ provider: http, url: http://x/y, json_path: data.ok }")
            == "6:55: analysis.default.checks[0].json_path: json_path names a number to hold against max or min, but the check has neither")
        #expect(check("{ provider: http, url: http://x/y, json_path: \"data..ok\", min: 1 }")?.contains("is not a path such as data.ok_ratio") == true)
        #expect(check("{ provider: prometheus, url: http://p:9090, query: up, max: 5% }")
            == "6:69: analysis.default.checks[0].max: \"5%\" is not a number; a provider check's max is a plain number in the unit of the value it reads")
        #expect(check("{ provider: prometheus, url: http://p:9090, query: up, max: 1, metric: error_rate }")
            == "6:80: analysis.default.checks[0].metric: `metric` belongs to built-in checks, not to a prometheus provider check")
        #expect(check("{ provider: command, run: [x], url: http://x/y }")
            == "6:45: analysis.default.checks[0].url: a command check takes no `url` (it takes `run`)")
        #expect(check("{ metric: error_rate, max: 5%, url: http://x/y }")
            == "6:45: analysis.default.checks[0].url: `url` belongs to provider checks; add `provider: prometheus`, `provider: http` or `provider: command`")
        #expect(check("{ max: 5% }")
            == "6:9: analysis.default.checks[0].metric: `analysis.default.checks[0]` lacks the required key `metric` (or `provider` for a check outside Slipway)")
        #expect(check("{ provider: command, run: [x], timeout: 0s }")?.contains("timeout: must be longer than 0 (got 0s)") == true)
    }

    @Test func badPolicySettings() {
        #expect(singleError(minimal + "analysis:\n  default: { on_inconclusive: wait }\n")
            == "4:31: analysis.default.on_inconclusive: unknown value `wait`; did you mean `fail`?")
        #expect(singleError(minimal + "analysis:\n  Default: {}\n")?.contains("not a valid analysis name") == true)
        #expect(singleError(minimal + "analysis:\n  default: { failure_limit: 0 }\n")?.contains("must be between 1 and 1000 (got 0)") == true)
    }

    @Test func badPinNetworks() {
        #expect(singleError(minimal + "pin: { allow: [10.0.0.0/33] }\n")
            == "3:16: pin.allow[0]: \"10.0.0.0/33\" is not a network in CIDR notation (such as 127.0.0.0/8, 10.0.0.0/8 or ::1/128)")
        #expect(singleError(minimal + "pin: { allow: [localhost] }\n")?.contains("not a network in CIDR notation") == true)
        #expect(singleError(minimal + "pin: { header: \"X Version\" }\n")?.contains("not a valid header name") == true)
        #expect(CIDRText.isValid("::/0"))
        #expect(CIDRText.isValid("fe80::1:2/64"))
        #expect(!CIDRText.isValid("1::2::3/64"))
        #expect(!CIDRText.isValid("256.0.0.1/8"))
    }
}

@Suite struct BlueGreenGateConfigTests {
    @Test func previewAndWatchParse() throws {
        let spec = try ConfigLoader.parse(minimal + """
            strategy:
              blue-green: { preview_analysis: smoke, watch: 5m, watch_analysis: default }
            analysis:
              smoke: { checks: [ {metric: error_rate, max: 1%} ] }
            """, fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.strategy.blueGreen.previewAnalysis == "smoke")
        #expect(spec.strategy.blueGreen.watch == .seconds(300))
        #expect(spec.strategy.blueGreen.watchAnalysis == "default")
    }

    @Test func unknownPreviewAnalysisIsNamed() {
        #expect(singleError(minimal + "strategy:\n  blue-green: { preview_analysis: smoke }\n")
            == "4:35: strategy.blue-green.preview_analysis: unknown analysis `smoke`; the file defines none under `analysis:`")
    }
}
