import Foundation
import SlipwayCore
import SlipwayTargets
import SlipwayTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real processes: spawn in a new session, identity by pid + start time, stop, logs.
@Suite struct LocalProcessTests {
    @Test func spawnedProcessLeadsItsOwnSessionAndLogsToItsFile() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = dir.file("logs/a.log")
        let started = try LocalProcess.spawn(executable: "/bin/sh", arguments: ["sh", "-c", "echo out; echo err >&2; echo $PORT; exec sleep 30"],
                                             environment: ["PORT": "4242", "PATH": "/usr/bin:/bin"], workingDirectory: dir.path, logPath: log)
        #expect(started.startTime > 0)
        #expect(getsid(started.pid) == started.pid, "a new session")
        #expect(getpgid(started.pid) == started.pid, "its own process group")
        #expect(LocalProcess.status(pid: started.pid, startTime: started.startTime) == .running)
        _ = try await eventually("the log to have three lines") {
            LogFiles.tail(path: log, lines: 10).count >= 3 ? true : nil
        }
        #expect(LogFiles.tail(path: log, lines: 10) == ["out", "err", "4242"])

        await LocalProcess.stop(pid: started.pid, startTime: started.startTime, grace: .seconds(5))
        if case .exited(let how) = LocalProcess.status(pid: started.pid, startTime: started.startTime) {
            #expect(how.contains("signal 15") || how.contains("exit status") || how.contains("exited"))
        } else {
            Issue.record("still running after stop")
        }
    }

    @Test func processIgnoringSigtermIsKilledAfterTheGracePeriod() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let started = try LocalProcess.spawn(executable: "/bin/sh", arguments: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
                                             environment: ["PATH": "/usr/bin:/bin"], workingDirectory: nil, logPath: dir.file("b.log"))
        _ = try await eventually("the trap to be installed") { LogFiles.tail(path: dir.file("b.log"), lines: 1) == ["ready"] ? true : nil }
        await LocalProcess.stop(pid: started.pid, startTime: started.startTime, grace: .milliseconds(300))
        #expect(LocalProcess.status(pid: started.pid, startTime: started.startTime) != .running)
        // The whole group is dead: the `sleep` child too. (A killed child reparented to PID 1
        // stays a zombie in the group until PID 1 reaps it, which a busy CI machine's init does
        // late: zombies run nothing, so only live members count.)
        _ = try await eventually("the process group to be dead", timeout: .seconds(10)) { Self.liveMembers(ofGroup: started.pid).isEmpty ? true : nil }
    }

    /// Pids of processes in process group `group` that are not zombies (from /proc).
    static func liveMembers(ofGroup group: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // After "comm)": state, ppid, pgrp, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[2]) == group, fields[0] != "Z", fields[0] != "X" else { return nil }
            return pid
        }
    }

    @Test func exitStatusIsReported() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let started = try LocalProcess.spawn(executable: "/bin/sh", arguments: ["sh", "-c", "exit 3"], environment: [:], workingDirectory: nil, logPath: dir.file("c.log"))
        let status = try await eventually("the process to exit") { () -> LocalProcess.Status? in
            let s = LocalProcess.status(pid: started.pid, startTime: started.startTime)
            return s == .running ? nil : s
        }
        #expect(status == .exited("exit status 3"))
    }

    @Test func aReusedPidIsNotMistakenForTheInstance() throws {
        // Our own pid with a wrong start time: alive, but not "our" instance.
        let me = getpid()
        let real = try #require(LocalProcess.startTime(of: me))
        #expect(LocalProcess.status(pid: me, startTime: real + 1) != .running)
    }

    @Test func missingProgramIsAClearError() {
        #expect(throws: LocalProcess.SpawnError.self) {
            try LocalProcess.spawn(executable: "/nonexistent/prog", arguments: ["prog"], environment: [:], workingDirectory: nil, logPath: "/tmp/slipway-never.log")
        }
        #expect(LocalProcess.resolveExecutable("definitely-not-a-program-xyz", workingDirectory: nil, extraSearchDirectories: [], path: "/usr/bin:/bin") == nil)
        #expect(LocalProcess.resolveExecutable("sh", workingDirectory: nil, extraSearchDirectories: [], path: "/usr/bin:/bin") != nil)
    }
}

