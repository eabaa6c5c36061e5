import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// gRPC through the real router: gRPC's own Python server and client (grpcio, installed by
/// scripts/test.sh; scripts/grpc_app.py and scripts/grpc_client.py) with `upstream: h2c`.
/// Unary, server-streaming and bidirectional calls with their trailers, the standard gRPC
/// health service as the health check, a switch under load that fails no call, the pin
/// header as gRPC metadata, and a canary rolled back by its calls' `grpc-status` alone
/// (every answer is HTTP 200).
@Suite(.serialized) struct GRPCTests {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts").path

    struct Calls: Decodable {
        var calls: Int
        var versions: [String: Int]
        var codes: [String: Int]
        var served_by: [String: Int]
        var failures: [String]
    }

    struct Call: Decodable {
        var code: String
        var messages: [String]?
        var replies: [String]?
        var details: String?
        var served_by: String?
    }

    static func client(_ arguments: [String]) async throws -> String {
        let run = try await runCommand("/usr/bin/env", ["python3", scripts + "/grpc_client.py"] + arguments, timeout: .seconds(120))
        guard run.status == 0, let line = run.stdout.split(separator: "\n").last else {
            throw PollStop("grpc_client.py \(arguments.joined(separator: " ")) failed (\(run.status)): \(run.stderr)\(run.stdout)")
        }
        return String(line)
    }

    static func unary(port: Int, calls: Int = 1, metadata: [String] = []) async throws -> Calls {
        try decode(Calls.self, try await client(["unary", "127.0.0.1:\(port)", "--calls", "\(calls)"] + metadata.flatMap { ["--metadata", $0] }))
    }

    static func call(_ command: String, port: Int, _ rest: [String]) async throws -> Call {
        try decode(Call.self, try await client([command, "127.0.0.1:\(port)"] + rest))
    }

    /// Unary calls back to back on one channel until `stop()`.
    struct Load {
        let process: ChildProcess
        let stopFile: String

