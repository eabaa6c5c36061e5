import Foundation
import NIOCore
import SlipwayCore
import SlipwayTargets
import Synchronization

/// A container engine the tests run against, started by `scripts/test-engines.sh` (which
/// `scripts/test.sh` runs): Debian's Docker Engine or Podman's Docker-compatible service,
/// each on its own unix socket. Images are built here from the `hello-app` binary (no
/// registry is reachable; nothing is pulled from the internet).
public struct TestEngine: Sendable {
    public enum Kind: String, Sendable { case docker, podman }

    public let kind: Kind
    /// `unix:///…/docker.sock`, as `--docker-host` takes it.
    public let host: String
    public let client: EngineClient

    /// The engine `scripts/test-engines.sh start` started; a clear error when it did not.
    public static func make(_ kind: Kind) throws -> TestEngine {
        let variable = kind == .docker ? "SLIPWAY_TEST_DOCKER_HOST" : "SLIPWAY_TEST_PODMAN_HOST"
        guard let host = ProcessInfo.processInfo.environment[variable], !host.isEmpty else {
            throw PollStop("\(variable) is not set: the container tests need the engines of scripts/test-engines.sh; run scripts/test.sh, or `eval \"$(scripts/test-engines.sh start)\"` before `swift test`")
        }
        return TestEngine(kind: kind, host: host, client: EngineClient(endpoint: try EngineEndpoint.parse(host, source: variable)))
    }

    public static func docker() throws -> TestEngine { try make(.docker) }
    public static func podman() throws -> TestEngine { try make(.podman) }

    /// The registry `scripts/test-engines.sh` started (HOST:PORT, user, password).
    public static func registry() throws -> (address: String, user: String, password: String) {
        let env = ProcessInfo.processInfo.environment
        guard let address = env["SLIPWAY_TEST_REGISTRY"], let user = env["SLIPWAY_TEST_REGISTRY_USER"], let password = env["SLIPWAY_TEST_REGISTRY_PASSWORD"] else {
            throw PollStop("SLIPWAY_TEST_REGISTRY is not set: run scripts/test.sh, or `eval \"$(scripts/test-engines.sh start)\"` before `swift test`")
        }
        return (address, user, password)
    }

    func check(_ answer: EngineClient.Answer, _ what: String) throws -> EngineClient.Answer {
        guard answer.ok else { throw PollStop("\(kind.rawValue): \(what) failed: HTTP \(answer.status) \(answer.message)") }
        return answer
    }

    // MARK: images

