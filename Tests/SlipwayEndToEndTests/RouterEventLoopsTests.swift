import Foundation
import SlipwayTesting
import Testing

/// The router's event loop count (`slipway router --event-loops`, `SLIPWAY_ROUTER_EVENT_LOOPS`
/// through the control plane) and large answers through it (the hello app's `/bytes`), as the
/// throughput matrix benchmark uses them.
@Suite(.serialized) struct RouterEventLoopsTests {
    /// The names of the router's NIO event loop threads (`/proc/PID/task/*/comm`).
    static func eventLoopThreads(of pid: Int32) throws -> [String] {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return tasks.compactMap { task in
            (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }.filter { $0.hasPrefix("NIO-SGLTN") }
    }

    static func routerPID(_ h: SlipwayHarness) throws -> Int32 {
        let text = try String(contentsOfFile: "\(h.stateDir)/router.pid", encoding: .utf8)
        return try #require(text.split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) })
    }

    @Test func theControlPlanePassesTheEventLoopCountToItsRouterWhichServesLargeAnswers() async throws {
        try await withHello(replicas: 1, environment: ["SLIPWAY_ROUTER_EVENT_LOOPS": "3"]) { h, port in
            let pid = try Self.routerPID(h)
            let threads = try Self.eventLoopThreads(of: pid)
            #expect(threads.count == 3, "\(threads)")
            let log = try String(contentsOfFile: "\(h.stateDir)/logs/router.log", encoding: .utf8)
            #expect(log.contains("event_loops=3") || log.contains("\"slipway.event_loops\":\"3\""), "\(log.prefix(2000))")

            // 64 KiB through the router, whole; and the hello app's bounds on n.
            let large = try await TestHTTP.get("http://127.0.0.1:\(port)/bytes?n=65536")
            #expect(large.status == 200)
            #expect(large.body.utf8.count == 65536 && large.body.allSatisfy { $0 == "x" })
            #expect(large.header("content-length") == "65536" && large.header("x-version") == "v1")
            let empty = try await TestHTTP.get("http://127.0.0.1:\(port)/bytes?n=0")
            #expect(empty.status == 200 && empty.body.isEmpty)
            let tooLarge = try await TestHTTP.get("http://127.0.0.1:\(port)/bytes?n=1048577")
            #expect(tooLarge.status == 400 && tooLarge.body == "n must be a whole number of bytes from 0 to 1048576\n", "\(tooLarge.body)")
            let none = try await TestHTTP.get("http://127.0.0.1:\(port)/bytes")
            #expect(none.status == 400 && none.body.contains("GET /bytes?n=N"), "\(none.body)")
        }
    }

    @Test func aRouterStartedByHandRunsTheLoopsItIsGivenAndRefusesBadCounts() async throws {
        try await withHarness { h in
            // Four loops by the flag, over one in the environment: the flag wins (neither is the
            // default of one per core on the 2-core machines this runs on). (The harness's
            // shutdown kills what mentions its state directory: this router too.)
            let router = try ChildProcess(executable: h.slipway, arguments: ["router", "--state-dir", h.stateDir, "--event-loops", "4"],
                                          environment: ["SLIPWAY_ROUTER_EVENT_LOOPS": "1"])
            let threads = try await eventually("the router to start its event loops") {
                if !router.isRunning { throw PollStop("slipway router exited: \(router.stderr)") }
                let names = try Self.eventLoopThreads(of: router.pid)
                return names.count >= 4 ? names : nil
            }
            #expect(threads.count == 4, "\(threads)")
            router.signal(SIGTERM)
            _ = try await router.wait(timeout: .seconds(30))

            for (arguments, environment, message) in [
                (["--event-loops", "0"], [String: String](), "--event-loops must be from 1 to 256 (got 0)"),
                (["--event-loops", "257"], [:], "--event-loops must be from 1 to 256 (got 257)"),
                ([], ["SLIPWAY_ROUTER_EVENT_LOOPS": "two"], "SLIPWAY_ROUTER_EVENT_LOOPS must be a whole number from 1 to 256 (got \"two\")"),
            ] {
                let refused = try await runCommand(h.slipway, ["router", "--state-dir", h.stateDir + "-refused"] + arguments, environment: environment, timeout: .seconds(30))
                #expect(refused.status != 0 && refused.stderr.contains(message), "\(arguments) \(environment): \(refused.stderr)")
            }
            // The control plane refuses a bad count before it starts anything.
            let server = try await runCommand(h.slipway, ["server", "--state-dir", h.stateDir + "-server", "--api", "127.0.0.1:0"],
                                              environment: ["SLIPWAY_ROUTER_EVENT_LOOPS": "0"], timeout: .seconds(30))
            #expect(server.status != 0 && server.stderr.contains("SLIPWAY_ROUTER_EVENT_LOOPS must be a whole number from 1 to 256 (got \"0\")"), "\(server.stderr)")
            #expect(!FileManager.default.fileExists(atPath: h.stateDir + "-server/router.pid"))
        }
    }
}
