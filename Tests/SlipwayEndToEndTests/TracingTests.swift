import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Rollout traces end to end: the real `slipway server --otlp-endpoint` exports over
/// OTLP/HTTP (swift-otel) to scripts/otlp_receiver.py, which decodes the requests with the
/// official OpenTelemetry protobuf definitions (`opentelemetry-proto` from PyPI, installed
/// by scripts/test.sh). The test checks the trace's structure: one root per rollout, its
/// phases as children, hooks and analysis runs under the phase they ran in.
@Suite(.serialized) struct TracingTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/otlp_receiver.py").path

    /// A span as the receiver recorded it.
    struct ReceivedSpan: Decodable {
        struct Status: Decodable { var code: String; var message: String }
        struct Event: Decodable { var name: String; var time: UInt64 }
        struct Link: Decodable { var traceId: String; var spanId: String }
        var service: String?
        var traceId: String
        var spanId: String
        var parentSpanId: String
        var name: String
        var kind: String
        var start: UInt64
        var end: UInt64
        var attributes: [String: AttributeValue]
        var status: Status
        var events: [Event]
        var links: [Link]
        var headers: [String: String]

        func string(_ key: String) -> String? { if case .string(let s)? = attributes[key] { return s }; return nil }
        func int(_ key: String) -> Int? { if case .int(let i)? = attributes[key] { return i }; return nil }
    }

    enum AttributeValue: Decodable, Equatable {
        case string(String), int(Int), double(Double), bool(Bool), other
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int.self) { self = .int(i) }
            else if let d = try? c.decode(Double.self) { self = .double(d) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else { self = .other }
        }
    }

    static func spans(_ log: String) -> [ReceivedSpan] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(ReceivedSpan.self, from: Data($0.utf8)) }
    }

    /// The ended trace of rollout `id`: its root span and every span under it.
    static func trace(of id: Int, in log: String) -> (root: ReceivedSpan, spans: [ReceivedSpan])? {
        let all = spans(log)
        guard let root = all.first(where: { $0.name == "rollout" && $0.int("slipway.rollout.id") == id }) else { return nil }
        return (root, all.filter { $0.traceId == root.traceId && $0.spanId != root.spanId })
    }

    @Test func eachRolloutIsOneTraceWithItsPhasesHooksAndAnalysisRuns() async throws {
        try await withHarness { h in
            let log = h.directory.file("spans.jsonl")
            let receiver = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", Self.script, "--out", log])
            defer { receiver.signal(SIGKILL) }
            let port = try await eventually("the OTLP receiver to listen", timeout: .seconds(30)) { () -> Int? in
                if !receiver.isRunning { throw PollStop("otlp_receiver.py exited: \(receiver.stderr)") }
                return receiver.stdout.split(separator: "\n").first { $0.hasPrefix("ready ") }.flatMap { Int($0.dropFirst(6)) }
            }
            let extra = CanaryTests.quickAnalysis + """

                hooks:
                  pre_deploy: { run: [sh, -c, 'echo migrating'], timeout: 20s }
                verify:
                  after: [1s]
                  command: { run: [sh, -c, 'echo verified'] }
                """
            let (config, servicePort) = try h.helloConfig(replicas: 1, extra: extra, strategy: CanaryTests.canary("[ {weight: 50}, {pause: 2s} ]"))
            try await h.startServer(configs: [config], extraArguments: ["--otlp-endpoint", "http://127.0.0.1:\(port)"])
            _ = try await eventually("v1 to serve") { (try? await h.versionAt(port: servicePort)) == "v1" ? true : nil }

            // A good canary under traffic: it passes its analysis and succeeds.
            let probe = TrafficProbe(port: servicePort)
            let good = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
            let id = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0].id
            let (root, spans) = try await eventually("rollout \(id)'s trace to be exported", timeout: .seconds(30)) { Self.trace(of: Int(id), in: log) }
            #expect(root.parentSpanId.isEmpty && root.service == "slipway" && root.kind == "SPAN_KIND_INTERNAL")
            #expect(root.string("slipway.service") == "hello" && root.string("slipway.version") == "v2" && root.string("slipway.from_version") == "v1")
            #expect(root.string("slipway.rollout.kind") == "deploy" && root.string("slipway.rollout.strategy") == "canary" && root.string("slipway.rollout.phase") == "succeeded")
            #expect(root.status.code == "STATUS_CODE_OK", "\(root.status)")
            #expect(root.events.contains { $0.name == "healthy" } && root.events.contains { $0.name == "hook_passed" }, "\(root.events.map(\.name))")

            // Phases are children of the root, in time order, inside it.
            let phases = spans.filter { $0.name.hasPrefix("phase ") }.sorted { $0.start < $1.start }
            #expect(phases.allSatisfy { $0.parentSpanId == root.spanId && $0.start >= root.start && $0.end <= root.end }, "\(phases.map { ($0.name, $0.parentSpanId) })")
            let names = phases.map(\.name)
            #expect(names.first == "phase waiting_healthy" && names.contains("phase running_hook") && names.contains("phase progressing"), "\(names)")
            // The hook ran in the running_hook phase; the analysis runs in the canary's phases.
            let hook = try #require(spans.first { $0.name == "hook pre_deploy" }, "\(spans.map(\.name))")
            let hookPhase = try #require(phases.first { $0.spanId == hook.parentSpanId }, "the hook's parent is a phase span")
            #expect(hookPhase.name == "phase running_hook" && hook.string("slipway.hook.exit") == "exit 0" && hook.status.code == "STATUS_CODE_OK")
            let analyses = spans.filter { $0.name == "analysis default" }
            #expect(!analyses.isEmpty && analyses.allSatisfy { run in phases.contains { $0.spanId == run.parentSpanId } }, "\(analyses.map(\.parentSpanId))")
            #expect(analyses.contains { $0.string("slipway.analysis.decision") == "pass" }, "\(analyses.map { $0.string("slipway.analysis.summary") ?? "" })")

            // Its post-deploy check (T+1s) is a trace of its own, linked to the rollout's root.
            let check = try await eventually("the post-deploy check's span", timeout: .seconds(30)) {
                Self.spans(log).first { $0.name.hasPrefix("verification ") && $0.int("slipway.rollout.id") == Int(id) }
            }
            #expect(check.parentSpanId.isEmpty && check.traceId != root.traceId && check.service == "slipway", "\(check)")
            #expect(check.links.contains { $0.traceId == root.traceId && $0.spanId == root.spanId }, "\(check.links)")
            #expect(check.string("slipway.verification.outcome") == "passed" && check.status.code == "STATUS_CODE_OK", "\(check.attributes)")
            #expect((check.string("slipway.verification.summary") ?? "").contains("verified"), "\(check.attributes)")
            #expect(check.start >= root.end, "the check ran after its rollout ended")

            // A bad canary: the analysis fails, the rollout is rolled back, the trace says why.
            let bad = try await h.cli(["deploy", "hello", "--version", "v3", "--set-env", "FAULT_ERROR_RATE=0.5", "--wait"])
            #expect(bad.status == 1, "\(bad.stdout)\(bad.stderr)")
            _ = await probe.stop()
            let failedID = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0].id
            let failed = try await eventually("rollout \(failedID)'s trace to be exported", timeout: .seconds(30)) { Self.trace(of: Int(failedID), in: log) }
            #expect(failed.root.traceId != root.traceId, "each rollout is its own trace")
            #expect(failed.root.status.code == "STATUS_CODE_ERROR" && failed.root.string("slipway.rollout.phase") == "failed", "\(failed.root.status)")
            #expect(failed.root.status.message.contains("analysis failed"), "\(failed.root.status.message)")
            let failing = failed.spans.filter { $0.name == "analysis default" && $0.string("slipway.analysis.decision") == "fail" }
            #expect(failing.contains { $0.status.code == "STATUS_CODE_ERROR" && ($0.string("slipway.analysis.summary") ?? "").contains("error rate") },
                    "\(failed.spans.map { ($0.name, $0.string("slipway.analysis.summary") ?? "") })")
            let exported = try String(contentsOfFile: log, encoding: .utf8)
            #expect(!exported.contains(#"{"error""#), "every export decoded: \(exported.split(separator: "\n").filter { $0.hasPrefix(#"{"error""#) })")
        }
    }

    /// Starts scripts/otlp_receiver.py; returns its port.
    static func startReceiver(_ log: String) async throws -> (ChildProcess, Int) {
        let receiver = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", Self.script, "--out", log])
        let port = try await eventually("the OTLP receiver to listen", timeout: .seconds(30)) { () -> Int? in
            if !receiver.isRunning { throw PollStop("otlp_receiver.py exited: \(receiver.stderr)") }
            return receiver.stdout.split(separator: "\n").first { $0.hasPrefix("ready ") }.flatMap { Int($0.dropFirst(6)) }
        }
        return (receiver, port)
    }

    /// `trace_requests`: a request with the client's sampled `traceparent` becomes a server
    /// span of the client's trace, and the instance gets the router's span as its parent; a
    /// request without one starts a trace; the router's own 502 is an error span.
    @Test func requestsContinueTheClientsTraceAndPassTheRoutersSpanToTheInstance() async throws {
        try await withHarness { h in
            let log = h.directory.file("spans.jsonl")
            let (receiver, port) = try await Self.startReceiver(log)
            defer { receiver.signal(SIGKILL) }
            let extra = """
                trace_requests: 100%
                env: { ACCESS_LOG: "1" }
                """
            let (config, servicePort) = try h.helloConfig(replicas: 1, extra: extra)
            // A collector's key in the standard variable reaches the router's exports through
            // the route table (the router does not get the control plane's environment).
            try await h.startServer(configs: [config], extraArguments: ["--otlp-endpoint", "http://127.0.0.1:\(port)"],
                                    environment: ["OTEL_EXPORTER_OTLP_HEADERS": "x-collector-key=s3cret%20key,x-team=edge"])
            _ = try await eventually("v1 to serve") { (try? await h.versionAt(port: servicePort)) == "v1" ? true : nil }

            let clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736", clientSpan = "00f067aa0ba902b7"
            let traced = try await TestHTTP.request("http://127.0.0.1:\(servicePort)/?q=1", method: .GET,
                                                    headers: [("traceparent", "00-\(clientTrace)-\(clientSpan)-01"), ("tracestate", "vendor=1")])
            #expect(traced.status == 200)
            let requestID = try #require(traced.header("x-request-id"))
            let span = try await eventually("the request's span to be exported", timeout: .seconds(30)) {
                Self.spans(log).first { $0.traceId == clientTrace && $0.kind == "SPAN_KIND_SERVER" }
            }
            #expect(span.parentSpanId == clientSpan && span.name == "GET" && span.service == "slipway-router", "\(span)")
            #expect(span.headers["x-collector-key"] == "s3cret key" && span.headers["x-team"] == "edge", "\(span.headers)")
            #expect(span.int("http.response.status_code") == 200 && span.string("url.path") == "/" && span.string("slipway.version") == "v1", "\(span.attributes)")
            #expect(span.string("slipway.service") == "hello" && span.string("http.request.method") == "GET" && span.status.code == "STATUS_CODE_UNSET")
            // The instance got the router's span as its parent (hello-app logs `traceparent`).
            let line = try await eventually("the instance's access log line", timeout: .seconds(30)) { () -> String? in
                let logs = try await h.cli(["logs", "hello", "--version", "v1"])
                return logs.stdout.split(separator: "\n").map(String.init).first { $0.contains(requestID) }
            }
            #expect(line.contains("\"traceparent\":\"00-\(clientTrace)-\(span.spanId)-01\""), "\(line)")

            // Without a traceparent the router starts the trace (100 %: every request).
            let fresh = try await TestHTTP.get("http://127.0.0.1:\(servicePort)/")
            #expect(fresh.status == 200)
            let freshID = try #require(fresh.header("x-request-id"))
            let started = try await eventually("the new trace's span", timeout: .seconds(30)) { () -> ReceivedSpan? in
                let logs = try await h.cli(["logs", "hello", "--version", "v1"])
                guard let line = logs.stdout.split(separator: "\n").first(where: { $0.contains(freshID) }),
                      let range = line.range(of: #"00-[0-9a-f]{32}-[0-9a-f]{16}-01"#, options: .regularExpression) else { return nil }
                let parts = line[range].split(separator: "-")
                return Self.spans(log).first { $0.traceId == parts[1] && $0.spanId == parts[2] }
            }
            #expect(started.parentSpanId.isEmpty && started.traceId != clientTrace && started.kind == "SPAN_KIND_SERVER")

            // A client's unsampled traceparent is passed on (as the router's span's context) but nothing is exported.
            let quietTrace = "0af7651916cd43dd8448eb211c80319c"
            let quiet = try await TestHTTP.request("http://127.0.0.1:\(servicePort)/", method: .GET, headers: [("traceparent", "00-\(quietTrace)-b7ad6b7169203331-00")])
            #expect(quiet.status == 200)
            let quietID = try #require(quiet.header("x-request-id"))
            let quietLine = try await eventually("the unsampled request's access log line", timeout: .seconds(30)) { () -> String? in
                let logs = try await h.cli(["logs", "hello", "--version", "v1"])
                return logs.stdout.split(separator: "\n").map(String.init).first { $0.contains(quietID) }
            }
            #expect(quietLine.contains("\"traceparent\":\"00-\(quietTrace)-") && quietLine.contains("-00\""), "\(quietLine)")

            // The router's own answer: an unknown pinned version is a 503 span with error status.
            let pinned = try await TestHTTP.request("http://127.0.0.1:\(servicePort)/", method: .GET,
                                                    headers: [("traceparent", "00-\(clientTrace)-00f067aa0ba902b8-01"), ("X-Slipway-Version", "v9")])
            #expect(pinned.status == 503)
            let refused = try await eventually("the refused request's span", timeout: .seconds(30)) {
                Self.spans(log).first { $0.traceId == clientTrace && $0.parentSpanId == "00f067aa0ba902b8" }
            }
            #expect(refused.int("http.response.status_code") == 503 && refused.status.code == "STATUS_CODE_ERROR", "\(refused)")
            #expect(!Self.spans(log).contains { $0.traceId == quietTrace }, "an unsampled parent is not exported")
        }
    }

    @Test func aBadEndpointIsRefusedAtStart() async throws {
        let slipway = try BuiltProducts.path("slipway")
        for bad in ["127.0.0.1:4318", "ftp://collector:4318", "http://user:secret@collector:4318", "http://collector:4318/?x=1", "http://"] {
            let run = try await runCommand(slipway, ["server", "--otlp-endpoint", bad])
            #expect(run.status == 64, "\(bad): \(run.stderr)")
            #expect(run.stderr.contains("--otlp-endpoint must be the http:// or https:// URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318, without credentials, query or fragment (got \(bad))"), "\(run.stderr)")
        }
        // Export headers that are not `name=value` pairs are refused, naming the variable and entry.
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-otlp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        for (variable, bad, entry) in [("OTEL_EXPORTER_OTLP_HEADERS", "x-key", 1), ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=1,bad name=2", 2), ("OTEL_EXPORTER_OTLP_HEADERS", "a=%0Aline", 1)] {
            let run = try await runCommand(slipway, ["server", "--state-dir", state, "--api", "127.0.0.1:0", "--otlp-endpoint", "http://127.0.0.1:4318"], environment: [variable: bad])
            #expect(run.status == 1, "\(bad): \(run.stderr)")
            #expect(run.stderr.contains("\(variable): entry \(entry) is not `name=value`"), "\(bad): \(run.stderr)")
        }
    }
}
