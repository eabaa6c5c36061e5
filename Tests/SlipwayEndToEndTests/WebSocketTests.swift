import Foundation
import SlipwayTesting
import Testing

/// WebSockets through the real router, with the `websockets` client from PyPI
/// (scripts/ws_client.py; scripts/test.sh installs it) against hello-app's `/ws` echo
/// (SwiftNIO's WebSocket server): messages both ways with backpressure, version choice
/// on the upgrade request, and what a switch does to the connections already open.
@Suite(.serialized) struct WebSocketTests {
    static let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/ws_client.py").path

    struct Echo: Decodable { var version: String; var messages: Int; var bytes: Int }

    func echo(port: Int, count: Int = 20, size: Int = 64, headers: [String] = []) async throws -> Echo {
        let run = try await runCommand("/usr/bin/env", ["python3", Self.client, "echo", "ws://127.0.0.1:\(port)/ws", "--count", "\(count)", "--size", "\(size)"]
                                       + headers.flatMap { ["--header", $0] }, timeout: .seconds(120))
        guard run.status == 0, let line = run.stdout.split(separator: "\n").last else {
            throw PollStop("ws_client.py echo failed (\(run.status)): \(run.stderr)\(run.stdout)")
        }
        return try JSONDecoder().decode(Echo.self, from: Data(line.utf8))
    }

    /// A long-lived connection: a message every 100 ms, replies on stdout ("reply TIME TEXT",
    /// TIME the wall clock when it arrived).
    struct Held {
        let process: ChildProcess
        let stop: String
        var timedReplies: [(time: Double, text: String)] {
            process.stdout.split(separator: "\n").filter { $0.hasPrefix("reply ") }.map { line in
                let parts = line.dropFirst(6).split(separator: " ", maxSplits: 1)
                return (Double(parts.first ?? "") ?? 0, parts.count > 1 ? String(parts[1]) : "")
            }
        }
        var replies: [String] { timedReplies.map(\.text) }
        var closed: String? { process.stdout.split(separator: "\n").first { $0.hasPrefix("closed ") }.map(String.init) }
    }

    func hold(_ h: SlipwayHarness, port: Int) async throws -> Held {
        let stop = h.directory.file("stop-\(UUID().uuidString)")
        let process = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", Self.client, "hold", "ws://127.0.0.1:\(port)/ws", "--stop-file", stop, "--interval", "0.1", "--max-seconds", "120"])
        let held = Held(process: process, stop: stop)
        _ = try await eventually("the held WebSocket's first reply") {
            if !process.isRunning { throw PollStop("ws_client.py hold ended: \(process.stderr)\(process.stdout)") }
            return held.replies.isEmpty ? nil : true
        }
        return held
    }

