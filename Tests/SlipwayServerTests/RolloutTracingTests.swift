import Foundation
import InMemoryTracing
import SlipwayCore
import Testing
import Tracing
@testable import SlipwayServer

/// The shape of a rollout's trace, with swift-distributed-tracing's in-memory tracer (the
/// export over OTLP is `TracingTests`' part).
@Suite struct RolloutTracingTests {
    /// A blue-green deploy of v2 replacing v1, begun at `time`.
    static func deployOfV2(at time: Double) -> BlueGreenState {
        BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 1, warm: false, spec: BlueGreenSpec(), now: time)
    }

    @Test func aRolloutIsARootSpanWithAPhaseSpanEachAndItsHooksAndAnalysesUnderThePhaseTheyRanIn() throws {
        let tracer = InMemoryTracer()
        var traces = RolloutTraces(tracer: tracer)
        var state = Self.deployOfV2(at: 100)
        traces.observe(rollout: 7, service: "web@prod", state: state, now: 100)
        state.phase = .runningHook
        traces.observe(rollout: 7, service: "web@prod", state: state, now: 103)
        traces.hook(rollout: 7, outcome: HookOutcome(stage: .preDeploy, passed: true, exit: "exit 0"), started: 103, ended: 104)
        traces.event(rollout: 7, kind: "hook_passed", message: "pre_deploy passed", time: 104)
        state.phase = .progressing
        traces.observe(rollout: 7, service: "web@prod", state: state, now: 104)
        let check = CheckVerdict(check: .threshold(ThresholdCheck(metric: .errorRate, .max(0.05))), outcome: .fail, evidence: CheckEvidence(metric: "error_rate", minSamples: 20), summary: "error rate 40.0 % exceeded 5 %")
        traces.analysis(rollout: 7, policy: "default", purpose: "background", verdict: AnalysisRunVerdict(checks: [check]), started: 105, ended: 105.5)
        #expect(tracer.finishedSpans.map(\.operationName) == ["phase waiting_healthy", "hook pre_deploy", "phase running_hook", "analysis default"])
        state.phase = .failed
        state.failureReason = "analysis failed: error rate 40.0 % exceeded 5 %"
        state.endedAt = 106
        traces.observe(rollout: 7, service: "web@prod", state: state, now: 106)

        let spans = tracer.finishedSpans
        #expect(spans.map(\.operationName) == ["phase waiting_healthy", "hook pre_deploy", "phase running_hook", "analysis default", "phase progressing", "rollout"])
        let root = try #require(spans.last)
        #expect(root.parentSpanID == nil && root.startInstant.nanosecondsSinceEpoch == 100_000_000_000 && root.endInstant.nanosecondsSinceEpoch == 106_000_000_000)
        #expect(root.attributes["slipway.service"]?.toSpanAttribute() == .string("web") && root.attributes["slipway.environment"]?.toSpanAttribute() == .string("prod"))
        #expect(root.attributes["slipway.rollout.id"]?.toSpanAttribute() == .int64(7) && root.attributes["slipway.rollout.phase"]?.toSpanAttribute() == .string("failed"))
        #expect(root.status?.code == .error && root.status?.message == state.failureReason)
        #expect(root.events.map(\.name) == ["hook_passed"])
        let phases = spans.filter { $0.operationName.hasPrefix("phase ") }
        #expect(phases.allSatisfy { $0.parentSpanID == root.spanID && $0.traceID == root.traceID })
        let running = try #require(phases.first { $0.operationName == "phase running_hook" })
        #expect(running.startInstant.nanosecondsSinceEpoch == 103_000_000_000 && running.endInstant.nanosecondsSinceEpoch == 104_000_000_000)
        #expect(spans.first { $0.operationName == "hook pre_deploy" }?.parentSpanID == running.spanID)
        let analysis = try #require(spans.first { $0.operationName == "analysis default" })
        #expect(analysis.parentSpanID == phases.first { $0.operationName == "phase progressing" }?.spanID)
        #expect(analysis.attributes["slipway.analysis.decision"]?.toSpanAttribute() == .string("fail") && analysis.status?.code == .error)

        // Nothing is open any more: a later event of the ended rollout is dropped.
        traces.event(rollout: 7, kind: "late", message: "x", time: 107)
        #expect(tracer.activeSpans.isEmpty && tracer.finishedSpans.count == 6)
    }

    @Test func aPostDeployCheckIsATraceOfItsOwnLinkedToItsRollout() throws {
        let tracer = InMemoryTracer()
        var traces = RolloutTraces(tracer: tracer)
        var state = Self.deployOfV2(at: 100)
        traces.observe(rollout: 9, service: "web", state: state, now: 100)
        state.phase = .succeeded
        state.endedAt = 110
        traces.observe(rollout: 9, service: "web", state: state, now: 110)
        let root = try #require(tracer.finishedSpans.first { $0.operationName == "rollout" })

        let record = VerificationRecord(service: "web", rolloutID: 9, version: "v2", previousVersion: "v1", afterSeconds: 1800, dueAt: 1910, onFailure: .rollback)
        traces.verification(record, status: .failed, summary: "error rate 9 % exceeded 5 %", action: "rolling back to v1 (rollout 10)", started: 1910, ended: 1912)
        let check = try #require(tracer.finishedSpans.last)
        #expect(check.operationName == "verification \(record.label)")
        #expect(check.parentSpanID == nil && check.traceID != root.traceID, "a trace of its own")
        #expect(check.links.map(\.context.inMemorySpanContext?.spanID) == [root.spanID], "linked to the rollout's root span")
        #expect(check.startInstant.nanosecondsSinceEpoch == 1_910_000_000_000 && check.endInstant.nanosecondsSinceEpoch == 1_912_000_000_000)
        #expect(check.attributes["slipway.rollout.id"]?.toSpanAttribute() == .int64(9))
        #expect(check.attributes["slipway.verification.outcome"]?.toSpanAttribute() == .string("failed"))
        #expect(check.attributes["slipway.verification.action"]?.toSpanAttribute() == .string("rolling back to v1 (rollout 10)"))
        #expect(check.status?.code == .error)

        // A rollout that did not end in this process (a restart in between): no link.
        let other = VerificationRecord(service: "web", rolloutID: 3, version: "v1", previousVersion: nil, afterSeconds: 60, dueAt: 60, onFailure: .alert)
        traces.verification(other, status: .passed, summary: "ok", action: nil, started: 60, ended: 61)
        let passed = try #require(tracer.finishedSpans.last)
        #expect(passed.links.isEmpty && passed.status?.code == .ok && passed.attributes["slipway.verification.action"] == nil)
    }

    @Test func exportHeadersComeFromTheStandardVariables() throws {
        #expect(try ServerRuntime.TracingOptions.headers(environment: [:]).isEmpty)
        #expect(try ServerRuntime.TracingOptions.headers(environment: ["OTEL_EXPORTER_OTLP_HEADERS": " X-Key = a%3Db%20c , x-team=edge,"]) == ["x-key": "a=b c", "x-team": "edge"])
        // The traces-only variable wins over the general one.
        #expect(try ServerRuntime.TracingOptions.headers(environment: ["OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2"]) == ["b": "2"])
        for bad in ["novalue", "=v", "a b=1", "a=%0D%0Ax", "a=%zz"] {
            #expect(throws: ServerRuntime.StartupError.self, "\(bad)") { try ServerRuntime.TracingOptions.headers(environment: ["OTEL_EXPORTER_OTLP_HEADERS": bad]) }
        }
    }

    @Test func withoutATracerNothingIsRecorded() {
        var traces = RolloutTraces(tracer: nil)
        traces.observe(rollout: 1, service: "web", state: BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: nil, replicas: 1, warm: false, spec: BlueGreenSpec(), now: 1), now: 1)
        #expect(!traces.isEnabled)
    }

    @Test(arguments: [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"), ("https://otel.example.com/", "https://otel.example.com/v1/traces"),
        ("http://collector:4318/base", "http://collector:4318/base/v1/traces"),
    ])
    func theEndpointIsACollectorsBaseURL(base: String, traces: String) {
        #expect(ServerRuntime.TracingOptions.tracesURL(base: base) == traces)
    }

    @Test func tracingIsOnWithTheFlagOrTheStandardEnvironment() {
        #expect(ServerRuntime.TracingOptions(flag: nil, environment: [:]) == nil)
        #expect(ServerRuntime.TracingOptions(flag: nil, environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"])?.tracesURL == nil)
        #expect(ServerRuntime.TracingOptions(flag: nil, environment: ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"]) != nil)
        #expect(ServerRuntime.TracingOptions(flag: "http://c:4318", environment: [:])?.tracesURL == "http://c:4318/v1/traces")
        #expect(ServerRuntime.TracingOptions(flag: "c:4318", environment: [:]) == nil)
    }
}
