import SlipwayCore
import Testing

/// Raw answers of Prometheus, URLs and commands turned into readings.
@Suite struct ProviderAnswerTests {
    // MARK: Prometheus

    @Test func vectorWithOneSampleIsItsValue() {
        let body = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"version":"v2"},"value":[1717171717.123,"0.3125"]}]}}"#
        #expect(PrometheusAnswer.reading(status: 200, body: body) == .value(0.3125))
    }

    @Test func scalarIsItsValue() {
        let body = #"{"status":"success","data":{"resultType":"scalar","result":[1717171717.123,"42"]}}"#
        #expect(PrometheusAnswer.reading(status: 200, body: body) == .value(42))
    }

    @Test func emptyVectorIsNoDataNeverAPass() {
        let body = #"{"status":"success","data":{"resultType":"vector","result":[]}}"#
        #expect(PrometheusAnswer.reading(status: 200, body: body) == .noData("the query returned no data (an empty vector)"))
    }

    @Test func nanAndInfinityAreReadAsSuch() {
        func value(_ text: String) -> ProviderReading {
            PrometheusAnswer.reading(status: 200, body: #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"\#(text)"]}]}}"#)
        }
        guard case .value(let nan) = value("NaN") else { Issue.record("NaN is a value"); return }
        #expect(nan.isNaN)
        #expect(value("+Inf") == .value(.infinity))
    }

    @Test func errorStatusNamesTheError() {
        let body = #"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected <EOF>"}"#
        #expect(PrometheusAnswer.reading(status: 400, body: body)
            == .error(#"answered HTTP 400 with an error (bad_data): invalid parameter "query": 1:5: parse error: unexpected <EOF>"#))
    }

    @Test func garbageIsAnErrorWithAnExcerpt() {
        #expect(PrometheusAnswer.reading(status: 200, body: "<html>\n<body>hello</body></html>")
            == .error("answered with something that is not a Prometheus API response: <html> <body>hello</body></html>"))
        #expect(PrometheusAnswer.reading(status: 502, body: "")
            == .error("answered HTTP 502 with something that is not a Prometheus API response: (an empty body)"))
        #expect(PrometheusAnswer.reading(status: 200, body: #"{"status":"success"}"#)
            == .error(#"answered a success without data.resultType and data.result: {"status":"success"}"#))
        #expect(PrometheusAnswer.reading(status: 200, body: #"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}}"#)
            == .error(#"answered a sample that is not [time, "value"]: {"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}}"#))
    }

    @Test func severalSeriesOrOtherResultTypesAreErrors() {
        let two = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]}]}}"#
        #expect(PrometheusAnswer.reading(status: 200, body: two) == .error("answered 2 series; the query must return one (aggregate it, e.g. with sum(…))"))
        let matrix = #"{"status":"success","data":{"resultType":"matrix","result":[]}}"#
        #expect(PrometheusAnswer.reading(status: 200, body: matrix) == .error("answered a matrix result; the query must return an instant vector with one series or a scalar"))
    }

    // MARK: JSON paths

    @Test func jsonPathsFindNumbers() throws {
        let json = try #require(JSONAny.parse(#"{"data":{"ok_ratio":0.97,"quoted":"0.5","items":[{"v":1},{"v":2.5}],"flag":true}}"#))
        #expect(JSONPath.number(at: "data.ok_ratio", in: json) == .success(0.97))
        #expect(JSONPath.number(at: "data.quoted", in: json) == .success(0.5))
        #expect(JSONPath.number(at: "data.items[1].v", in: json) == .success(2.5))
        #expect(JSONPath.number(at: "data.items.0.v", in: json) == .success(1))
        #expect(JSONPath.number(at: nil, in: try #require(JSONAny.parse("12.5"))) == .success(12.5))
    }

    @Test func jsonPathFailuresSayWhereTheyStopped() throws {
        let json = try #require(JSONAny.parse(#"{"data":{"ok_ratio":0.97,"flag":true,"items":[1]}}"#))
        func failure(_ path: String) -> String? {
            if case .failure(let f) = JSONPath.number(at: path, in: json) { return f.description }
            return nil
        }
        #expect(failure("data.ok") == "`data` has no key `ok` (it has `flag`, `items`, `ok_ratio`)")
        #expect(failure("data.flag") == "`data.flag` is the boolean true, not a number")
        #expect(failure("data.items[3]") == "`data.items` has 1 entries, so there is no entry 3")
        #expect(failure("data.ok_ratio.x") == "`data.ok_ratio` is the number 0.97, not an object with key `x`")
        #expect(failure("missing") == "the answer has no key `missing` (it has `data`)")
        #expect(JSONPath.problem("data..x") != nil)
        #expect(JSONPath.problem("a[x]") != nil)
        #expect(JSONPath.problem("") != nil)
        #expect(JSONPath.problem("results[0].value") == nil)
    }

    // MARK: http

    @Test func httpStatusDecidesWithoutABound() {
        #expect(HTTPAnswer.reading(status: 204, body: "", jsonPath: nil, wantsNumber: false) == .status(passed: true, detail: "HTTP 204"))
        #expect(HTTPAnswer.reading(status: 503, body: "down", jsonPath: nil, wantsNumber: false) == .status(passed: false, detail: "HTTP 503"))
    }

    @Test func httpNumberNeedsA2xxJSONAnswer() {
        #expect(HTTPAnswer.reading(status: 200, body: #"{"data":{"ok_ratio":0.5}}"#, jsonPath: "data.ok_ratio", wantsNumber: true) == .value(0.5))
        #expect(HTTPAnswer.reading(status: 200, body: "0.75\n", jsonPath: nil, wantsNumber: true) == .value(0.75))
        #expect(HTTPAnswer.reading(status: 500, body: "oops", jsonPath: "x", wantsNumber: true) == .error("answered HTTP 500: oops"))
        #expect(HTTPAnswer.reading(status: 200, body: "not json at all", jsonPath: "x", wantsNumber: true) == .error("answered something that is not JSON: not json at all"))
        #expect(HTTPAnswer.reading(status: 200, body: #"{"x":"high"}"#, jsonPath: "x", wantsNumber: true) == .error(#"answered JSON without the number: `x` is the string "high", not a number"#))
    }

    // MARK: command

    @Test func commandExitStatusDecidesWithoutABound() {
        #expect(CommandAnswer.reading(exit: .status(0), stdout: "fine\n", stderr: "", wantsNumber: false) == .status(passed: true, detail: "exit status 0"))
        #expect(CommandAnswer.reading(exit: .status(1), stdout: "", stderr: "warming up\nerror budget exceeded\n", wantsNumber: false)
            == .status(passed: false, detail: "exit status 1 (stderr: error budget exceeded)"))
        #expect(CommandAnswer.reading(exit: .signal(9), stdout: "", stderr: "", wantsNumber: false) == .error("was killed by signal 9"))
    }

    @Test func commandNumberIsTheLastLineOfStdout() {
        #expect(CommandAnswer.reading(exit: .status(0), stdout: "querying…\n 0.02 \n\n", stderr: "", wantsNumber: true) == .value(0.02))
        #expect(CommandAnswer.reading(exit: .status(0), stdout: "", stderr: "", wantsNumber: true) == .error("printed nothing on stdout; it must print a number"))
        #expect(CommandAnswer.reading(exit: .status(0), stdout: "ok\n", stderr: "", wantsNumber: true) == .error(#"printed "ok", not a number"#))
        #expect(CommandAnswer.reading(exit: .status(2), stdout: "", stderr: "no such metric", wantsNumber: true)
            == .error("exited with status 2 instead of printing a number (stderr: no such metric)"))
    }
}