        func upgraded(_ h: SlipwayHarness, version: String) async throws -> Int? {
        let text = try await h.api("/metrics").body
        let line = text.split(separator: "\n").first { $0.hasPrefix("slipway_upgraded_connections{service=\"hello\",version=\"\(version)\"}") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) }
    }

    @Test func messagesCrossTheRouterBothWaysAndTheUpgradeChoosesItsVersion() async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 2)
            try await h.startServer()
            #expect(try await h.cli(["apply", "-f", config]).status == 0)
            #expect(try await h.cli(["deploy", "hello", "--version", "v1", "--wait"]).status == 0)

            // 200 messages of 64 KiB each, all sent before any reply is read: 12.5 MiB each way
            // through one tunnel, echoed exactly.
            let bulk = try await echo(port: port, count: 200, size: 65536)
            #expect(bulk.version == "v1" && bulk.messages == 200 && bulk.bytes == 200 * 65536)

            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--wait"]).status == 0)
            #expect(try await echo(port: port).version == "v2")
            // The pin header applies to the upgrade request: the warm previous release answers.
            #expect(try await echo(port: port, headers: ["X-Slipway-Version: v1"]).version == "v1")

            // Plain HTTP on the same listener is unaffected.
            #expect(try await h.versionAt(port: port) == "v2")
            // The upgrade requests are counted as requests (status 101) of their version.
            let metrics = try await h.api("/metrics").body
            #expect(metrics.contains("slipway_requests_total{service=\"hello\",version=\"v2\",code_class=\"1xx\"} 1"), "\(metrics.split(separator: "\n").filter { $0.contains("1xx") })")
        }
    }

    @Test func openConnectionsStayOnTheirReleaseUntilWebsocketDrainThenClose() async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 1, extra: "websocket_drain: 3s", keepPrevious: "10m", drainTimeout: "10s")
            try await h.startServer()
            #expect(try await h.cli(["apply", "-f", config]).status == 0)
            #expect(try await h.cli(["deploy", "hello", "--version", "v1", "--wait"]).status == 0)
            let held = try await hold(h, port: port)
            #expect(try await upgraded(h, version: "v1") == 1)
            let status = try await h.cli(["status", "hello"])
            #expect(status.stdout.contains("+1 ws"), "\(status.stdout)")

            // The switch does not wait for the open connection (it is not an in-flight request)...
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("previous release drained"), "\(deploy.stdout)")
            #expect(try await echo(port: port).version == "v2", "new connections reach the new release")
            // ...which stays on v1 and keeps working until websocket_drain runs out; then the
            // router closes it (the client reconnects to v2).
            _ = try await eventually("the held connection to be closed", timeout: .seconds(30)) { held.closed }
            // Replies that arrived after the switch (the event's time; one clock): counted from
            // the switch itself, not from when the deploy command returned, which a loaded
            // machine can delay well into the 3 s of websocket_drain.
            let events = try JSONSerialization.jsonObject(with: Data(try await h.api("/v1/services/hello/events?limit=200").body.utf8)) as? [[String: Any]] ?? []
            let switchedAt = try #require(events.first { ($0["message"] as? String)?.hasPrefix("traffic switched to v2") == true }?["time"] as? Double,
                                          "\(events.compactMap { $0["message"] as? String })")
            let replies = held.replies
            let after = held.timedReplies.filter { $0.time > switchedAt }.count
            #expect(after > 5, "the connection kept working after the switch: \(after) of \(replies.count) replies came after it")
            #expect(replies.allSatisfy { $0.hasPrefix("v1: ") }, "one connection, one release: \(Set(replies.map { $0.prefix(3) }))")
            #expect(try await upgraded(h, version: "v1") == 0)
            #expect(try await held.process.wait() == 0, "\(held.process.stderr)")
        }
    }

    @Test func anInstanceIsNotStoppedUnderItsOpenConnections() async throws {
        try await withHarness { h in
            // No warm previous release: v1's instance is stopped after the switch, but only once
            // the router closed its WebSocket (websocket_drain), not under it.
            let (config, port) = try h.helloConfig(replicas: 1, extra: "websocket_drain: 3s", keepPrevious: "0", drainTimeout: "10s")
            try await h.startServer()
            #expect(try await h.cli(["apply", "-f", config]).status == 0)
            #expect(try await h.cli(["deploy", "hello", "--version", "v1", "--wait"]).status == 0)
            let held = try await hold(h, port: port)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let atSwitch = held.replies.count
            _ = try await eventually("the held connection to be closed", timeout: .seconds(30)) { held.closed }
            #expect(held.replies.count > atSwitch + 5, "the connection kept working after the switch: \(atSwitch) then \(held.replies.count) replies")
            // Closed by the router at websocket_drain (an abrupt close, 1006), not by the
            // instance going away (hello-app says 1001 when it is stopped).
            #expect(held.closed == "closed 1006", "\(held.closed ?? "")")
            let events = try await h.api("/v1/services/hello/events?limit=50").body
            #expect(events.contains("once its 1 upgraded connection(s) are closed (websocket_drain 3s)"), "\(events)")
            _ = try await eventually("v1's instance to stop", timeout: .seconds(30)) { () -> Bool? in
                let status = try await h.cli(["status", "hello"]).stdout
                return status.contains("hello-v1") ? nil : true
            }
        }
    }
}
