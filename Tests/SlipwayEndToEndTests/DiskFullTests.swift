import Foundation
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

/// The state directory's file system fills up (a small tmpfs the test mounts over the state
/// directory, then fills with a file): commands that must write are refused with a clear
/// error naming the directory, reads go on, traffic is untouched, a rollout caught by it
/// waits without switching, carries on once space is back, and the store is not damaged.
@Suite(.serialized) struct DiskFullTests {
    @Test(.timeLimit(.minutes(4)))
    func aFullStateDiskRefusesClearlyKeepsTrafficAndTheRolloutCarriesOnOnceSpaceIsBack() async throws {
        let h = try SlipwayHarness()
        try FileManager.default.createDirectory(atPath: h.stateDir, withIntermediateDirectories: true)
        try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=192m,mode=0700", "slipway-test-full", h.stateDir])
        let filler = h.stateDir + "/filler"
        let gate = h.directory.file("v2-unhealthy")
        do {
            let config = try h.helloConfig(deployTimeout: "90s")
            try await h.startServer(configs: [config.path])
            let port = config.port
            _ = try await eventually("v1 to serve through the router") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
            let probe = TrafficProbe(port: port, pace: .milliseconds(5))
            try await probe.waitForAnswer(from: "v1")

            // Full before a deploy: refused, naming the directory; nothing else changes.
            let filled = try Self.fill(filler)
            #expect(filled > 0)
            let refused = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("the state directory \(h.stateDir) is out of space") && refused.stderr.contains("free space there"), "\(refused.stderr)")
            let reply = try await TestHTTP.request(h.apiURL + "/v1/services/hello/deploy", method: .POST, headers: h.authorization + [("Content-Type", "application/json")], body: #"{"version":"v2"}"#)
            #expect(reply.status == 507, "\(reply.status) \(reply.body)")
            let status = try await h.cli(["status", "hello"])
            #expect(status.status == 0 && status.stdout.contains("stable:   v1"), "reads go on: \(status.stdout)\(status.stderr)")
            try FileManager.default.removeItem(atPath: filler)

            // Full in the middle of a rollout: v2's instances run but are not healthy yet
            // when the disk fills; once they are, the switch cannot be recorded, so it does
            // not happen, and the loop tries again until it can.
            _ = FileManager.default.createFile(atPath: gate, contents: Data())
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY_FILE=\(gate)"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            _ = try await eventually("v2's instances to run") {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "--output", "json"]).stdout)
                return s.instances.filter { $0.version == "v2" && $0.state == .running }.count == 2 ? true : nil
            }
            _ = try Self.fill(filler)
            let errorsBefore = try await Self.tickErrors(h)
            try FileManager.default.removeItem(atPath: gate)
            _ = try await eventually("the controller to fail to record the switch several times", timeout: .seconds(60)) {
                try await Self.tickErrors(h) >= errorsBefore + 10 ? true : nil
            }
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1", "no switch that could not be recorded") }
            let during = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "--output", "json"]).stdout)
            #expect(during.stableVersion == "v1")

            // Space is back: the rollout carries on by itself.
            try FileManager.default.removeItem(atPath: filler)
            _ = try await eventually("v2 to serve once space is back", timeout: .seconds(60)) {
                (try? await h.versionAt(port: port)) == "v2" ? true : nil
            }
            _ = try await eventually("the rollout to succeed") {
                let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "--output", "json"]).stdout)
                return history.first.map { $0.kind == .deploy && $0.phase == .succeeded } == true ? true : nil
            }
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))")
            #expect(result.versions["v1", default: 0] > 0 && result.versions["v2", default: 0] > 0)

            // The store is whole: the control plane stopped, its file passes SQLite's check.
            try await h.stopControlPlane()
            let summary = try Store.inspectBackup(h.stateDir + "/slipway.sqlite")
            #expect(summary.services == 1 && summary.rollouts == 2, "\(summary)")
        } catch {
            await Self.cleanUp(h)
            throw error
        }
        await Self.cleanUp(h)
    }

    /// Writes `path` until the file system is full; returns the bytes written.
    static func fill(_ path: String) throws -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw PollStop("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written > 0 { total += written; continue }
            guard errno == ENOSPC else { throw PollStop("writing \(path) failed: \(String(cString: strerror(errno)))") }
            return total
        }
    }

    static func tickErrors(_ h: SlipwayHarness) async throws -> Int {
        let metrics = try await h.api("/metrics").body
        guard let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix("slipway_controller_tick_errors_total") }),
              let value = Double(line.split(separator: " ").last ?? "") else { return 0 }
        return Int(value)
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw PollStop("\(executable) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): \(text)")
        }
    }

    /// Stops what the test started, unmounts the file system (processes holding files there
    /// may take a moment to die), then removes the directory.
    static func cleanUp(_ h: SlipwayHarness) async {
        if h.server?.isRunning == true {
            _ = try? await h.cli(["down"], timeout: .seconds(60))
            _ = try? await h.server?.wait(timeout: .seconds(30))
        }
        SlipwayHarness.killProcesses(mentioning: h.stateDir)
        var unmounted = false
        for _ in 0..<50 where !unmounted {
            unmounted = (try? run("/bin/umount", [h.stateDir])) != nil
            if !unmounted { try? await Task.sleep(for: .milliseconds(100)) }
        }
        if !unmounted { try? run("/bin/umount", ["-l", h.stateDir]) }
        h.directory.remove()
    }
}
