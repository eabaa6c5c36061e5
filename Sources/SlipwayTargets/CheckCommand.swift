import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a short-lived program to completion (an analysis `command` check): its own session,
/// stdout and stderr captured in temporary files (no pipe to fill up), killed with its
/// whole process group when `timeout` passes. Whatever it left running in its group is
/// killed once it exits too.
public enum CheckCommand {
    public enum Exit: Sendable, Equatable {
        case status(Int32)
        case signal(Int32)
        /// Still running after the timeout; it was killed.
        case timedOut
    }

    public struct Result: Sendable, Equatable {
        public var exit: Exit
        public var stdout: String
        public var stderr: String
    }

    /// Keeps at most this much of each stream.
    public static let outputLimit = 64 << 10

    /// - Parameter started: called once the process runs, with its pid and kernel start time
    ///   (a caller that must find it again after a crash records them).
    public static func run(executable: String, arguments: [String], environment: [String: String], workingDirectory: String?,
                           timeout: Duration, started onStart: ((Int32, UInt64?) -> Void)? = nil) async throws(LocalProcess.SpawnError) -> Result {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-check-\(UUID().uuidString)").path
        let (outPath, errPath) = (base + ".out", base + ".err")
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let started = try LocalProcess.spawn(executable: executable, arguments: arguments, environment: environment, workingDirectory: workingDirectory,
                                             stdoutPath: outPath, stderrPath: errPath, append: false)
        let pid = started.pid
        onStart?(pid, LocalProcess.startTime(of: pid))
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(2)
        var exit: Exit?
        while exit == nil {
            var raw: Int32 = 0
            if LocalProcess.startTime(of: pid) == nil {
                // Exited (a zombie until reaped, so its group id cannot be reused yet): kill
                // what it left behind in its session, then reap it.
                kill(-pid, SIGKILL)
                exit = waitpid(pid, &raw, 0) == pid ? Self.exit(raw) : .status(-1)
            } else if ContinuousClock.now >= deadline || Task.isCancelled {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &raw, 0)
                exit = .timedOut
            } else {
                try? await Task.sleep(for: min(pause, deadline - ContinuousClock.now))
                pause = min(pause * 2, .milliseconds(50))
            }
        }
        return Result(exit: exit ?? .timedOut, stdout: read(outPath), stderr: read(errPath))
    }

    static func exit(_ raw: Int32) -> Exit {
        let signal = raw & 0x7f
        return signal == 0 ? .status((raw >> 8) & 0xff) : .signal(signal)
    }

    static func read(_ path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: outputLimit)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
