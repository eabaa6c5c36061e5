import SlipwayCore
import Testing

/// `{{service}}`, `{{version}}`, `{{stable}}`, `{{window}}` in provider checks.
@Suite struct ProviderTemplateTests {
    let context = ProviderContext(service: "hello", version: "v2+build.1", stable: "v1", windowSeconds: 30)

    @Test func fillsEveryPlaceholderInPromQL() {
        let query = #"sum(rate(slipway_requests_total{service="{{service}}",version="{{version}}",code_class="5xx"}[{{window}}])) / sum(rate(slipway_requests_total{version="{{stable}}"}[{{window}}]))"#
        #expect(ProviderTemplate.render(query, context)
            == #"sum(rate(slipway_requests_total{service="hello",version="v2+build.1",code_class="5xx"}[30s])) / sum(rate(slipway_requests_total{version="v1"}[30s]))"#)
        #expect(ProviderTemplate.problems(in: query).isEmpty)
    }

    @Test func urlValuesArePercentEncodedSoAPlusStaysAPlus() {
        #expect(ProviderTemplate.render("http://checks.local/{{service}}?v={{version}}&w={{window}}", context, escape: .urlComponent)
            == "http://checks.local/hello?v=v2%2Bbuild.1&w=30s")
        #expect(ProviderTemplate.Escape.queryValue.apply("a b&c=d+e/é") == "a%20b%26c%3Dd%2Be%2F%C3%A9")
    }

    @Test func unknownAndUnclosedPlaceholdersAreProblems() {
        #expect(ProviderTemplate.problems(in: "x{{verison}}y{{port}}") == [.unknown("verison"), .unknown("port")])
        #expect(ProviderTemplate.problems(in: "rate(x[{{window]") == [.unclosed])
        #expect(ProviderTemplate.Problem.unknown("port").message == "unknown placeholder `{{port}}`; the known placeholders are {{service}}, {{version}}, {{stable}}, {{window}}")
        // Unknown ones are left as written when rendering (the config refuses them first).
        #expect(ProviderTemplate.render("{{port}}-{{version}}", context) == "{{port}}-v2+build.1")
        // PromQL's own braces are not placeholders.
        #expect(ProviderTemplate.problems(in: #"up{job="x"}"#).isEmpty)
    }

    @Test func windowNeverReachesBackBeforeTheRolloutBegan() {
        func window(_ seconds: Double, age: Double) -> String {
            ProviderContext(service: "s", version: "v", stable: nil, window: .milliseconds(Int64(seconds * 1000)), rolloutAge: age).window
        }
        #expect(window(30, age: 600) == "30s")
        #expect(window(30, age: 12.2) == "13s")
        #expect(window(30, age: 0) == "1s")
        #expect(ProviderContext(service: "s", version: "v", stable: nil, windowSeconds: 5).stable == "")
    }

    @Test func urlsMustBeHTTPWithAHost() {
        #expect(ProviderTemplate.urlProblem("http://127.0.0.1:9090") == nil)
        #expect(ProviderTemplate.urlProblem("https://checks.local/{{service}}/{{version}}") == nil)
        #expect(ProviderTemplate.urlProblem("ftp://x/y") == #""ftp://x/y" is not an http or https URL (the scheme is ftp)"#)
        #expect(ProviderTemplate.urlProblem("127.0.0.1:9090")?.contains("not an http or https URL") == true
                || ProviderTemplate.urlProblem("127.0.0.1:9090")?.contains("not a URL") == true)
        #expect(ProviderTemplate.urlProblem("prometheus") == #""prometheus" is not a URL; write it as http://HOST:PORT/PATH"#)
        #expect(ProviderTemplate.urlProblem("http:///metrics") == #""http:///metrics" has no host; write it as http://HOST:PORT/PATH"#)
    }

    @Test func requestsFillInTheirTemplates() {
        let prometheus = ProviderCheck(.prometheus(url: "http://127.0.0.1:9090/", query: #"x{version="{{version}}"}"#), .max(1))
        let request = prometheus.request(context)
        #expect(request == .prometheus(url: "http://127.0.0.1:9090/", query: #"x{version="v2+build.1"}"#))
        #expect(request.prometheusQueryURL == "http://127.0.0.1:9090/api/v1/query?query=x%7Bversion%3D%22v2%2Bbuild.1%22%7D")
        #expect(request.answerer == "prometheus at http://127.0.0.1:9090/")

        let command = ProviderCheck(.command(run: ["./check.sh", "{{version}}", "two words"]))
        #expect(command.request(context) == .command(run: ["./check.sh", "v2+build.1", "two words"]))
        #expect(command.request(context).description == "./check.sh v2+build.1 'two words'")
    }

    @Test func checkProblemsNameTheirKeys() {
        #expect(ProviderCheck(.prometheus(url: "http://p:9090", query: "up"), nil).problems.map(\.key) == ["max"])
        #expect(ProviderCheck(.http(url: "http://x/y", jsonPath: "a.b"), nil).problems.map(\.message)
            == ["json_path names a number to hold against max or min, but the check has neither"])
        #expect(ProviderCheck(.http(url: "http://x/{{verison}}", jsonPath: nil)).problems.map(\.kind) == [.template])
        #expect(ProviderCheck(.command(run: ["ok", "{{port}}"])).problems.map { [$0.key, "\($0.index ?? -1)"] } == [["run", "1"]])
        #expect(ProviderCheck(.command(run: []), window: .zero).problems.map(\.key) == ["run", "window"])
        #expect(ProviderCheck(.http(url: "http://x/y", jsonPath: nil)).problems.isEmpty)
    }
}