    /// Imports the hello-app image as `reference` (`slipway-test/hello:v1`): the binary and
    /// the shared libraries it needs in an otherwise empty filesystem, listening on
    /// 0.0.0.0:$PORT, answering `X-Build: build`. Returns the image id.
    @discardableResult
    public func helloImage(_ reference: String, build: String = "a") async throws -> String {
        let rootfs = try await HelloRootfs.tarball()
        // No ld.so.cache in the image: the loader is told where the libraries are.
        let changes = ["ENV HOST=0.0.0.0", "ENV HELLO_BUILD=\(build)", "ENV LD_LIBRARY_PATH=\(try await HelloRootfs.libraryPath())", #"CMD ["/hello-app"]"#]
        let answer = try await client.request(.POST, "/images/create", query: [("fromSrc", "-"), ("repo", reference)] + changes.map { ("changes", $0) },
                                              body: ByteBuffer(bytes: rootfs), headers: [("content-type", "application/x-tar")], timeout: .seconds(300))
        _ = try check(answer, "importing \(reference)")
        return try await imageID(reference)
    }

    /// The image's id (`sha256:…`).
    public func imageID(_ reference: String) async throws -> String {
        let answer = try check(try await client.request(.GET, "/images/\(EngineClient.path(reference))/json"), "inspecting image \(reference)")
        return try answer.decode(EngineModels.ImageInspect.self).Id
    }

    /// Points `reference` at `image` (an id or another reference), as a moved tag would.
    public func tag(_ image: String, as reference: String) async throws {
        let (repository, tag) = ImageReference.split(reference)
        _ = try check(try await client.request(.POST, "/images/\(EngineClient.path(image))/tag", query: [("repo", repository), ("tag", tag)]), "tagging \(image) as \(reference)")
    }

    /// Removes a tag or an image (with `force`, even when containers use it).
    public func removeImage(_ reference: String, force: Bool = false) async throws {
        let answer = try await client.request(.DELETE, "/images/\(EngineClient.path(reference))", query: force ? [("force", "1")] : [])
        guard answer.ok || answer.status == 404 else { throw PollStop("removing image \(reference) failed: \(answer.message)") }
    }

    /// Pushes `reference` to its registry with the given login.
    public func push(_ reference: String, user: String, password: String) async throws {
        let (repository, tag) = ImageReference.split(reference)
        let auth = try JSONSerialization.data(withJSONObject: ["username": user, "password": password, "serveraddress": ImageReference.registry(of: reference)])
            .base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let answer = try check(try await client.request(.POST, "/images/\(EngineClient.path(repository))/push", query: [("tag", tag)],
                                                        headers: [("X-Registry-Auth", auth)], timeout: .seconds(300)), "pushing \(reference)")
        if answer.text.contains("\"error\"") { throw PollStop("pushing \(reference) failed: \(answer.text.suffix(300))") }
    }

    // MARK: containers

    /// Containers Slipway labelled (any state), optionally of one owner (a state directory).
    public func slipwayContainers(owner: String? = nil) async throws -> [EngineModels.ContainerSummary] {
        let label = owner.map { "slipway.owner=\($0)" } ?? "slipway.owner"
        let answer = try check(try await client.request(.GET, "/containers/json", query: [("all", "1"), ("filters", #"{"label":["\#(label)"]}"#)]), "listing containers")
        return try answer.decode([EngineModels.ContainerSummary].self)
    }

    /// A container's `docker inspect` document.
    public func inspect(container id: String) async throws -> [String: Any] {
        let answer = try check(try await client.request(.GET, "/containers/\(id)/json"), "inspecting container \(id)")
        return (try JSONSerialization.jsonObject(with: Data(answer.text.utf8)) as? [String: Any]) ?? [:]
    }

    /// Kills a container's main process with SIGKILL (a crash from outside).
    public func kill(container id: String) async throws {
        _ = try check(try await client.request(.POST, "/containers/\(id)/kill", query: [("signal", "KILL")]), "killing container \(id)")
    }

    /// Runs a container Slipway did not start (another tool's, or — with Slipway's labels —
    /// one whose record was lost), returning its id.
    public func runForeign(image: String, name: String, labels: [String: String] = ["app": "someone-else"]) async throws -> String {
        struct Create: Encodable {
            struct Host: Encodable { var Init = true }
            var Image: String
            var Cmd = ["/hello-app"]
            var Env = ["PORT=1", "HOST=127.0.0.1"]
            var Labels: [String: String]
            var HostConfig = Host()
        }
        let created = try check(try await client.request(.POST, "/containers/create", query: [("name", name)], json: Create(Image: image, Labels: labels)), "creating \(name)")
        let id = try created.decode(CreatedID.self).Id
        _ = try check(try await client.request(.POST, "/containers/\(id)/start"), "starting \(name)")
        return id
    }

    struct CreatedID: Decodable { var Id: String }

    /// Removes a container whatever its state.
    public func remove(container id: String) async {
        _ = try? await client.request(.DELETE, "/containers/\(id)", query: [("force", "1"), ("v", "1")])
    }
}

/// The hello-app filesystem as a tar: the binary at /hello-app plus every shared library
/// `ldd` names (and the loader) at its own path, and a static busybox as /bin/sh. Made once
/// per test process.
enum HelloRootfs {
    static let made = Mutex<[UInt8]?>(nil)
    static let directories = Mutex<[String]>([])

    /// The folders the libraries went to, for LD_LIBRARY_PATH.
    static func libraryPath() async throws -> String {
        _ = try await tarball()
        return directories.withLock { $0.joined(separator: ":") }
    }

    static func tarball() async throws -> [UInt8] {
        if let bytes = made.withLock({ $0 }) { return bytes }
        let binary = try BuiltProducts.path("hello-app")
        let dir = try TemporaryDirectory(prefix: "hello-rootfs")
        defer { dir.remove() }
        let root = dir.file("root")
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
        try fm.copyItem(atPath: binary, toPath: root + "/hello-app")
        // A static busybox too (Debian's busybox-static, which scripts/test-engines.sh
        // installs), for tests that need a shell in the container.
        try fm.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        guard fm.isExecutableFile(atPath: "/bin/busybox") else {
            throw PollStop("/bin/busybox is missing: install Debian's busybox-static (scripts/test-engines.sh does)")
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
        try fm.createSymbolicLink(atPath: root + "/bin/sh", withDestinationPath: "busybox")
        let ldd = try await runCommand("/usr/bin/ldd", [binary])
        guard ldd.status == 0 else { throw PollStop("ldd \(binary) failed: \(ldd.stderr)") }
        for line in ldd.stdout.split(separator: "\n") {
            // "libx.so => /path/libx.so (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let path = words.first(where: { $0.hasPrefix("/") }) else { continue }
            let target = root + path
            let folder = PathText.folder(of: path)
            directories.withLock { if !$0.contains(folder) { $0.append(folder) } }
            try fm.createDirectory(atPath: PathText.folder(of: target), withIntermediateDirectories: true)
            if !fm.fileExists(atPath: target) {
                // The file's bytes (a symbolic link's target), never the link.
                try Data(contentsOf: URL(fileURLWithPath: path)).write(to: URL(fileURLWithPath: target))
                chmod(target, 0o755)
            }
        }
        let tar = dir.file("rootfs.tar")
        let made = try await runCommand("/bin/tar", ["-C", root, "-cf", tar, "."])
        guard made.status == 0 else { throw PollStop("tar failed: \(made.stderr)") }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tar)))
        Self.made.withLock { $0 = bytes }
        return bytes
    }
}
