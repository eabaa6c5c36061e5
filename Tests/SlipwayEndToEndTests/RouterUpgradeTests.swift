import Crypto
import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Replacing the router without a gap: the new process takes over the listening sockets
/// over the state directory's hand-over socket (SCM_RIGHTS), the old one stops accepting,
/// drains and exits. Under load from clients that keep their connections alive and ones
/// that open new ones; with a WebSocket open on the old router; and the control plane and
/// the router both upgraded in place in one scenario.
@Suite(.serialized) struct RouterUpgradeTests {
    static let wsClient = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/ws_client.py").path

    func routerPID(_ h: SlipwayHarness) throws -> Int32 {
        let text = try String(contentsOfFile: h.stateDir + "/router.pid", encoding: .utf8)
        guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw PollStop("router.pid holds \(text)") }
        return pid
    }

    static func alive(_ pid: Int32) -> Bool {
        // A zombie (exited, not yet reaped by the control plane) counts as gone.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !stat.contains(") Z ")
    }

    static func sha256(_ path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    struct Totals {
        var ok = 0
        var failures: [String] = []
        var versions: [String: Int] = [:]
    }

    static func stop(_ probes: [TrafficProbe]) async -> Totals {
        var totals = Totals()
        for probe in probes {
            let r = await probe.stop()
            totals.ok += r.ok
            totals.failures += r.failures
            totals.versions.merge(r.versions, uniquingKeysWith: +)
        }
        return totals
    }

    @Test func anUpgradeUnderLoadRefusesNoConnectionAndFailsNoRequest() async throws {
        try await withHello(extra: "websocket_drain: 3s") { h, port in
            // A WebSocket held open on the old router through the upgrade.
            let stop = h.directory.file("stop-ws")
            let ws = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", Self.wsClient, "hold", "ws://127.0.0.1:\(port)/ws",
                                                                              "--stop-file", stop, "--interval", "0.1", "--max-seconds", "120"])
            _ = try await eventually("the WebSocket's first reply") { ws.stdout.contains("reply ") ? true : nil }

            let probes = (0..<4).map { _ in TrafficProbe(port: port, limit: 100_000) }
            _ = try await eventually("traffic through the router") { probes.allSatisfy { $0.served > 0 } ? true : nil }
            var pids = [try routerPID(h)]
            for round in 1...3 {
                let before = probes.map(\.served).reduce(0, +)
                let upgrade = try await h.cli(["router", "upgrade", "-o", "json"])
                #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
                let result = try decode(RouterUpgradeReply.self, upgrade.stdout)
                #expect(result.previousPID == pids.last && result.pid != result.previousPID, "round \(round): \(result), routers so far \(pids)")
                pids.append(result.pid)
                #expect(try routerPID(h) == result.pid)
                // The new router serves (requests keep completing) before the next round.
                _ = try await eventually("requests after upgrade \(round)") { probes.map(\.served).reduce(0, +) > before + 50 ? true : nil }
            }
            // Each old router drained and exited by itself.
            for pid in pids.dropLast() {
                _ = try await eventually("router \(pid) to exit", timeout: .seconds(60)) { Self.alive(pid) ? nil : true }
            }
            let totals = await Self.stop(probes)
            #expect(totals.failures.isEmpty, "\(totals.failures.count) failed: \(totals.failures.prefix(5))")

            // The WebSocket kept working on the old router after the first hand-over, and the
            // old router closed it when its drain (websocket_drain) ran out.
            _ = try await eventually("the old router to close the WebSocket", timeout: .seconds(60)) { ws.stdout.contains("closed ") ? true : nil }
            let replies = ws.stdout.split(separator: "\n").filter { $0.hasPrefix("reply ") }.count
            #expect(replies >= 20, "replies before the old router closed it: \(replies)")
            _ = FileManager.default.createFile(atPath: stop, contents: Data())
            _ = try? await ws.wait(timeout: .seconds(30))

            // The new router serves the same table, health included: no 502 in between.
            #expect(try await h.versionAt(port: port) == "v1")
            let events = try String(contentsOfFile: h.stateDir + "/logs/router.log", encoding: .utf8)
            #expect(events.contains("listening on the socket taken over"), "the new router bound nothing itself")
        }
    }

    @Test func theControlPlaneAndTheRouterAreUpgradedInPlaceWithoutAGap() async throws {
        try await withHarness { h in
            let bin = h.directory.file("bin")
            let slipway = try h.runFromCopies(in: bin)
            let (config, port) = try h.helloConfig(replicas: 2)
            try await h.startServer(configs: [config])
            _ = try await eventually("v1 to serve") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
            let oldRouter = try routerPID(h)
            let oldBuild = try Self.sha256(slipway)

            let probes = (0..<4).map { _ in TrafficProbe(port: port, limit: 100_000) }
            _ = try await eventually("traffic through the router") { probes.allSatisfy { $0.served > 0 } ? true : nil }

            // A new build replaces the binary in place (rename over it, as package managers
            // do): the running processes keep the old one.
            let staged = bin + "/slipway.new"
            try FileManager.default.copyItem(atPath: slipway, toPath: staged)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: staged))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("slipway-test-build-\(UUID().uuidString)".utf8))
            try handle.close()
            #expect(rename(staged, slipway) == 0)
            let newBuild = try Self.sha256(slipway)
            #expect(newBuild != oldBuild)

            // The control plane restarts from the new binary; it finds the router on the old
            // build and hands it over to a router of the new one.
            try await h.stopControlPlane()
            let during = probes.map(\.served).reduce(0, +)
            _ = try await eventually("requests while no control plane runs") { probes.map(\.served).reduce(0, +) > during + 50 ? true : nil }
            try await h.startServer(configs: [config])
            let newRouter = try await eventually("the router to be replaced", timeout: .seconds(60)) { () -> Int32? in
                let pid = try routerPID(h)
                return pid != oldRouter ? pid : nil
            }
            #expect(try Self.sha256("/proc/\(newRouter)/exe") == newBuild, "the new router runs the new build")
            _ = try await eventually("the old router to exit", timeout: .seconds(60)) { Self.alive(oldRouter) ? nil : true }
            let after = probes.map(\.served).reduce(0, +)
            _ = try await eventually("requests through the new router") { probes.map(\.served).reduce(0, +) > after + 50 ? true : nil }
            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--wait"]).status == 0, "the upgraded pair deploys")

            let totals = await Self.stop(probes)
            #expect(totals.failures.isEmpty, "\(totals.failures.count) failed: \(totals.failures.prefix(5))")
            #expect(totals.versions["v1", default: 0] > 0 && totals.versions["v2", default: 0] > 0, "\(totals.versions)")

            // A second start of the same build leaves the router alone.
            try await h.stopControlPlane()
            try await h.startServer(configs: [config])
            #expect(try routerPID(h) == newRouter)
            #expect(try await h.versionAt(port: port) == "v2")
        }
    }

    @Test func anHTTP2ConnectionIsToldToGoAwayAndClosedOnceIdle() async throws {
        try await withHello { h, port in
            let client = URL(fileURLWithPath: Self.wsClient).deletingLastPathComponent().appendingPathComponent("h2_client.py").path
            let held = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", client, "drain", "127.0.0.1", "\(port)"])
            _ = try await eventually("the HTTP/2 connection's first answer") {
                if !held.isRunning, !held.stdout.contains("ready") { throw PollStop("h2_client.py drain ended: \(held.stderr)") }
                return held.stdout.contains("{\"ready\": true}") ? true : nil
            }
            #expect(try await h.cli(["router", "upgrade"]).status == 0)
            #expect(try await held.wait(timeout: .seconds(30)) == 0, "\(held.stderr)")
            let last = try #require(held.stdout.split(separator: "\n").last)
            struct Outcome: Decodable { var goaway: Int?; var closed: Bool; var seconds: Double }
            let outcome = try decode(Outcome.self, String(last))
            // GOAWAY NO_ERROR first (the client takes its next request elsewhere), then the
            // close once the connection had no stream.
            #expect(outcome.goaway == 0 && outcome.closed, "\(last)")
        }
    }
}

/// `slipway router upgrade -o json`.
struct RouterUpgradeReply: Decodable {
    var previousPID: Int32
    var pid: Int32
    var executable: String?
    var seconds: Double
}
