import Foundation
import SlipwayCore
import SlipwayTargets
import SlipwayTesting
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The container driver against the real Docker Engine from Debian (started by
/// scripts/test-engines.sh): pinning, start, crash and OOM detection, restart in place,
/// stop and removal, orphans, logs, and the errors a user sees.
@Suite(.serialized) struct ContainerDriverTests {
    let engine: TestEngine
    let driver: ContainerDriver
    let dir: TemporaryDirectory

    init() throws {
        engine = try TestEngine.docker()
        driver = ContainerDriver(engine: engine.client, owner: "t" + UUID().uuidString.prefix(8).lowercased())
        dir = try TemporaryDirectory(prefix: "container-driver")
    }

    func release(_ version: String, image: String, _ configure: (inout ContainerSpec) -> Void = { _ in }) -> ReleaseRecord {
        var container = ContainerSpec(image: image, pull: .never)
        configure(&container)
        var spec = ServiceSpec(name: "web", run: [])
        spec.container = container
        return ReleaseRecord(service: "web", version: version, configVersion: 1, spec: spec, extraEnv: [:], createdAt: 0)
    }

    func launch(_ release: ReleaseRecord, port: Int, secrets: [String: String] = [:]) -> InstanceLaunch {
        InstanceLaunch.make(release: release, instanceID: "web-\(release.version)-\(UUID().uuidString.prefix(6).lowercased())", port: port,
                            logPath: dir.file("logs/\(release.version).log"), inherited: ["PATH": "/usr/bin:/bin", "HOME": "/root"], secrets: secrets)
    }

    func record(_ launch: InstanceLaunch, _ started: StartedInstance) -> InstanceRecord {
        var record = InstanceRecord(id: launch.instanceID, service: "web", version: launch.version, port: started.port, pid: 0, pidStartTime: 0,
                                    state: .running, startedAt: 0, logPath: launch.logPath)
        record.target = .container
        record.containerID = started.containerID
        record.host = started.host
        return record
    }

    func cleanUp() async {
        for container in (try? await engine.slipwayContainers(owner: driver.owner)) ?? [] { await engine.remove(container: container.Id) }
        dir.remove()
    }

    @Test func pinsTheImageStartsOnLoopbackAndStopsAndRemoves() async throws {
        let id = try await engine.helloImage("slipway-test/driver:v1", build: "pin")
        do {
            var prepared = release("v1", image: "slipway-test/driver:{{version}}")
            let box = Mutex<[String]>([])
            prepared.artifacts = try await driver.prepare(prepared, secrets: [:]) { line in box.withLock { $0.append(line) } }
            let progress = box.withLock { $0 }
            #expect(prepared.artifacts == [ReleaseArtifact(kind: .image, source: "slipway-test/driver:v1", digest: id, repoDigest: nil, bytes: prepared.artifacts.first?.bytes)])
            #expect(progress.contains { $0.hasPrefix("pinned image slipway-test/driver:v1 sha256:") }, "\(progress)")
            #expect(await driver.unavailable(prepared) == nil)

            let port = freeLoopbackPort()
            let launch = launch(prepared, port: port, secrets: ["API_TOKEN": "s3cr3t-value"])
            let started = try await driver.start(launch, replacing: nil)
            let containerID = try #require(started.containerID)
            #expect(started.host == "127.0.0.1" && started.port == port)
            _ = try await eventually("the container to answer on 127.0.0.1:\(port)") {
                (try? await TestHTTP.get("http://127.0.0.1:\(port)/"))?.header("X-Build") == "pin" ? true : nil
            }
            let inspect = try await engine.inspect(container: containerID)
            let config = try #require(inspect["Config"] as? [String: Any])
            let labels = try #require(config["Labels"] as? [String: String])
            #expect(labels["slipway.owner"] == driver.owner && labels["slipway.instance"] == launch.instanceID && labels["slipway.version"] == "v1")
            #expect(labels["slipway.image"] == "slipway-test/driver:v1")
            #expect(!"\(labels)".contains("s3cr3t-value"), "no secret in labels")
            #expect(!"\(config["Cmd"] ?? "")\(config["Entrypoint"] ?? "")".contains("s3cr3t-value"), "no secret on the command line")
            #expect((config["Env"] as? [String] ?? []).contains("API_TOKEN=s3cr3t-value"), "secrets reach the app as environment variables")
            #expect(!(config["Env"] as? [String] ?? []).contains { $0.hasPrefix("HOME=") }, "the control plane's environment stays out")
            #expect(config["Image"] as? String == id, "created from the pinned id, not the tag")
            let host = try #require(inspect["HostConfig"] as? [String: Any])
            #expect(host["Init"] as? Bool == true)
            let bindings = try #require(host["PortBindings"] as? [String: [[String: String]]])
            #expect(bindings["\(port)/tcp"]?.first?["HostIp"] == "127.0.0.1", "published on loopback only")

            let instance = record(launch, started)
            #expect(try await driver.observe([instance]) == [instance.id: .running])
            _ = try await TestHTTP.get("http://127.0.0.1:\(port)/")

            await driver.stop(instance, grace: .seconds(5))
            #expect(try await engine.slipwayContainers(owner: driver.owner).isEmpty, "a stopped container is removed")
            #expect(LogFiles.tail(path: launch.logPath, lines: 50).contains { $0.contains("hello-app v1 listening") }, "its output is kept in the instance's log file")
            if case .exited(let how) = try await driver.observe([instance])[instance.id] {
                #expect(how.contains("gone"))
            } else {
                Issue.record("a removed container is not running")
            }
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    @Test func crashesAreSeenWithTheirExitAndTheOOMKillerAndRestartInPlace() async throws {
        try await engine.helloImage("slipway-test/driver:crash", build: "crash")
        do {
            var crashing = release("crash", image: "slipway-test/driver:{{version}}")
            crashing.artifacts = try await driver.prepare(crashing, secrets: [:]) { _ in }
            let port = freeLoopbackPort()
            let launch = launch(crashing, port: port)
            let started = try await driver.start(launch, replacing: nil)
            let instance = record(launch, started)
            _ = try await eventually("the container to answer") { (try? await TestHTTP.get("http://127.0.0.1:\(port)/health"))?.status == 200 ? true : nil }
            try await engine.kill(container: try #require(started.containerID))
            let seen = try await eventually("the kill to be seen") { () -> String? in
                if case .exited(let how) = try await driver.observe([instance])[instance.id] { return how }
                return nil
            }
            #expect(seen.hasPrefix("killed by signal 9 (exit status 137)"), "\(seen)")
            #expect(!seen.contains("OOM"))
            let again = try await driver.start(launch, replacing: instance)
            #expect(again.containerID == started.containerID, "restarted in place: the same container keeps its output")
            #expect(try await driver.observe([instance]) == [instance.id: .running])

            // Over its memory limit: the kernel's OOM killer, named in the exit.
            var hungry = release("oom", image: "slipway-test/driver:crash") {
                $0.command = ["/bin/sh", "-c", "tail /dev/zero"]
                $0.memory = 16 << 20
            }
            hungry.artifacts = try await driver.prepare(hungry, secrets: [:]) { _ in }
            let oomLaunch = self.launch(hungry, port: freeLoopbackPort())
            let oom = record(oomLaunch, try await driver.start(oomLaunch, replacing: nil))
            let oomSeen = try await eventually("the OOM kill to be seen") { () -> String? in
                if case .exited(let how) = try await driver.observe([oom])[oom.id] { return how }
                return nil
            }
            #expect(oomSeen == "killed by signal 9 (exit status 137), killed by the kernel's OOM killer (memory limit 16 MiB)", "\(oomSeen)")
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    @Test func orphansOfThisOwnerAreRemovedAndNothingElse() async throws {
        let id = try await engine.helloImage("slipway-test/driver:orphan", build: "orphan")
        let foreign = try await engine.runForeign(image: id, name: "not-slipways-\(UUID().uuidString.prefix(6).lowercased())")
        let otherOwner = ContainerDriver(engine: engine.client, owner: "other" + UUID().uuidString.prefix(4).lowercased())
        do {
            var prepared = release("orphan", image: "slipway-test/driver:orphan")
            prepared.artifacts = try await driver.prepare(prepared, secrets: [:]) { _ in }
            let kept = launch(prepared, port: freeLoopbackPort())
            let orphan = launch(prepared, port: freeLoopbackPort())
            let keptStarted = try await driver.start(kept, replacing: nil)
            _ = try await driver.start(orphan, replacing: nil)
            let theirs = launch(prepared, port: freeLoopbackPort())
            _ = try await otherOwner.start(theirs, replacing: nil)

            let removed = try await driver.removeOrphans(live: [kept.instanceID])
            #expect(removed.count == 1 && removed[0].contains("instance \(orphan.instanceID) of web orphan") && removed[0].hasSuffix("had no instance record; it was removed"), "\(removed)")
            let left = try await engine.slipwayContainers(owner: driver.owner).map(\.Id)
            #expect(left == [try #require(keptStarted.containerID)])
            #expect(try await engine.slipwayContainers(owner: otherOwner.owner).count == 1, "another state directory's containers are not touched")
            #expect((try await engine.inspect(container: foreign)["State"] as? [String: Any])?["Running"] as? Bool == true, "another tool's container is not touched")
        } catch {
            await engine.remove(container: foreign)
            for c in (try? await engine.slipwayContainers(owner: otherOwner.owner)) ?? [] { await engine.remove(container: c.Id) }
            await cleanUp()
            throw error
        }
        await engine.remove(container: foreign)
        for c in (try? await engine.slipwayContainers(owner: otherOwner.owner)) ?? [] { await engine.remove(container: c.Id) }
        await cleanUp()
    }

    @Test func logsTailAndFollowThroughTheEngine() async throws {
        try await engine.helloImage("slipway-test/driver:logs", build: "logs")
        do {
            var prepared = release("logs", image: "slipway-test/driver:logs")
            prepared.artifacts = try await driver.prepare(prepared, secrets: [:]) { _ in }
            prepared.extraEnv = ["ACCESS_LOG": "1"]
            let port = freeLoopbackPort()
            let launch = launch(prepared, port: port)
            let instance = record(launch, try await driver.start(launch, replacing: nil))
            _ = try await eventually("the container to answer") { (try? await TestHTTP.get("http://127.0.0.1:\(port)/health"))?.status == 200 ? true : nil }
            // The engine copies a container's output into its log asynchronously: the app
            // answering does not mean its first line is in the log yet (seen on a busy CI
            // machine: an empty tail right after the first 200). Read the tail until it is.
            var tail: [String] = []
            let found = try? await eventually("the container's first line in its log") { () -> Bool? in
                var lines: [String] = []
                for try await line in driver.logs(instance, tail: 10, follow: false) { lines.append(line) }
                tail = lines
                return lines.contains { $0.contains("hello-app logs listening") } ? true : nil
            }
            #expect(found == true, "the tail of 10 lines never held the start line: \(tail)")

            let followed = Mutex<[String]>([])
            let reader = Task {
                for try await line in driver.logs(instance, tail: 0, follow: true) { followed.withLock { $0.append(line) } }
            }
            _ = try await eventually("a request's access-log line to be followed") { () -> Bool? in
                _ = try? await TestHTTP.get("http://127.0.0.1:\(port)/followed-path")
                return followed.withLock { $0.contains { $0.contains("/followed-path") } } ? true : nil
            }
            reader.cancel()
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    @Test func errorsNameWhatIsWrong() async throws {
        // Nothing listens on the socket.
        let nowhere = ContainerDriver(engine: EngineClient(endpoint: EngineEndpoint(socketPath: dir.file("none.sock"), source: "--docker-host")), owner: "x")
        do {
            _ = try await nowhere.ping()
            Issue.record("an engine answered on a socket that does not exist")
        } catch {
            #expect(error.code == .unreachable)
            #expect(error.message.hasPrefix("cannot reach the container engine at unix://\(dir.file("none.sock")) (--docker-host): no socket at that path"), "\(error.message)")
        }
        // Not on the engine, and pulling is not allowed.
        let missing = release("v404", image: "slipway-test/never-built:{{version}}")
        do {
            _ = try await driver.prepare(missing, secrets: [:]) { _ in }
            Issue.record("a missing image was pinned")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message.hasPrefix("image slipway-test/never-built:v404 is not on the engine at unix://"), "\(error.message)")
            #expect(error.message.hasSuffix("and `pull: never` forbids pulling it"))
        }
        // A pinned image that is gone and has no registry digest: refused, never re-resolved.
        let id = try await engine.helloImage("slipway-test/driver:gone", build: "gone")
        var gone = release("gone", image: "slipway-test/driver:gone")
        gone.artifacts = try await driver.prepare(gone, secrets: [:]) { _ in }
        try await engine.removeImage("slipway-test/driver:gone", force: true)
        try await engine.removeImage(id, force: true)
        let why = await driver.unavailable(gone)
        #expect(why?.contains("which is no longer on the engine, and it has no registry digest to pull it by") == true, "\(why ?? "nil")")
        // A port the engine cannot publish (someone else holds it on 127.0.0.1).
        try await engine.helloImage("slipway-test/driver:port", build: "port")
        var busy = release("port", image: "slipway-test/driver:port")
        busy.artifacts = try await driver.prepare(busy, secrets: [:]) { _ in }
        let holder = try ListeningSocket(port: 0)
        defer { holder.close() }
        do {
            _ = try await driver.start(launch(busy, port: holder.port), replacing: nil)
            Issue.record("a container published a port another process holds")
        } catch {
            #expect(error.code == .invalid)
            #expect(error.message.hasPrefix("the engine cannot publish port \(holder.port) on 127.0.0.1"), "\(error.message)")
        }
        #expect(try await engine.slipwayContainers(owner: driver.owner).isEmpty, "the container that could not start was removed")
        await cleanUp()
    }
}

/// A TCP socket listening on 127.0.0.1 (holds a port for a test).
struct ListeningSocket {
    let fd: Int32
    let port: Int

    init(port: Int) throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(socketFD, 8) == 0 else { throw PollStop("cannot listen on 127.0.0.1:\(port)") }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) } }
        fd = socketFD
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
