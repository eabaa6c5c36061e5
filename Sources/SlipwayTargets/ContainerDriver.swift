import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import SlipwayCore

/// Instances as containers on a Docker-compatible engine (Docker Engine, Podman's
/// service), through the Engine API over its unix socket — never the `docker` CLI.
///
/// - A release pins its image by id (the digest of its configuration) and, when the engine
///   knows one, its registry digest; every container of the release is created from that
///   id, so a moved tag never changes what a release runs.
/// - Every container carries `slipway.*` labels (owner = the state directory's identity,
///   unit, service, environment, version, instance), so a restarted control plane finds
///   exactly its own containers and never touches another tool's.
/// - The app listens on `$PORT`; with the bridge network the port is published on
///   127.0.0.1 only, with `network: host` the app binds it on the host.
/// - Containers run with an init (`HostConfig.Init`) so SIGTERM reaches the app and its
///   children are reaped; stop is SIGTERM, SIGKILL after the grace period, then removal
///   (the last lines of output are kept in the instance's log file first).
public final class ContainerDriver: InstanceDriver {
    public let kind = TargetKind.container
    public let engine: EngineClient
    /// The state directory's identity (`slipway.owner` label).
    public let owner: String

    public static let ownerLabel = "slipway.owner"
    public static let instanceLabel = "slipway.instance"
    /// Lines of a container's output kept in its log file when it is removed.
    static let savedLogLines = 1000

    public init(engine: EngineClient, owner: String) {
        self.engine = engine
        self.owner = owner
    }

    /// The engine's name and version, or why it cannot be reached.
    public func ping() async throws(DriverError) -> String {
        try await engine.version()
    }

    /// The container's name: `slipway-OWNER-INSTANCE` with characters the engine refuses replaced.
    public func containerName(_ instanceID: String) -> String {
        let safe = instanceID.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") ? $0 : "_" }
        return "slipway-\(owner)-" + String(safe)
    }