        init(_ h: SlipwayHarness, port: Int) throws {
            stopFile = h.directory.file("stop-\(UUID().uuidString)")
            process = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", GRPCTests.scripts + "/grpc_client.py", "load", "127.0.0.1:\(port)",
                                                                               "--until-file", stopFile, "--max-seconds", "120"])
        }

        /// Waits for the first call that succeeded (the client is up and calling).
        func started() async throws {
            _ = try await eventually("the gRPC load's first answer", timeout: .seconds(60)) {
                if !process.isRunning { throw PollStop("grpc_client.py load ended: \(process.stderr)\(process.stdout)") }
                return process.stdout.contains("{\"first\": ") ? true : nil
            }
        }

        func stop() async throws -> Calls {
            _ = FileManager.default.createFile(atPath: stopFile, contents: Data())
            let status = try await process.wait(timeout: .seconds(60))
            guard status == 0, let line = process.stdout.split(separator: "\n").last else {
                throw PollStop("grpc_client.py load failed (\(status)): \(process.stderr)")
            }
            return try decode(Calls.self, String(line))
        }
    }

    /// The echo service (grpc_app.py) with `upstream: h2c` and the gRPC health check,
    /// started with the server; returns once v1 answers calls through the router.
    func withEcho(replicas: Int = 2, strategy: String = "blue-green: { keep_previous: 10m, deploy_timeout: 30s, drain_timeout: 5s }", extra: String = "",
                  _ body: (SlipwayHarness, Int) async throws -> Void) async throws {
        try await withHarness { h in
            var attempt = 0
            var port = 0
            while true {
                attempt += 1
                port = freeLoopbackPort()
                let config = try h.directory.write("echo.yml", """
                    service: echo
                    run: ["python3", "\(Self.scripts)/grpc_app.py", "--port", "{{port}}", "--version", "{{version}}"]
                    upstream: h2c
                    health: { kind: grpc, interval: 300ms, timeout: 300ms, healthy: 2, unhealthy: 3, grace: 20s }
                    listen: 127.0.0.1:\(port)
                    replicas: \(replicas)
                    strategy:
                      \(strategy)
                    \(extra)
                    """)
                do {
                    try await h.startServer(configs: [config])
                    break
                } catch let error as PollStop where attempt < 3 && error.description.contains("Address already in use") {
                    continue
                }
            }
            _ = try await eventually("v1 to answer calls through the router", timeout: .seconds(60)) {
                (try? await Self.unary(port: port).versions["v1"]) == 1 ? true : nil
            }
            try await body(h, port)
        }
    }

    func metric(_ h: SlipwayHarness, _ prefix: String) async throws -> Int? {
        let text = try await h.api("/metrics").body
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) }
    }

    @Test func unaryStreamingAndBidiCallsCrossTheRouterWithTheirTrailers() async throws {
        try await withEcho { h, port in
            let unary = try await Self.unary(port: port, calls: 20)
            #expect(unary.versions == ["v1": 20] && unary.codes == ["OK": 20], "\(unary)")
            #expect(unary.served_by == ["v1": 20], "each call's trailing metadata arrives: \(unary)")

            let count = try await Self.call("count", port: port, ["500"])
            #expect(count.code == "OK" && count.messages?.count == 500 && count.messages?.last == "v1 499", "\(count.code) \(count.messages?.count ?? 0)")
            #expect(count.served_by == "v1")

            let chat = try await Self.call("chat", port: port, ["one", "two", "three"])
            #expect(chat.code == "OK" && chat.replies == ["v1: one", "v1: two", "v1: three"], "\(chat)")

            // A call the server ends at once (a "trailers-only" answer): its status, message
            // and trailing metadata reach the client. (Before v1 was healthy the router
            // answered 502 itself: those count as v1's 5xx.)
            let http5xx = try await metric(h, "slipway_requests_total{service=\"echo\",version=\"v1\",code_class=\"5xx\"}")
            let failed = try await Self.call("fail", port: port, ["NOT_FOUND"])
            #expect(failed.code == "NOT_FOUND" && failed.details == "asked to fail with NOT_FOUND" && failed.served_by == "v1", "\(failed)")

            // Counted: the failed call as a gRPC error of v1, not as an HTTP error.
            #expect(try await metric(h, "slipway_grpc_errors_total{service=\"echo\",version=\"v1\"}") == 1)
            #expect(try await metric(h, "slipway_requests_total{service=\"echo\",version=\"v1\",code_class=\"5xx\"}") == http5xx)
            let status = try decode(ServiceStatus.self, try await h.cli(["status", "echo", "-o", "json"]).stdout)
            #expect(status.instances.filter { $0.version == "v1" }.count == 2)
        }
    }

    @Test func aSwitchUnderLoadFailsNoCallAndThePinReachesThePreviousRelease() async throws {
        try await withEcho { h, port in
            let load = try Load(h, port: port)
            try await load.started()
            let deploy = try await h.cli(["deploy", "echo", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            _ = try await eventually("calls to reach v2") { try await Self.unary(port: port).versions["v2"] == 1 ? true : nil }
            let result = try await load.stop()
            #expect(result.codes.keys.sorted() == ["OK"], "no call failed across the switch: \(result.failures)")
            #expect(result.versions["v1", default: 0] > 0 && result.versions["v2", default: 0] > 0, "\(result.versions)")

            // gRPC metadata are HTTP/2 headers: the pin header reaches the warm v1.
            let pinned = try await Self.unary(port: port, calls: 5, metadata: ["x-slipway-version=v1"])
            #expect(pinned.versions == ["v1": 5], "\(pinned)")
            #expect(try await Self.unary(port: port, calls: 5).versions == ["v2": 5])
        }
    }

    @Test func aCanaryWhoseCallsFailIsRolledBackOnTheirGRPCStatus() async throws {
        let analysis = """
            analysis:
              default:
                interval: 1s
                inconclusive_limit: 6
                checks:
                  - { metric: error_rate, max: 5%, window: 5s }
            """
        try await withEcho(replicas: 1, strategy: "canary: { steps: [ {weight: 50}, {pause: 10m} ], keep_previous: 10m, deploy_timeout: 30s, drain_timeout: 5s }",
                           extra: analysis) { h, port in
            let loads = try (0..<2).map { _ in try Load(h, port: port) }
            for load in loads { try await load.started() }
            let deploy = try await h.cli(["deploy", "echo", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.5", "--wait"])
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("exceeded 5 %"), "\(deploy.stdout)")
            var codes: [String: Int] = [:]
            var versions: [String: Int] = [:]
            for load in loads {
                let result = try await load.stop()
                codes.merge(result.codes, uniquingKeysWith: +)
                versions.merge(result.versions, uniquingKeysWith: +)
            }
            // The canary's failures were gRPC errors in HTTP 200 answers: only grpc-status
            // could have told the analysis.
            #expect(codes["INTERNAL", default: 0] > 0, "\(codes)")
            #expect(Set(codes.keys).isSubset(of: ["OK", "INTERNAL"]), "\(codes)")
            #expect(try await metric(h, "slipway_requests_total{service=\"echo\",version=\"v2\",code_class=\"5xx\"}") == 0)
            #expect(try await metric(h, "slipway_grpc_errors_total{service=\"echo\",version=\"v2\"}") == codes["INTERNAL"])

            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "echo", "-o", "json"]).stdout)
            #expect(why.rollout.phase == .failed)
            let last = try #require(why.decisions.last)
            #expect(last.kind == .rolledBack && last.actor == "analysis", "\(last)")
            let check = try #require(last.verdict?.checks.first { $0.evidence.metric == "error_rate" })
            #expect(check.outcome == .fail && (check.evidence.canaryValue ?? 0) > 0.05 && check.evidence.stableValue == 0, "\(check)")
            #expect(try await Self.unary(port: port, calls: 10).versions == ["v1": 10])
        }
    }

    @Test func theHealthCheckIsTheGRPCHealthService() async throws {
        try await withEcho(replicas: 1, strategy: "blue-green: { keep_previous: 10m, deploy_timeout: 6s, drain_timeout: 5s }") { h, port in
            // v1 became healthy by answering SERVING (withEcho waited for it). A release
            // whose health service answers NOT_SERVING never takes traffic.
            let flag = h.directory.file("not-serving")
            _ = FileManager.default.createFile(atPath: flag, contents: Data())
            let deploy = try await h.cli(["deploy", "echo", "--version", "v2", "--set-env", "FAULT_UNHEALTHY_FILE=\(flag)", "--wait"])
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("health status NOT_SERVING"), "the health service's answer is named: \(deploy.stdout)")
            #expect(try await Self.unary(port: port, calls: 5).versions == ["v1": 5])
        }
    }

    @Test func aRouterUpgradeUnderLoadFailsNoCall() async throws {
        try await withEcho(extra: "websocket_drain: 3s") { h, port in
            // One gRPC channel (one HTTP/2 connection at a time) calling back to back: the old
            // router's GOAWAY moves it to the new router between calls.
            let load = try Load(h, port: port)
            try await load.started()
            var old: [Int32] = []
            for _ in 0..<2 {
                let upgrade = try await h.cli(["router", "upgrade", "-o", "json"])
                #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
                old.append(try decode(RouterUpgradeReply.self, upgrade.stdout).previousPID)
                #expect(try await Self.unary(port: port, calls: 3).versions == ["v1": 3])
            }
            // Calls go on until the old routers are gone (drained, or at their deadline).
            for pid in old {
                _ = try await eventually("router \(pid) to exit", timeout: .seconds(60)) { RouterUpgradeTests.alive(pid) ? nil : true }
            }
            let result = try await load.stop()
            #expect(result.codes.keys.sorted() == ["OK"], "no call failed across the upgrades: \(result.failures)")
            #expect(result.calls > 20, "\(result.calls) calls")
        }
    }
}
