import Foundation
import SlipwayCore
import SlipwayTargets
import SlipwayTesting
import Testing

/// The end-to-end guarantees with containers on the real Docker Engine from Debian: zero
/// failed requests across deploy and warm rollback, cold rollback to the pinned digest
/// after the tag moved, a never-healthy release, crash restart, SIGKILL of the control plane
/// mid-rollout with no orphan left, a canary rolled back by analysis, logs, and the errors.
@Suite(.serialized) struct ContainerTests {
    let world: ContainerWorld

    init() throws {
        world = ContainerWorld(engine: try TestEngine.docker())
    }

    func status(_ h: SlipwayHarness) async throws -> ServiceStatus {
        try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
    }

    @Test func deployAndWarmRollbackWithoutFailedRequests() async throws {
        try await withContainerHello(world) { h, port in
            #expect(try await h.cli(["secrets", "set", "hello", "API_TOKEN"], stdin: "tok-9f3e-secret").status == 0)
            let probe = TrafficProbe(port: port)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for _ in 0..<10 { try await expectServes("two", port: port, h) }

            let s = try await status(h)
            #expect(s.target == .container)
            let v2 = s.instances.filter { $0.version == "v2" }
            #expect(v2.count == 2 && v2.allSatisfy { $0.target == .container && $0.containerID != nil && $0.healthy == true })
            #expect(s.instances.filter { $0.version == "v1" }.count == 2, "v1 stays warm")
            #expect(s.artifacts?["v1"]?.first?.digest == (try await world.engine.imageID(world.reference("v1"))))
            #expect(s.artifacts?["v2"]?.first?.digest == (try await world.engine.imageID(world.reference("v2"))))
            let text = try await h.cli(["status", "hello"])
            #expect(text.stdout.contains("stable:   v2  image \(world.reference("v2")) sha256:"), "\(text.stdout)")
            #expect(text.stdout.contains("CONTAINER"))

            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(rollback.stdout.contains("still warm"))
            for _ in 0..<10 { try await expectServes("one", port: port, h, "the very next requests are on v1") }

            let result = await probe.stop()
            #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))")
            #expect(result.versions["v2", default: 0] > 0 && result.versions["v1", default: 0] > 0)

            // The secret reached the app only as an environment variable.
            let container = try #require(v2.first?.containerID)
            let inspect = try await world.engine.inspect(container: container)
            let config = try #require(inspect["Config"] as? [String: Any])
            #expect((config["Env"] as? [String] ?? []).contains("API_TOKEN=tok-9f3e-secret"))
            #expect(!"\(config["Labels"] ?? "")\(config["Cmd"] ?? "")\(config["Entrypoint"] ?? "")".contains("tok-9f3e-secret"))
            let events = try await h.api("/v1/services/hello/events?limit=500")
            #expect(!events.body.contains("tok-9f3e-secret"))
            #expect(events.body.contains("artifact_pinned"))

            let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
            #expect(history.map(\.kind) == [.rollback, .deploy, .initial])
            #expect(history[0].artifacts?.first?.digest == s.artifacts?["v1"]?.first?.digest)
            #expect(try await h.cli(["history", "hello"]).stdout.contains("sha256:"))
        }
    }

