import Foundation
import SlipwayCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Instances as local processes (`run:`), each in its own session with its output in a
/// log file under the state directory. A release records the SHA-256 of the program it
/// runs (and of `artifact:`) and keeps a copy in the artifact store; an instance runs the
/// program where it is while it still has those bytes, and the stored copy once it changed.
public final class LocalProcessDriver: InstanceDriver {
    public let kind = TargetKind.local
    public let artifacts: ArtifactStore
    /// Where a bare `run[0]` is looked up before PATH (the slipway binary's folder).
    let searchDirectories: [String]
    /// The PATH bare names are looked up in.
    let path: String?
    /// Digests of programs by file identity, so a start does not hash an unchanged file again.
    let digests = Mutex<[FileIdentity: String]>([:])

    public init(artifacts: ArtifactStore, searchDirectories: [String], path: String?) {
        self.artifacts = artifacts
        self.searchDirectories = searchDirectories
        self.path = path
    }

    struct FileIdentity: Hashable {
        var path: String
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64
    }

    // MARK: artifacts

    func program(of spec: ServiceSpec) throws(DriverError) -> String {
        guard let name = spec.run.first,
              let executable = LocalProcess.resolveExecutable(name, workingDirectory: spec.workingDirectory, extraSearchDirectories: searchDirectories, path: path) else {
            throw DriverError(.notFound, "cannot find the program \(spec.run.first ?? "?") of \(spec.name) (looked in \(spec.workingDirectory ?? "."), \(searchDirectories.joined(separator: ", ")) and PATH)")
        }
        return (executable as NSString).standardizingPath
    }

    public func prepare(_ release: ReleaseRecord, secrets: [String: String], progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) -> [ReleaseArtifact] {
        if !release.artifacts.isEmpty {
            for artifact in release.artifacts {
                do {
                    _ = try artifacts.verified(artifact)
                } catch {
                    throw DriverError(.artifactGone, "release \(release.version) of \(release.service) cannot run: \(error.message); it is refused rather than run other bytes under its label")
                }
            }
            return release.artifacts
        }
        var kept: [ReleaseArtifact] = []
        var directory: String?
        if let path = release.spec.artifact {
            let artifact = try artifacts.keep(path, kind: .file)
            if artifact.kind == .directory { directory = path }
            kept.append(artifact)
        }
        let executable = try program(of: release.spec)
        if let directory, Self.path(executable, isInside: directory) {
            // Covered by the directory's digest.
        } else {
            let artifact = try artifacts.keep(executable, kind: .executable)
            kept.append(artifact)
            remember(executable, digest: artifact.digest)
        }
        await progress("recorded " + kept.map(\.summary).joined(separator: ", "))
        return kept
    }

    public func unavailable(_ release: ReleaseRecord) async -> String? {
        for artifact in release.artifacts where !FileManager.default.fileExists(atPath: artifacts.path(of: artifact.digest)) {
            return "release \(release.version) ran the \(artifact.kind.rawValue) \(artifact.source) (\(artifact.shortDigest)), and its copy is gone from the artifact store (\(artifacts.path(of: artifact.digest))); it is refused rather than run other bytes under its label"
        }
        return nil
    }

    static func path(_ path: String, isInside directory: String) -> Bool {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return path == base || path.hasPrefix(base + "/")
    }

    /// `path` inside `directory` moved to the same place under `stored`.
    static func map(_ path: String, from directory: String, to stored: String) -> String {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard Self.path(path, isInside: base) else { return path }
        return stored + path.dropFirst(base.count)
    }

    func identity(_ path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(path: path, device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }

    func remember(_ path: String, digest: String) {
        guard let id = identity(path) else { return }
        digests.withLock { $0[id] = digest }
    }

    /// The file's digest now (cached while its identity, size and mtime stay the same).
    func currentDigest(_ path: String) -> String? {
        guard let id = identity(path) else { return nil }
        if let known = digests.withLock({ $0[id] }) { return known }
        guard let digest = try? ArtifactStore.digest(file: path).digest else { return nil }
        digests.withLock { $0[id] = digest }
        return digest
    }

    // MARK: lifecycle

    public func start(_ launch: InstanceLaunch, replacing: InstanceRecord?) async throws(DriverError) -> StartedInstance {
        let release = launch.release
        var arguments = launch.arguments
        var environment = launch.environment
        var workingDirectory = launch.workingDirectory
        var note = ""
        let directory = release.artifacts.first { $0.kind == .directory }
        if let stored = (directory ?? release.artifacts.first { $0.kind == .file }).map({ artifacts.path(of: $0.digest) }) {
            arguments = arguments.map { $0.replacingOccurrences(of: "{{artifact}}", with: stored) }
            environment["SLIPWAY_ARTIFACT"] = stored
        }
        let executable: String
        if let directory {
            let stored = artifacts.path(of: directory.digest)
            workingDirectory = workingDirectory.map { Self.map($0, from: directory.source, to: stored) }
            let original = try program(of: release.spec)
            executable = Self.path(original, isInside: directory.source) ? Self.map(original, from: directory.source, to: stored) : original
        } else if let recorded = release.artifacts.first(where: { $0.kind == .executable }) {
            if currentDigest(recorded.source) == recorded.digest {
                executable = recorded.source
            } else {
                executable = artifacts.path(of: recorded.digest)
                note = ", \(recorded.shortDigest) from the artifact store: \(recorded.source) changed since the release was made"
            }
        } else {
            // A release recorded before artifacts were: it runs what `run` names now.
            executable = try program(of: release.spec)
        }
        do {
            let started = try LocalProcess.spawn(executable: executable, arguments: arguments, environment: environment,
                                                 workingDirectory: workingDirectory, logPath: launch.logPath)
            return StartedInstance(pid: started.pid, pidStartTime: started.startTime, host: "127.0.0.1", port: launch.port,
                                   summary: "pid \(started.pid)\(note)")
        } catch {
            throw DriverError(.failed, error.description)
        }
    }

    public func observe(_ instances: [InstanceRecord]) async throws(DriverError) -> [String: InstanceObservation] {
        var result: [String: InstanceObservation] = [:]
        for instance in instances {
            guard instance.pid > 0 else {
                result[instance.id] = .exited("never started")
                continue
            }
            switch LocalProcess.status(pid: instance.pid, startTime: instance.pidStartTime) {
            case .running: result[instance.id] = .running
            case .exited(let how): result[instance.id] = .exited(how)
            }
        }
        return result
    }

    public func stop(_ instance: InstanceRecord, grace: Duration) async {
        guard instance.pid > 0 else { return }
        await LocalProcess.stop(pid: instance.pid, startTime: instance.pidStartTime, grace: grace)
    }

    public func removeOrphans(live: Set<String>) async throws(DriverError) -> [String] {
        // Processes are found by their records (pid and start time); none is started untracked.
        []
    }

    public func logs(_ instance: InstanceRecord, tail: Int, follow: Bool) -> AsyncThrowingStream<String, any Error> {
        LogFiles.lines(path: instance.logPath, tail: tail, follow: follow)
    }
}
