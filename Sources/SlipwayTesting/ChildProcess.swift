import Foundation

/// A process started by a test (the real `slipway` binary, `hello-app`), with its
/// output collected so tests can wait for a readiness line and show it on failure.
public final class ChildProcess: @unchecked Sendable {
    public let process: Process
    private let stdoutPath: String
    private let stderrPath: String

    /// `standardInput`: bytes the process reads on stdin (then end of file); none by default.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil, workingDirectory: String? = nil, standardInput: String? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["SLIPWAY_SERVER", "SLIPWAY_TOKEN", "SLIPWAY_STATE_DIR", "SLIPWAY_CREDENTIALS", "SLIPWAY_CA_CERT", "SLIPWAY_MASTER_KEY"] {
            env.removeValue(forKey: key)
        }
        if let environment { env.merge(environment) { _, new in new } }
        process.environment = env
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        // Output goes to temporary files, read on demand: no pipes, no readability
        // handlers (a handle with one is never released, so every finished command kept
        // two descriptors open; hundreds of CLI runs pushed the test process past 1,300,
        // where Foundation's `Process.run` crashed with SIGSEGV in memmove).
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-child-\(UUID().uuidString)").path
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil), FileManager.default.createFile(atPath: stderrPath, contents: nil),
              let out = FileHandle(forWritingAtPath: stdoutPath), let err = FileHandle(forWritingAtPath: stderrPath) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer {
            try? out.close()
            try? err.close()
        }
        process.standardOutput = out
        process.standardError = err
        let input = standardInput.map { _ in Pipe() }
        process.standardInput = input ?? FileHandle.nullDevice
        try process.run()
        if let input, let standardInput {
            input.fileHandleForWriting.write(Data(standardInput.utf8))
            try input.fileHandleForWriting.close()
        }
    }

    public var stdout: String { Self.read(stdoutPath) }
    public var stderr: String { Self.read(stderrPath) }

    private static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    deinit {
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Waits for the process to exit and returns its status.
    public func wait(timeout: Duration = .seconds(60)) async throws -> Int32 {
        _ = try await eventually("process \(process.executableURL?.lastPathComponent ?? "?") to exit", timeout: timeout, every: .milliseconds(20)) {
            process.isRunning ? nil : true
        }
        // Output is in its files by now (no pipe to drain).
        return process.terminationStatus
    }

    public func signal(_ sig: Int32) {
        kill(process.processIdentifier, sig)
    }
}

/// Runs a command to completion and returns (status, stdout, stderr).
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, standardInput: String? = nil,
                       timeout: Duration = .seconds(120)) async throws -> (status: Int32, stdout: String, stderr: String) {
    let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, standardInput: standardInput)
    let status = try await child.wait(timeout: timeout)
    return (status, child.stdout, child.stderr)
}