    var ownerFilter: String { #"{"label":["\#(Self.ownerLabel)=\#(owner)"]}"# }

    // MARK: images

    func inspectImage(_ reference: String) async throws(DriverError) -> EngineModels.ImageInspect? {
        let answer = try await engine.request(.GET, "/images/\(EngineClient.path(reference))/json")
        if answer.status == 404 { return nil }
        guard answer.ok else { throw DriverError(.failed, "the engine could not inspect image \(reference): \(answer.message)") }
        return try answer.decode(EngineModels.ImageInspect.self)
    }

    public func login(_ spec: ContainerSpec, reference: String, values: [String: String]) throws(DriverError) -> ImagePull.Login? {
        guard let registry = spec.registry else { return nil }
        func expand(_ text: String, _ key: String) throws(DriverError) -> String {
            switch SecretReference.expand(text, lookup: { values[$0] }) {
            case .success(let value): return value
            case .failure(let error): throw DriverError(.invalid, "registry.\(key): \(error.message)")
            }
        }
        var server = registry.server ?? ImageReference.registry(of: reference)
        if server == "docker.io" { server = "https://index.docker.io/v1/" }
        return ImagePull.Login(username: try expand(registry.username, "username"), password: try expand(registry.password, "password"), server: server)
    }

    public func prepare(_ release: ReleaseRecord, secrets: [String: String], progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) -> [ReleaseArtifact] {
        guard let spec = release.spec.container, let reference = release.imageReference else {
            throw DriverError(.invalid, "\(release.service) has no `image:`; it is not a container service")
        }
        let puller = ImagePull(engine: engine)
        if let pinned = release.artifacts.first(where: { $0.kind == .image }) {
            if try await inspectImage(pinned.digest) != nil { return release.artifacts }
            let gone = "release \(release.version) of \(release.service) runs image \(pinned.source) as \(pinned.shortDigest), which is no longer on the engine"
            guard let byDigest = pinned.repoDigest else {
                throw DriverError(.artifactGone, "\(gone), and it has no registry digest to pull it by (it was built or imported on this engine); it is refused rather than run another image under its label: deploy a new version")
            }
            guard spec.pull != .never else {
                throw DriverError(.artifactGone, "\(gone), and `pull: never` forbids pulling \(byDigest)")
            }
            await progress("pulling \(byDigest) (the image release \(release.version) pinned)")
            do {
                try await pullImage(byDigest, id: pinned.digest, login: try login(spec, reference: byDigest, values: secrets), progress: progress)
            } catch where error.code == .artifactGone {
                throw DriverError(.artifactGone, "\(gone); pulling \(byDigest) did not bring image \(pinned.shortDigest) back")
            }
            return release.artifacts
        }
        var image = spec.pull == .always ? nil : try await inspectImage(reference)
        if image == nil {
            guard spec.pull != .never else {
                throw DriverError(.notFound, "image \(reference) is not on the engine at \(engine.endpoint), and `pull: never` forbids pulling it")
            }
            await progress("pulling \(reference)")
            try await puller.pull(reference, login: try login(spec, reference: reference, values: secrets), progress: progress)
            image = try await inspectImage(reference)
        }
        guard let image else {
            throw DriverError(.notFound, "image \(reference) is still not on the engine after the pull")
        }
        let repository = ImageReference.repository(of: reference)
        let repoDigest = image.RepoDigests?.first { ImageReference.repository(of: $0) == repository } ?? image.RepoDigests?.first
        let artifact = ReleaseArtifact(kind: .image, source: reference, digest: image.Id, repoDigest: repoDigest, bytes: image.Size)
        await progress("pinned \(artifact.summary)")
        return [artifact]
    }

    public func unavailable(_ release: ReleaseRecord) async -> String? {
        guard let pinned = release.artifacts.first(where: { $0.kind == .image }) else { return nil }
        do {
            if try await inspectImage(pinned.digest) != nil { return nil }
        } catch {
            return error.message
        }
        let gone = "release \(release.version) runs image \(pinned.source) as \(pinned.shortDigest), which is no longer on the engine"
        guard let byDigest = pinned.repoDigest else {
            return "\(gone), and it has no registry digest to pull it by (it was built or imported on this engine); it is refused rather than run another image under its label"
        }
        if release.spec.container?.pull == .never { return "\(gone), and `pull: never` forbids pulling \(byDigest)" }
        return nil
    }

    /// Whether the engine holds the image with this id (`sha256:…`).
    public func hasImage(_ id: String) async throws(DriverError) -> Bool {
        try await inspectImage(id) != nil
    }

    /// Writes the image with this id as a `docker save` archive to `path` (streamed; written
    /// to `path.part` and renamed once whole), for another engine to load.
    public func exportImage(_ id: String, to path: String) async throws(DriverError) {
        let part = path + ".part-\(UUID().uuidString.prefix(8))"
        let directory = PathText.folder(of: path)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let response = try await engine.send(.GET, "/images/\(EngineClient.path(id))/get", timeout: .seconds(1800))
        guard (200..<300).contains(Int(response.status.code)) else {
            let body = (try? await response.body.collect(upTo: 1 << 16)) ?? ByteBuffer()
            throw DriverError(response.status.code == 404 ? .artifactGone : .failed,
                              "the engine at \(engine.endpoint) could not export image \(id.prefix(19)): \(EngineClient.Answer(status: Int(response.status.code), body: body).message)")
        }
        guard FileManager.default.createFile(atPath: part, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: part) else {
            throw DriverError(.failed, "cannot write \(part) to export image \(id.prefix(19))")
        }
        do {
            defer { try? handle.close() }
            for try await chunk in response.body {
                try handle.write(contentsOf: Data(buffer: chunk))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: part)
            throw DriverError(.failed, "exporting image \(id.prefix(19)) to \(path) failed: \(error)")
        }
        do {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: part, toPath: path)
        } catch {
            throw DriverError(.failed, "cannot move the exported image to \(path): \(error)")
        }
    }