    @Test func coldRollbackRunsThePinnedImageAfterTheTagMoved() async throws {
        try await withContainerHello(world, replicas: 1, keepPrevious: "0s") { h, port in
            try await expectServes("one", port: port, h)
            let pinned = try await world.engine.imageID(world.reference("v1"))
            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--wait"]).status == 0)
            _ = try await eventually("v1's container to be stopped and removed") {
                let s = try await status(h)
                let left = try await world.containers().filter { $0.Labels?["slipway.version"] == "v1" }
                return !s.instances.contains { $0.version == "v1" } && left.isEmpty ? true : nil
            }
            // The tag v1 now names other bytes.
            let moved = try await world.engine.helloImage(world.reference("v1"), build: "moved")
            #expect(moved != pinned)

            let rollback = try await h.cli(["rollback", "hello", "--to", "v1"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(rollback.stdout.contains("starting 1 instance"), "\(rollback.stdout)")
            for _ in 0..<5 { try await expectServes("one", port: port, h, "the digest v1 pinned, not what the tag names now") }
            let container = try #require(try await status(h).instances.first { $0.version == "v1" }?.containerID)
            #expect((try await world.engine.inspect(container: container)["Image"] as? String) == pinned)

            // A release whose image is gone and cannot be pulled back is refused, not re-resolved.
            _ = try await eventually("v2's container to be removed") {
                try await world.containers().contains { $0.Labels?["slipway.version"] == "v2" } ? nil : true
            }
            let v2 = try await world.engine.imageID(world.reference("v2"))
            try await world.engine.removeImage(world.reference("v2"), force: true)
            try await world.engine.removeImage(v2, force: true)
            let refused = try await h.cli(["rollback", "hello", "--to", "v2"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("cannot roll hello back to v2: release v2 runs image \(world.reference("v2")) as sha256:"), "\(refused.stderr)")
            #expect(refused.stderr.contains("no longer on the engine, and it has no registry digest to pull it by"))
            try await expectServes("one", port: port, h)
        }
    }

    @Test func aNeverHealthyReleaseFailsWithItsOutputAndTrafficStays() async throws {
        try await withContainerHello(world, replicas: 1, deployTimeout: "4s") { h, port in
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY=1", "--wait"])
            #expect(deploy.status == 1)
            #expect(deploy.stdout.contains("did not become healthy within 4s"), "\(deploy.stdout)")
            #expect(deploy.stdout.contains("HTTP 503"), "the last health-check error: \(deploy.stdout)")
            #expect(deploy.stdout.contains("hello-app v2 listening"), "the container's output, read through the engine: \(deploy.stdout)")
            try await expectServes("one", port: port, h)
            _ = try await eventually("the failed release's containers to be removed") {
                try await world.containers().contains { $0.Labels?["slipway.version"] == "v2" } ? nil : true
            }
            let logs = try await h.cli(["logs", "hello", "--version", "v2"])
            #expect(logs.stdout.contains("hello-app v2 listening"), "a removed container's output is kept: \(logs.stdout)")
        }
    }

    @Test func aCrashedContainerIsRestartedInPlaceWithItsExitRecorded() async throws {
        try await withContainerHello(world, replicas: 1) { h, port in
            let before = try #require(try await status(h).instances.first)
            let container = try #require(before.containerID)
            try await world.engine.kill(container: container)
            let crash = try await eventually("the crash to be recorded") { () -> String? in
                let events = try await h.api("/v1/services/hello/events?limit=100").body
                return events.contains("instance_crashed") ? events : nil
            }
            #expect(crash.contains("killed by signal 9 (exit status 137)"), "\(crash)")
            let after = try await eventually("the instance to run again", timeout: .seconds(30)) { () -> InstanceRecord? in
                let i = try await status(h).instances.first
                return i?.state == .running && i?.restarts == 1 && i?.healthy == true ? i : nil
            }
            #expect(after.containerID == container, "restarted in place: the same container")
            try await expectServes("one", port: port, h)
        }
    }

    @Test func sigkillOfTheControlPlaneMidRolloutDropsNothingAndLeavesNoOrphan() async throws {
        let gate = try TemporaryDirectory(prefix: "gate")
        defer { gate.remove() }
        _ = try gate.write("v2-unhealthy", "")
        try await withContainerHello(world, replicas: 2, extra: "volumes: [\"\(gate.path):/gate:ro\"]") { h, port in
            let probe = TrafficProbe(port: port)
            // v2 stays unhealthy while the file exists (seen through the volume).
            let start = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY_FILE=/gate/v2-unhealthy"])
            #expect(start.status == 0, "\(start.stderr)")
            let during = try await eventually("two v2 containers to run") { () -> ServiceStatus? in
                let s = try await status(h)
                return s.instances.filter { $0.version == "v2" && $0.containerID != nil }.count == 2 && s.activeRollout != nil ? s : nil
            }
            try await h.killServer()
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1", "the data plane serves on without the control plane") }

            // As if the control plane had died between creating a container and recording it.
            let owner = try #require(try await world.containers().first?.Labels?["slipway.owner"])
            let ghost = try await world.engine.runForeign(image: try await world.engine.imageID(world.reference("v2")), name: "slipway-\(owner)-ghost-\(UUID().uuidString.prefix(4).lowercased())",
                                                         labels: ["slipway.owner": owner, "slipway.instance": "hello-v2-ghost", "slipway.unit": "hello",
                                                                  "slipway.version": "v2", "slipway.image": world.reference("v2")])
            try await h.startServer(extraArguments: ["--docker-host", world.engine.host])
            try FileManager.default.removeItem(atPath: gate.file("v2-unhealthy"))
            let rollout = try #require(during.activeRollout)
            let done = try await eventually("the resumed rollout to end", timeout: .seconds(60)) { () -> RolloutRecord? in
                let r = try decode(RolloutRecord.self, try await h.api("/v1/rollouts/\(rollout.id)").body)
                return r.phase.isTerminal ? r : nil
            }
            #expect(done.phase == .succeeded, "\(done.reason ?? "")")
            _ = try await eventually("v2 to serve") { (try? await h.versionAt(port: port)) == "v2" ? true : nil }
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))")

            let after = try await status(h)
            let before = Set(during.instances.filter { $0.version == "v2" }.compactMap(\.containerID))
            #expect(Set(after.instances.filter { $0.version == "v2" }.compactMap(\.containerID)) == before, "the same containers were adopted")
            let live = Set(after.instances.compactMap(\.containerID))
            let onEngine = Set(try await world.containers().map(\.Id))
            #expect(onEngine == live, "no orphaned container: the engine holds exactly the live instances")
            #expect(!onEngine.contains(ghost), "the unrecorded container was removed")
            let audit = try await h.cli(["audit", "list", "-o", "json"])
            #expect(audit.stdout.contains("instance.orphan_removed") && audit.stdout.contains("hello-v2-ghost"), "\(audit.stdout.suffix(500))")
        }
    }

    @Test func aBadCanaryOnContainersIsRolledBackByAnalysis() async throws {
        try await withContainerHello(world, replicas: 1, extra: CanaryTests.quickAnalysis, strategy: CanaryTests.canary("[ {weight: 20}, {pause: 10m} ]")) { h, port in
            let probes = (0..<3).map { _ in TrafficProbe(port: port) }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.4", "--wait"])
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("exceeded 5 %"), "\(deploy.stdout)")
            for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1") }
            var versions: [String: Int] = [:]
            var failures: [String] = []
            for probe in probes {
                let r = await probe.stop()
                versions.merge(r.versions, uniquingKeysWith: +)
                failures += r.failures
            }
            #expect(versions["v2", default: 0] > 0, "the canary took traffic")
            #expect(failures.allSatisfy { $0.contains("HTTP 500") }, "only the canary's injected errors: \(failures.prefix(3))")
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.decisions.last?.kind == .rolledBack && why.decisions.last?.actor == "analysis")
            _ = try await eventually("the canary's container to be removed") {
                try await world.containers().contains { $0.Labels?["slipway.version"] == "v2" } ? nil : true
            }
        }
    }

    @Test func logsComeThroughTheEngineAndFollow() async throws {
        try await withContainerHello(world, replicas: 1) { h, port in
            try await expectLogs(h, "hello", version: "v1", contain: "hello-app v1 listening on 0.0.0.0:")
            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "ACCESS_LOG=1", "--wait"]).status == 0)
            let follow = try ChildProcess(executable: h.slipway, arguments: ["logs", "hello", "--version", "v2", "--follow", "--tail", "0"],
                                          environment: ["SLIPWAY_SERVER": h.apiURL, "SLIPWAY_TOKEN": h.adminToken])
            defer { follow.signal(SIGKILL) }
            _ = try await eventually("a request to show up in the followed log") { () -> Bool? in
                _ = try? await TestHTTP.get("http://127.0.0.1:\(port)/followed")
                return follow.stdout.contains("\"/followed\"") ? true : nil
            }
        }
    }

    @Test func badInputAndAMissingImageGetClearErrors() async throws {
        try await withContainerHello(world, replicas: 1) { h, port in
            let tag = try await h.cli(["deploy", "hello", "--version", "1.0+b7"])
            #expect(tag.status == 1)
            #expect(tag.stderr.contains("version 1.0+b7 makes the image reference \(world.repository):1.0+b7"), "\(tag.stderr)")

            let missing = try await h.cli(["deploy", "hello", "--version", "v9", "--wait"])
            #expect(missing.status == 1)
            #expect(missing.stdout.contains("release v9 cannot start: image \(world.reference("v9")) is not on the engine at unix://"), "\(missing.stdout)")
            #expect(missing.stdout.contains("`pull: never` forbids pulling it"))
            try await expectServes("one", port: port, h, "traffic never moved")
            #expect(try await world.containers().allSatisfy { $0.Labels?["slipway.version"] == "v1" }, "no container of v9 was created")

            let image = try await h.cli(["deploy", "hello", "--version", "v3", "--image", "Bad Ref"])
            #expect(image.status == 64)
            #expect(image.stderr.contains("--image: \"Bad Ref\" is not an image reference"), "\(image.stderr)")
            // --image names the release's image directly.
            let direct = try await h.cli(["deploy", "hello", "--version", "v3", "--image", world.reference("v2"), "--wait"])
            #expect(direct.status == 0, "\(direct.stdout)\(direct.stderr)")
            try await expectServes("two", port: port, h)
            let conflict = try await h.cli(["deploy", "hello", "--version", "v3", "--image", world.reference("v1")])
            #expect(conflict.status == 1)
            #expect(conflict.stderr.contains("is already the stable release") || conflict.stderr.contains("releases are immutable"), "\(conflict.stderr)")
        }
    }

    @Test func anEngineThatIsDownIsNamedAndTheServerStillStarts() async throws {
        try await withHarness { h in
            let made = try h.helloContainerConfig(image: world.repository + ":{{version}}", replicas: 1)
            let nowhere = h.directory.file("no-engine.sock")
            try await h.startServer(configs: [made.path], extraArguments: ["--docker-host", "unix://" + nowhere])
            #expect(h.server?.stderr.contains("WARNING: the first release v1 of hello was not started: cannot reach the container engine at unix://\(nowhere) (--docker-host): no socket at that path") == true,
                    "\(h.server?.stderr ?? "")")
            let deploy = try await h.cli(["deploy", "hello", "--version", "v1"])
            #expect(deploy.status == 1)
            #expect(deploy.stderr.contains("cannot reach the container engine at unix://\(nowhere) (--docker-host)"), "\(deploy.stderr)")
            #expect(deploy.stderr.contains("start Docker (dockerd) or Podman's service"))
            let doctor = try await h.cli(["doctor", "--state-dir", h.stateDir])
            #expect(doctor.status == 1)
            #expect(doctor.stdout.contains("PROBLEM container engine: cannot reach the container engine at unix://\(nowhere) (--docker-host)"), "\(doctor.stdout)")
            #expect(doctor.stdout.contains("(hello runs containers)") && doctor.stdout.contains("fix: start Docker (dockerd) or Podman's service"), "\(doctor.stdout)")
            let bad = try await runCommand(h.slipway, ["server", "--state-dir", h.directory.file("other"), "--docker-host", "tcp://10.0.0.1:2376"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("--docker-host tcp://10.0.0.1:2376 is not a unix socket"), "\(bad.stderr)")
        }
    }
}
