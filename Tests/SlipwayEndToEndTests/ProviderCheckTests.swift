import Foundation
import SlipwayCore
import SlipwayTesting
import Synchronization
import Testing

/// Analysis `http` and `command` provider checks end to end: the real `slipway` binary
/// asks a stub HTTP server started by the test, or runs a script the test writes.
@Suite(.serialized) struct ProviderCheckTests {
    static func analysis(_ check: String, inconclusiveLimit: Int = 30) -> String {
        """
        analysis:
          default:
            interval: 1s
            inconclusive_limit: \(inconclusiveLimit)
            checks:
              - \(check)
        """
    }

    static func canary(_ steps: String) -> String {
        "canary: { steps: \(steps), keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 5s }"
    }

    /// Runs `body` with a stub server and always closes it.
    func withStub(_ answer: @escaping @Sendable (String) -> StubHTTPServer.Answer, _ body: (StubHTTPServer) async throws -> Void) async throws {
        let stub = try await StubHTTPServer(answer: answer)
        do {
            try await body(stub)
        } catch {
            await stub.close()
            throw error
        }
        await stub.close()
    }

    func rollout(_ h: SlipwayHarness) async throws -> RolloutRecord {
        try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0]
    }

    func explanation(_ h: SlipwayHarness) async throws -> RolloutExplanation {
        try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
    }

    @Test func httpNumberBelowTheMinimumRollsBackWithTheValueAsEvidence() async throws {
        let answer: @Sendable (String) -> StubHTTPServer.Answer = { path in
            path.hasSuffix("/v2") ? .init(body: #"{"data":{"ok_ratio":0.5}}"#) : .init(body: #"{"data":{"ok_ratio":1}}"#)
        }
        try await withStub(answer) { stub in
            let check = #"{ provider: http, url: "\#(stub.url)/checks/{{service}}/{{version}}", json_path: data.ok_ratio, min: 0.99 }"#
            try await withHello(replicas: 1, extra: Self.analysis(check), strategy: Self.canary("[ {weight: 50}, {pause: 10m} ]")) { h, port in
                let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
                #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
                #expect(deploy.stdout.contains("http value 0.5 is below the 0.99 minimum"), "\(deploy.stdout)")
                #expect(stub.paths.contains("/checks/hello/v2"), "the placeholders were filled in: \(stub.paths)")

                let last = try #require(try await explanation(h).decisions.last)
                #expect(last.kind == .rolledBack)
                #expect(last.actor == "analysis")
                let verdict = try #require(last.verdict?.checks.first)
                #expect(verdict.outcome == .fail)
                #expect(verdict.evidence.provider == "http")
                #expect(verdict.evidence.canaryValue == 0.5)
                #expect(verdict.evidence.bound == "min" && verdict.evidence.threshold == 0.99)
                #expect(verdict.evidence.query == "\(stub.url)/checks/hello/v2")
                #expect(try await h.versionAt(port: port) == "v1")
            }
        }
    }

    @Test func httpGarbageIsInconclusiveAndPausesNeverPromotes() async throws {
        try await withStub({ _ in .init(body: "<html>surprise</html>") }) { stub in
            let check = #"{ provider: http, url: "\#(stub.url)/ok", json_path: data.ok_ratio, min: 0.99 }"#
            try await withHello(replicas: 1, extra: Self.analysis(check, inconclusiveLimit: 2), strategy: Self.canary("[ {weight: 50}, {pause: 1s} ]")) { h, _ in
                #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
                let paused = try await eventually("the rollout to pause on inconclusive analysis", timeout: .seconds(60)) {
                    let r = try await rollout(h)
                    return r.phase == .paused ? r : nil
                }
                let reason = paused.canary?.pauseReason ?? ""
                #expect(reason.contains("inconclusive 2 runs in a row"), "\(reason)")
                #expect(reason.contains("\(stub.url)/ok answered something that is not JSON: <html>surprise</html>"), "\(reason)")

                let why = try await explanation(h)
                #expect(!why.decisions.contains { $0.kind == .promoted }, "never promoted on garbage")
                let inconclusive = try #require(why.decisions.last { $0.kind == .inconclusive })
                let verdict = try #require(inconclusive.verdict?.checks.first)
                #expect(verdict.outcome == .inconclusive)
                #expect(verdict.evidence.error?.contains("not JSON") == true)
                #expect(verdict.evidence.canaryValue == nil)
                #expect(try await h.cli(["abort", "hello"]).status == 0)
            }
        }
    }

    @Test func httpStatusCheckThatPassesLetsTheCanaryBePromoted() async throws {
        try await withStub({ path in path == "/ready" ? .init(status: 204, body: "") : .init(status: 404, body: "no") }) { stub in
            let check = #"{ provider: http, url: "\#(stub.url)/ready" }"#
            try await withHello(replicas: 1, extra: Self.analysis(check), strategy: Self.canary("[ {weight: 50}, {pause: 1s} ]")) { h, port in
                let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
                #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
                #expect(try await h.versionAt(port: port) == "v2")
                let why = try await explanation(h)
                #expect(why.rollout.phase == .succeeded)
                #expect(why.decisions.last?.kind == .promoted)
                #expect(why.decisions.last?.summary.contains("http check of \(stub.url)/ready passed: HTTP 204") == true, "\(why.decisions.last?.summary ?? "")")
            }
        }
    }

    @Test func commandThatExitsNonZeroRollsBack() async throws {
        try await withHarness { h in
            let script = try h.directory.write("check.sh", """
                #!/bin/sh
                echo "$1 $2 $SLIPWAY_SERVICE $SLIPWAY_WINDOW" > "\(h.directory.file("args.txt"))"
                echo "canary $1 breaks the error budget" >&2
                exit 1

                """)
            chmod(script, 0o755)
            let extra = Self.analysis(#"{ provider: command, run: [./check.sh, "{{version}}", "{{stable}}"], window: 10s }"#)
            let (config, port) = try h.helloConfig(replicas: 1, extra: extra, strategy: Self.canary("[ {weight: 50}, {pause: 10m} ]"))
            try await h.startServer(configs: [config])
            _ = try await eventually("v1 to serve through the router") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }

            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("command check `./check.sh v2 v1` failed: exit status 1 (stderr: canary v2 breaks the error budget)"), "\(deploy.stdout)")
            let args = try String(contentsOfFile: h.directory.file("args.txt"), encoding: .utf8)
            #expect(args.hasPrefix("v2 v1 hello "), "\(args)")

            let last = try #require(try await explanation(h).decisions.last)
            #expect(last.kind == .rolledBack)
            let verdict = try #require(last.verdict?.checks.first)
            #expect(verdict.outcome == .fail)
            #expect(verdict.evidence.provider == "command")
            #expect(verdict.evidence.query == "./check.sh v2 v1")
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }

    /// A slow provider must not undo what a person did meanwhile: the verdict of an
    /// analysis that was running when the rollout was aborted is dropped, not written over
    /// the abort (here it would have passed and put the rollout back to progressing).
    @Test func abortWhileASlowProviderRunsIsNotUndoneByItsVerdict() async throws {
        try await withHarness { h in
            let (started, release) = (h.directory.file("started"), h.directory.file("release"))
            let script = try h.directory.write("slow.sh", """
                #!/bin/sh
                touch "\(started)"
                while [ ! -f "\(release)" ]; do sleep 0.05; done
                exit 0

                """)
            chmod(script, 0o755)
            let extra = Self.analysis(#"{ provider: command, run: [./slow.sh], timeout: 60s }"#)
            let (config, port) = try h.helloConfig(replicas: 1, extra: extra, strategy: Self.canary("[ {weight: 50}, {pause: 10m} ]"))
            try await h.startServer(configs: [config])
            _ = try await eventually("v1 to serve through the router") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }

            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            _ = try await eventually("the slow check to start") { FileManager.default.fileExists(atPath: started) ? true : nil }
            let abort = try await h.cli(["abort", "hello"])
            #expect(abort.status == 0, "\(abort.stdout)\(abort.stderr)")
            _ = FileManager.default.createFile(atPath: release, contents: nil)
            _ = try await eventually("the late verdict to be dropped") {
                let server = h.server
                return (server?.stdout ?? "").contains("analysis result dropped") || (server?.stderr ?? "").contains("analysis result dropped") ? true : nil
            }
            let why = try await explanation(h)
            #expect(why.rollout.phase == .failed)
            #expect(why.decisions.last?.kind == .aborted, "\(why.decisions.map(\.kind))")
            #expect(try await rollout(h).phase == .failed)
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }
}
