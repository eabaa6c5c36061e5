import CSlipwayProcess
import Foundation
import SlipwayCore
#if canImport(Glibc)
import Glibc
#endif

/// Local processes as instances: each starts in its own session (so it outlives the
/// control plane and gets no terminal signals), with stdout and stderr appended to a log
/// file, and is tracked by pid plus the kernel's start time for that pid (so a re-used
/// pid is never mistaken for our instance).
public enum LocalProcess {
    public struct Started: Sendable, Equatable {
        public var pid: Int32
        public var startTime: UInt64
    }

    public enum Status: Sendable, Equatable {
        case running
        /// Exited; the text says how ("exit status 3", "killed by signal 9").
        case exited(String)
    }

    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Finds the program to run. A name with a `/` is taken relative to `workingDirectory`;
    /// a bare name is looked up in `extraSearchDirectories` (the slipway binary's own
    /// folder), then in PATH.
    public static func resolveExecutable(_ name: String, workingDirectory: String?, extraSearchDirectories: [String], path: String?) -> String? {
        let fm = FileManager.default
        if name.contains("/") {
            let full = name.hasPrefix("/") ? name : ((workingDirectory ?? fm.currentDirectoryPath) + "/" + name)
            return fm.isExecutableFile(atPath: full) ? full : nil
        }
        let dirs = extraSearchDirectories + (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for dir in dirs where !dir.isEmpty {
            let full = dir + "/" + name
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue, fm.isExecutableFile(atPath: full) { return full }
        }
        return nil
    }

    /// Starts `executable` with `arguments` (argv[0] included) in a new session.
    public static func spawn(executable: String, arguments: [String], environment: [String: String], workingDirectory: String?, logPath: String) throws(SpawnError) -> Started {
        let logDir = PathText.folder(of: logPath)
        try? FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        return try spawn(executable: executable, arguments: arguments, environment: environment, workingDirectory: workingDirectory,
                         stdoutPath: logPath, stderrPath: nil, append: true)
    }

    /// Starts a process in a new session with stdin from /dev/null, stdout to `stdoutPath`
    /// and stderr to `stderrPath` (nil: the same file as stdout); `append` keeps what the
    /// files hold, otherwise they are truncated.
    static func spawn(executable: String, arguments: [String], environment: [String: String], workingDirectory: String?,
                      stdoutPath: String, stderrPath: String?, append: Bool) throws(SpawnError) -> Started {
        let mode = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, mode, 0o640)
        if let stderrPath {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, mode, 0o640)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        cslipway_spawn_addclosefrom(&actions, 3)
        if let workingDirectory {
            cslipway_spawn_addchdir(&actions, workingDirectory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child leads a new session and process group, with no blocked signals and
        // default dispositions (the control plane's own handlers are not inherited).
        let flags = cslipway_spawn_setsid_flag() | Int16(POSIX_SPAWN_SETSIGMASK) | Int16(POSIX_SPAWN_SETSIGDEF)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, flags)

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted(by: { $0.key < $1.key }).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        var rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        // ETXTBSY: a process forked at the moment the file was written (an artifact copied,
        // a test writing a program) still holds a write descriptor for an instant; it goes
        // at its exec. Tried again a few times, 20 ms apart, as Go's os/exec does.
        var tries = 1
        while rc == ETXTBSY, tries < 6 {
            usleep(20_000)
            tries += 1
            rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        guard rc == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        let start = startTime(of: pid) ?? 0
        return Started(pid: pid, startTime: start)
    }

    /// The kernel's start time of `pid` (field 22 of /proc/PID/stat), or nil when gone.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); start time is field 22.
        guard fields.count > 19 else { return nil }
        if fields[0] == "Z" { return nil }
        return UInt64(fields[19])
    }

    /// Whether the process is still ours and alive; reaps it when it is our child.
    public static func status(pid: Int32, startTime: UInt64) -> Status {
        var raw: Int32 = 0
        let r = waitpid(pid, &raw, WNOHANG)
        if r == pid { return .exited(describe(waitStatus: raw)) }
        if r == 0 { return .running }
        // Not our child (adopted after a control-plane restart): ask /proc.
        guard let now = Self.startTime(of: pid) else { return .exited("exited (status unknown: not a child of this control plane)") }
        if startTime != 0 && now != startTime { return .exited("exited (pid \(pid) now belongs to another process)") }
        return .running
    }

    static func describe(waitStatus s: Int32) -> String {
        let sig = s & 0x7f
        if sig == 0 { return "exit status \((s >> 8) & 0xff)" }
        return "killed by signal \(sig)"
    }

    /// Sends `signal` to the instance's whole process group (its session).
    public static func signalGroup(pid: Int32, startTime: UInt64, _ signal: Int32) {
        guard pid > 1 else { return }
        if startTime != 0, let now = Self.startTime(of: pid), now != startTime { return }
        if kill(-pid, signal) != 0 { _ = kill(pid, signal) }
    }

    /// SIGTERM, then SIGKILL after `grace`; returns when the process is gone.
    public static func stop(pid: Int32, startTime: UInt64, grace: Duration) async {
        signalGroup(pid: pid, startTime: startTime, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if case .exited = status(pid: pid, startTime: startTime) { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        signalGroup(pid: pid, startTime: startTime, SIGKILL)
        let killDeadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < killDeadline {
            if case .exited = status(pid: pid, startTime: startTime) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