@Suite struct LogFilesTests {
    @Test func rotationKeepsTheNewestFilesAndTheWriterCarriesOn() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("i.log")
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        defer { close(fd) }
        func write(_ s: String) { _ = s.withCString { Glibc.write(fd, $0, strlen($0)) } }
        for round in 1...4 {
            write(String(repeating: "\(round)", count: 100) + "\n")
            LogFiles.rotateIfNeeded(path: path, maxBytes: 50, keep: 2)
        }
        write("after\n")
        #expect(LogFiles.tail(path: path, lines: 5) == ["after"], "the O_APPEND writer continues at the start of the truncated file")
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8).hasPrefix("4444"))
        #expect(try String(contentsOfFile: path + ".2", encoding: .utf8).hasPrefix("3333"))
        #expect(!FileManager.default.fileExists(atPath: path + ".3"), "only `keep` rotated files")
    }

    @Test func smallFilesAreNotRotated() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("s.log", "one\ntwo\n")
        LogFiles.rotateIfNeeded(path: path, maxBytes: 1000, keep: 3)
        #expect(LogFiles.tail(path: path, lines: 1) == ["two"])
        #expect(!FileManager.default.fileExists(atPath: path + ".1"))
    }

    @Test func readFollowsAppendsAndRestartsAfterTruncation() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("f.log", "abc")
        let (first, offset) = LogFiles.read(path: path, from: 0)
        #expect(String(decoding: first, as: UTF8.self) == "abc")
        try "x".write(toFile: path, atomically: false, encoding: .utf8)
        let (second, _) = LogFiles.read(path: path, from: offset)
        #expect(String(decoding: second, as: UTF8.self) == "x", "a file shorter than the offset was rotated: read from its start")
    }
}

@Suite struct InstanceLaunchTests {
    @Test func environmentLayersAndPlaceholders() {
        let spec = ServiceSpec(name: "web", run: ["./web", "--port", "{{port}}", "--v={{version}}"], env: ["A": "config", "B": "config"], workingDirectory: "/srv")
        let release = ReleaseRecord(service: "web", version: "v7", configVersion: 1, spec: spec, extraEnv: ["B": "release"], createdAt: 0)
        let launch = InstanceLaunch.make(release: release, instanceID: "web-v7-x", port: 9000, logPath: "/tmp/l",
                                         inherited: ["PATH": "/bin", "SECRET_TOKEN": "nope", "HOME": "/root"])
        #expect(launch.arguments == ["./web", "--port", "9000", "--v=v7"])
        #expect(launch.environment["PORT"] == "9000")
        #expect(launch.environment["SLIPWAY_SERVICE"] == "web")
        #expect(launch.environment["SLIPWAY_VERSION"] == "v7")
        #expect(launch.environment["A"] == "config")
        #expect(launch.environment["B"] == "release", "--set-env wins over config env")
        #expect(launch.environment["PATH"] == "/bin")
        #expect(launch.environment["SECRET_TOKEN"] == nil, "the server's other variables are not passed on")
        #expect(launch.workingDirectory == "/srv")
    }

    @Test func secretsWinOverConfigEnvButNeverOverSlipwayVariables() {
        let spec = ServiceSpec(name: "web", run: ["./web"], env: ["API_TOKEN": "from-config", "OTHER": "config"])
        let release = ReleaseRecord(service: "web", version: "v1", configVersion: 1, spec: spec, extraEnv: [:], createdAt: 0)
        let launch = InstanceLaunch.make(release: release, instanceID: "web-v1-x", port: 9000, logPath: "/tmp/l", inherited: [:],
                                         secrets: ["API_TOKEN": "secret", "PORT": "1", "SLIPWAY_VERSION": "evil"])
        #expect(launch.environment["API_TOKEN"] == "secret")
        #expect(launch.environment["OTHER"] == "config")
        #expect(launch.environment["PORT"] == "9000")
        #expect(launch.environment["SLIPWAY_VERSION"] == "v1")
    }
}

/// Finished commands give their pipe descriptors back (the e2e suite runs hundreds).
@Suite struct ChildProcessDescriptorTests {
    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    @Test func runCommandDoesNotLeakDescriptors() async throws {
        // Warm up (Foundation's own one-time descriptors), then 150 runs.
        _ = try await runCommand("/bin/echo", ["warm"])
        let before = Self.openDescriptors()
        for i in 0..<150 {
            let run = try await runCommand("/bin/echo", ["run \(i)"])
            #expect(run.status == 0 && run.stdout == "run \(i)\n")
        }
        // Other suites run in parallel and hold descriptors of their own at any moment (up
        // to ~80 seen in CI): allow half the leak's size; a leak of two per run is +300.
        let after = Self.openDescriptors()
        #expect(after - before < 150, "descriptors: \(before) before, \(after) after 150 commands")
    }
}
