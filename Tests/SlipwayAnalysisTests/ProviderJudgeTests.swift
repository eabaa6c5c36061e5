import Foundation
import SlipwayCore
import Testing

/// Provider checks judged from their readings: only a value within the bound or a passing
/// status passes; errors, no data and NaN are inconclusive with the reason.
@Suite struct ProviderJudgeTests {
    let errorRatio = ProviderCheck(.prometheus(url: "http://127.0.0.1:9090", query: #"ratio{version="{{version}}"}"#), .max(0.05))
    let request = ProviderRequest.prometheus(url: "http://127.0.0.1:9090", query: #"ratio{version="v2"}"#)

    @Test func valueAboveTheMaximumFailsWithTheValueAndTheQuery() {
        let v = CheckJudge.judge(errorRatio, request: request, reading: .value(0.3125))
        #expect(v.outcome == .fail)
        #expect(v.summary == #"prometheus value 0.3125 exceeded 0.05 (query: ratio{version="v2"})"#)
        #expect(v.evidence.metric == "prometheus" && v.evidence.provider == "prometheus")
        #expect(v.evidence.canaryValue == 0.3125)
        #expect(v.evidence.bound == "max" && v.evidence.threshold == 0.05)
        #expect(v.evidence.query == #"ratio{version="v2"}"#)
        #expect(v.evidence.error == nil)
        #expect(v.check == .provider(errorRatio))
    }

    @Test func valueWithinTheBoundPassesAndEqualIsFine() {
        #expect(CheckJudge.judge(errorRatio, request: request, reading: .value(0.01)).outcome == .pass)
        #expect(CheckJudge.judge(errorRatio, request: request, reading: .value(0.05)).summary.hasPrefix("prometheus value 0.05 is within the 0.05 maximum"))
        let min = ProviderCheck(.http(url: "http://x/s", jsonPath: "data.ok_ratio"), .min(0.99))
        let http = ProviderRequest.http(url: "http://x/s", jsonPath: "data.ok_ratio")
        #expect(CheckJudge.judge(min, request: http, reading: .value(0.97)).summary == "http value 0.97 is below the 0.99 minimum (data.ok_ratio at http://x/s)")
        #expect(CheckJudge.judge(min, request: http, reading: .value(0.995)).outcome == .pass)
    }

    @Test func valuesJustOverTheLimitReadDifferentlyFromIt() {
        let v = CheckJudge.judge(errorRatio, request: request, reading: .value(0.0500001))
        #expect(v.outcome == .fail)
        #expect(v.summary.hasPrefix("prometheus value 0.0500001 exceeded 0.05"), "\(v.summary)")
    }

    @Test func anErrorIsInconclusiveAndNamesWhoFailed() {
        let v = CheckJudge.judge(errorRatio, request: request, reading: .error("did not answer: connection refused"))
        #expect(v.outcome == .inconclusive)
        #expect(v.summary == #"prometheus check is inconclusive: prometheus at http://127.0.0.1:9090 did not answer: connection refused (query: ratio{version="v2"})"#)
        #expect(v.evidence.error == "prometheus at http://127.0.0.1:9090 did not answer: connection refused")
        #expect(v.evidence.canaryValue == nil)
    }

    @Test func noDataAndNaNAreInconclusiveNeverAPass() {
        let empty = CheckJudge.judge(errorRatio, request: request, reading: .noData("the query returned no data (an empty vector)"))
        #expect(empty.outcome == .inconclusive)
        #expect(empty.summary.contains("no data"))
        let nan = CheckJudge.judge(errorRatio, request: request, reading: .value(.nan))
        #expect(nan.outcome == .inconclusive)
        #expect(nan.summary.contains("NaN"))
        #expect(nan.evidence.canaryValue == nil)
        // A check that was never fetched is inconclusive too.
        #expect(CheckJudge.judge(errorRatio, request: nil, reading: nil).outcome == .inconclusive)
        #expect(CheckJudge.judge(.provider(errorRatio), window: nil).outcome == .inconclusive)
    }

    @Test func infinityIsJudgedButKeptOutOfTheJSONEvidence() throws {
        let v = CheckJudge.judge(errorRatio, request: request, reading: .value(.infinity))
        #expect(v.outcome == .fail)
        #expect(v.summary.hasPrefix("prometheus value +Inf exceeded 0.05"))
        #expect(v.evidence.canaryValue == nil)
        _ = try JSONEncoder().encode(v) // would throw on a non-finite number
    }

    @Test func statusChecksPassOn2xxOrExitZeroAndFailOtherwise() {
        let http = ProviderCheck(.http(url: "http://x/healthz", jsonPath: nil))
        let httpRequest = ProviderRequest.http(url: "http://x/healthz", jsonPath: nil)
        let pass = CheckJudge.judge(http, request: httpRequest, reading: .status(passed: true, detail: "HTTP 200"))
        #expect(pass.outcome == .pass)
        #expect(pass.summary == "http check of http://x/healthz passed: HTTP 200")
        let fail = CheckJudge.judge(http, request: httpRequest, reading: .status(passed: false, detail: "HTTP 503"))
        #expect(fail.outcome == .fail)
        #expect(fail.summary == "http check of http://x/healthz failed: HTTP 503")

        let command = ProviderCheck(.command(run: ["./check.sh", "{{version}}"]))
        let commandRequest = ProviderRequest.command(run: ["./check.sh", "v2"])
        let failed = CheckJudge.judge(command, request: commandRequest, reading: .status(passed: false, detail: "exit status 1"))
        #expect(failed.outcome == .fail)
        #expect(failed.summary == "command check `./check.sh v2` failed: exit status 1")
        #expect(failed.evidence.query == "./check.sh v2")
        let timedOut = CheckJudge.judge(command, request: commandRequest, reading: .error("did not finish within 5s; it was killed"))
        #expect(timedOut.summary == "command check is inconclusive: command `./check.sh v2` did not finish within 5s; it was killed (command `./check.sh v2`)")
    }

    @Test func runJudgesProviderChecksBesideBuiltInOnes() {
        let policy = AnalysisPolicy(checks: [
            .threshold(ThresholdCheck(metric: .errorRate, .max(0.05))),
            .provider(errorRatio),
        ])
        let window = MetricWindow(seconds: 30, canary: VersionWindow(version: "v2", requests: 100, errors: 0))
        let verdict = CheckJudge.run(policy, windowFor: { _ in window }, providerResult: { index in
            index == 1 ? (request, .value(0.2)) : nil
        })
        #expect(verdict.outcome == .fail)
        #expect(verdict.checks.map(\.outcome) == [.pass, .fail])
        #expect(verdict.summary == #"analysis failed: prometheus value 0.2 exceeded 0.05 (query: ratio{version="v2"})"#)

        let unfetched = CheckJudge.run(policy, windowFor: { _ in window })
        #expect(unfetched.outcome == .inconclusive)
    }

    @Test func providerChecksRoundTripThroughJSON() throws {
        let checks: [AnalysisCheck] = [
            .provider(errorRatio),
            .provider(ProviderCheck(.http(url: "http://x/{{service}}", jsonPath: "data.ok"), .min(0.99), window: .seconds(10), timeout: .seconds(2))),
            .provider(ProviderCheck(.command(run: ["./check.sh", "{{version}}"]))),
            .threshold(ThresholdCheck(metric: .errorRate, .max(0.05))),
        ]
        let data = try JSONEncoder().encode(checks)
        #expect(try JSONDecoder().decode([AnalysisCheck].self, from: data) == checks)
        let bad = Data(#"[{"provider":"prometheus","url":"ftp://x","query":"up","max":1}]"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([AnalysisCheck].self, from: bad) }
    }
}