    /// Loads a `docker save` archive (streamed from `path`) and checks that the engine then
    /// holds the image `id`: the id is the digest of the image's configuration, and the
    /// engine checks every layer against it, so bytes damaged on the way never load as it.
    public func loadImage(_ id: String, from path: String) async throws(DriverError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DriverError(.notFound, "no image archive at \(path)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        let chunks = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
            let task = Task {
                defer { try? handle.close() }
                do {
                    while !Task.isCancelled, let data = try handle.read(upToCount: 1 << 20), !data.isEmpty {
                        continuation.yield(ByteBuffer(bytes: data))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        let body = HTTPClientRequest.Body.stream(chunks, length: size.map { .known(Int64($0)) } ?? .unknown)
        let response = try await engine.send(.POST, "/images/load", query: [("quiet", "1")], streaming: body,
                                             headers: [("content-type", "application/x-tar")], timeout: .seconds(1800))
        let answer: EngineClient.Answer
        do {
            answer = EngineClient.Answer(status: Int(response.status.code), body: try await response.body.collect(upTo: EngineClient.bodyLimit))
        } catch {
            throw DriverError(.failed, "reading the engine's answer to loading \(path) failed: \(error)")
        }
        guard answer.ok, !answer.text.contains(#""error""#) && !answer.text.contains(#""errorDetail""#) else {
            throw DriverError(.failed, "the engine at \(engine.endpoint) refused to load image \(id.prefix(19)) from \(path): \(answer.message)")
        }
        guard try await hasImage(id) else {
            throw DriverError(.failed, "the engine at \(engine.endpoint) loaded \(path) but holds no image \(id.prefix(19)) after it (the archive is another image, or damaged)")
        }
    }

    /// Pulls `reference` (a registry digest) and checks that the engine then holds `id`.
    public func pullImage(_ reference: String, id: String, login: ImagePull.Login?, progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) {
        try await ImagePull(engine: engine).pull(reference, login: login, progress: progress)
        guard try await hasImage(id) else {
            throw DriverError(.artifactGone, "pulling \(reference) did not bring image \(id.prefix(19)) to the engine at \(engine.endpoint)")
        }
    }

    // MARK: lifecycle

    func createBody(_ launch: InstanceLaunch, image: String) -> EngineModels.CreateContainer {
        let spec = launch.release.spec.container ?? ContainerSpec(image: image)
        let names = UnitName.split(launch.service)
        var labels = [
            Self.ownerLabel: owner,
            Self.instanceLabel: launch.instanceID,
            "slipway.unit": launch.service,
            "slipway.service": names.service,
            "slipway.version": launch.version,
        ]
        labels["slipway.environment"] = names.environment
        if let reference = launch.release.imageReference { labels["slipway.image"] = reference }
        let port = "\(launch.port)/tcp"
        let bridge = spec.network == .bridge
        return EngineModels.CreateContainer(
            Image: image,
            Entrypoint: spec.command.map { InstanceLaunch.substitute($0, port: launch.port, version: launch.version) },
            Cmd: spec.args.map { InstanceLaunch.substitute($0, port: launch.port, version: launch.version) },
            Env: launch.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
            Labels: labels,
            User: spec.user,
            ExposedPorts: bridge ? [port: .init()] : nil,
            HostConfig: .init(
                Init: true,
                NetworkMode: spec.network.rawValue,
                PortBindings: bridge ? [port: [.init(HostIp: "127.0.0.1", HostPort: String(launch.port))]] : nil,
                Binds: spec.volumes.isEmpty ? nil : spec.volumes,
                NanoCpus: spec.cpus.map { Int64($0 * 1_000_000_000) },
                Memory: spec.memory,
                ReadonlyRootfs: spec.readOnly,
                RestartPolicy: .init(Name: "no")))
    }

    public func start(_ launch: InstanceLaunch, replacing: InstanceRecord?) async throws(DriverError) -> StartedInstance {
        guard let image = launch.release.artifacts.first(where: { $0.kind == .image }) else {
            throw DriverError(.invalid, "release \(launch.version) of \(launch.service) has no pinned image yet; it must be prepared before its containers start")
        }
        func started(_ id: String, _ how: String) -> StartedInstance {
            StartedInstance(containerID: id, host: "127.0.0.1", port: launch.port, summary: "container \(id.prefix(12)) \(how) from \(image.source) \(image.shortDigest)")
        }
        // A crashed container is started again in place (its output stays with it) when its
        // port stays the same; otherwise it is replaced.
        if let old = replacing?.containerID {
            if replacing?.port == launch.port {
                let answer = try await engine.request(.POST, "/containers/\(old)/start", timeout: .seconds(60))
                if answer.ok || answer.status == 304 { return started(old, "restarted") }
            }
            await remove(old)
        }
        let name = containerName(launch.instanceID)
        let body = createBody(launch, image: image.digest)
        var created = try await engine.request(.POST, "/containers/create", query: [("name", name)], json: body, timeout: .seconds(60))
        if created.status == 409 {
            // Left over from a control plane that died between create and recording it.
            await remove(name)
            created = try await engine.request(.POST, "/containers/create", query: [("name", name)], json: body, timeout: .seconds(60))
        }
        if created.status == 404 {
            throw DriverError(.artifactGone, "image \(image.shortDigest) of release \(launch.version) (\(image.source)) is no longer on the engine: \(created.message)")
        }
        guard created.ok else {
            throw DriverError(.invalid, "the engine refused to create container \(name) from \(image.source): \(created.message)")
        }
        let id = try created.decode(EngineModels.Created.self).Id
        let answer = try await engine.request(.POST, "/containers/\(id)/start", timeout: .seconds(60))
        guard answer.ok || answer.status == 304 else {
            await remove(id)
            let message = answer.message
            let lower = message.lowercased()
            if lower.contains("address already in use") || lower.contains("port is already allocated") || lower.contains("bind") {
                throw DriverError(.invalid, "the engine cannot publish port \(launch.port) on 127.0.0.1 for \(name): \(message)")
            }
            throw DriverError(.failed, "the engine could not start container \(name): \(message)")
        }
        return started(id, "started")
    }

    public func observe(_ instances: [InstanceRecord]) async throws(DriverError) -> [String: InstanceObservation] {
        let answer = try await engine.request(.GET, "/containers/json", query: [("all", "1"), ("filters", ownerFilter)])
        guard answer.ok else { throw DriverError(.failed, "the engine could not list containers: \(answer.message)") }
        let states = Dictionary(try answer.decode([EngineModels.ContainerSummary].self).map { ($0.Id, $0.State ?? "") }, uniquingKeysWith: { a, _ in a })
        var result: [String: InstanceObservation] = [:]
        for instance in instances {
            guard let id = instance.containerID else {
                result[instance.id] = .exited("no container was created")
                continue
            }
            switch states[id] {
            case nil:
                result[instance.id] = .exited("container \(id.prefix(12)) is gone (removed outside Slipway)")
            case "running", "restarting", "paused":
                result[instance.id] = .running
            case "created":
                result[instance.id] = .exited("container \(id.prefix(12)) was created but never started")
            default:
                result[instance.id] = .exited(try await exitDescription(id))
            }
        }
        return result
    }

    /// `exit status 3`, `killed by signal 9 (exit status 137)`, with the OOM killer named when it struck.
    func exitDescription(_ id: String) async throws(DriverError) -> String {
        let answer = try await engine.request(.GET, "/containers/\(id)/json")
        guard answer.ok else { return "container \(id.prefix(12)) exited (the engine could not say how: \(answer.message))" }
        let inspect = try answer.decode(EngineModels.ContainerInspect.self)
        return Self.describeExit(code: inspect.State?.ExitCode ?? -1, oomKilled: inspect.State?.OOMKilled ?? false,
                                 memory: inspect.HostConfig?.Memory, error: inspect.State?.Error)
    }

    static func describeExit(code: Int, oomKilled: Bool, memory: Int64?, error: String?) -> String {
        var text = code > 128 && code < 160 ? "killed by signal \(code - 128) (exit status \(code))" : "exit status \(code)"
        if oomKilled {
            text += ", killed by the kernel's OOM killer" + (memory.flatMap { $0 > 0 ? " (memory limit \(ByteCount.format($0)))" : nil } ?? "")
        }
        if let error, !error.isEmpty { text += ": \(error)" }
        return text
    }

    public func stop(_ instance: InstanceRecord, grace: Duration) async {
        guard let id = instance.containerID else { return }
        let seconds = max(0, Int((grace.milliseconds + 999) / 1000))
        _ = try? await engine.request(.POST, "/containers/\(id)/stop", query: [("t", String(seconds))], timeout: grace + .seconds(30))
        await saveOutput(id, to: instance.logPath)
        await remove(id)
    }

    /// Appends the container's last lines to the instance's log file, which outlives it.
    func saveOutput(_ id: String, to path: String) async {
        var lines: [String] = []
        do {
            for try await line in engineLogs(id, tail: Self.savedLogLines, follow: false) { lines.append(line) }
        } catch {
            return
        }
        guard !lines.isEmpty else { return }
        try? FileManager.default.createDirectory(atPath: PathText.folder(of: path), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(lines.map { $0 + "\n" }.joined().utf8))
    }

    func remove(_ idOrName: String) async {
        _ = try? await engine.request(.DELETE, "/containers/\(idOrName)", query: [("force", "1"), ("v", "1")], timeout: .seconds(60))
    }

    public func removeOrphans(live: Set<String>) async throws(DriverError) -> [String] {
        let answer = try await engine.request(.GET, "/containers/json", query: [("all", "1"), ("filters", ownerFilter)])
        guard answer.ok else { throw DriverError(.failed, "the engine could not list containers: \(answer.message)") }
        var removed: [String] = []
        for container in try answer.decode([EngineModels.ContainerSummary].self) {
            let labels = container.Labels ?? [:]
            guard labels[Self.ownerLabel] == owner else { continue }
            let instance = labels[Self.instanceLabel] ?? "?"
            guard !live.contains(instance) else { continue }
            if container.State == "running" {
                _ = try? await engine.request(.POST, "/containers/\(container.Id)/stop", query: [("t", "10")], timeout: .seconds(40))
            }
            await remove(container.Id)
            let name = container.Names?.first.map { String($0.drop { $0 == "/" }) } ?? String(container.Id.prefix(12))
            removed.append("container \(name) (instance \(instance) of \(labels["slipway.unit"] ?? "?") \(labels["slipway.version"] ?? "?")) had no instance record; it was removed")
        }
        return removed
    }

    // MARK: logs

    public func logs(_ instance: InstanceRecord, tail: Int, follow: Bool) -> AsyncThrowingStream<String, any Error> {
        guard let id = instance.containerID, instance.state != .stopped else {
            return LogFiles.lines(path: instance.logPath, tail: tail, follow: false)
        }
        return engineLogs(id, tail: tail, follow: follow, fallback: instance.logPath)
    }

    func engineLogs(_ id: String, tail: Int, follow: Bool, fallback: String? = nil) -> AsyncThrowingStream<String, any Error> {
        let engine = self.engine
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await engine.send(.GET, "/containers/\(id)/logs", query: [
                        ("stdout", "1"), ("stderr", "1"), ("tail", String(tail)), ("follow", follow ? "1" : "0"),
                    ], timeout: .seconds(30))
                    if response.status.code == 404, let fallback {
                        // Removed meanwhile: what was saved of it.
                        for line in LogFiles.tail(path: fallback, lines: tail) { continuation.yield(line) }
                        continuation.finish()
                        return
                    }
                    guard (200..<300).contains(Int(response.status.code)) else {
                        let body = (try? await response.body.collect(upTo: 1 << 16)) ?? ByteBuffer()
                        throw DriverError(.failed, "the engine refused the logs of container \(id.prefix(12)): \(EngineClient.Answer(status: Int(response.status.code), body: body).message)")
                    }
                    var frames = EngineLogFrames()
                    for try await chunk in response.body {
                        for line in frames.feed(chunk) { continuation.yield(line) }
                    }
                    for line in frames.finish() { continuation.yield(line) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Sizes for people: `64 MiB`, `1.5 GiB`.
public enum ByteCount {
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 || value == value.rounded() { return "\(Int(value)) \(units[unit])" }
        return String(format: "%.1f %@", value, units[unit])
    }
}
