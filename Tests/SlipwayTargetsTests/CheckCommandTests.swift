import Foundation
import SlipwayTargets
import SlipwayTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Analysis `command` checks: exit status and output captured, killed at the timeout
/// together with everything they started.
@Suite struct CheckCommandTests {
    let env = ["PATH": "/usr/bin:/bin"]

    @Test func capturesExitStatusStdoutAndStderrSeparately() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try await CheckCommand.run(executable: "/bin/sh", arguments: ["sh", "-c", "pwd; echo 0.25; echo bad >&2; exit 3"],
                                           environment: env, workingDirectory: dir.path, timeout: .seconds(10))
        #expect(r.exit == .status(3))
        let realDir = URL(fileURLWithPath: dir.path).resolvingSymlinksInPath().path
        #expect(r.stdout == "\(realDir)\n0.25\n" || r.stdout == "\(dir.path)\n0.25\n", "\(r.stdout)")
        #expect(r.stderr == "bad\n")
    }

    // The command would run for an hour: returning at all means the timeout ended it (the
    // time limit only guards against a hang; no wall-clock bound is asserted).
    @Test(.timeLimit(.minutes(2)))
    func timeoutKillsTheCommandAndWhatItStarted() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pidFile = dir.file("child.pid")
        let r = try await CheckCommand.run(executable: "/bin/sh", arguments: ["sh", "-c", "sleep 3600 & echo $! > \(pidFile); wait"],
                                           environment: env, workingDirectory: nil, timeout: .milliseconds(500))
        #expect(r.exit == .timedOut)
        let child = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        _ = try await eventually("the background sleep to be gone") {
            kill(child, 0) != 0 || (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8))?.contains(") Z ") == true ? true : nil
        }
    }

    @Test func leftoverBackgroundProcessesDieWhenTheCommandExits() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pidFile = dir.file("child.pid")
        let r = try await CheckCommand.run(executable: "/bin/sh", arguments: ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $! > \(pidFile); echo done"],
                                           environment: env, workingDirectory: nil, timeout: .seconds(10))
        #expect(r.exit == .status(0))
        #expect(r.stdout == "done\n")
        let child = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        _ = try await eventually("the background sleep to be gone") {
            kill(child, 0) != 0 || (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8))?.contains(") Z ") == true ? true : nil
        }
    }

    @Test func aProgramThatCannotStartIsASpawnError() async {
        await #expect(throws: LocalProcess.SpawnError.self) {
            _ = try await CheckCommand.run(executable: "/nonexistent/check", arguments: ["check"], environment: env, workingDirectory: nil, timeout: .seconds(1))
        }
    }

    @Test func killedBySignalIsReported() async throws {
        let r = try await CheckCommand.run(executable: "/bin/sh", arguments: ["sh", "-c", "kill -9 $$"], environment: env, workingDirectory: nil, timeout: .seconds(10))
        #expect(r.exit == .signal(9))
    }
}
