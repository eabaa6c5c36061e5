import Foundation
import SlipwayCore
import SlipwayTargets
import SlipwayTesting
import Testing

/// The same container driver against Podman's Docker-compatible API service (Debian's
/// podman 4.3, started by scripts/test-engines.sh): deploy and warm rollback under
/// traffic, a crash restarted, a cold rollback to the pinned image, and nothing left behind.
@Suite(.serialized) struct PodmanTests {
    @Test func deployRollbackCrashAndColdRollbackOnPodman() async throws {
        let world = ContainerWorld(engine: try TestEngine.podman())
        try await withContainerHello(world, replicas: 2, keepPrevious: "0s") { h, port in
            let probe = TrafficProbe(port: port)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for _ in 0..<10 { try await expectServes("two", port: port, h) }
            let afterDeploy = await probe.stop()
            #expect(afterDeploy.failures.isEmpty, "failed requests: \(afterDeploy.failures.prefix(5))")
            #expect(afterDeploy.versions["v1", default: 0] > 0 && afterDeploy.versions["v2", default: 0] > 0)

            // A container killed from outside is seen and started again.
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(s.artifacts?["v2"]?.first?.digest == (try await world.engine.imageID(world.reference("v2"))))
            let victim = try #require(s.instances.first { $0.version == "v2" })
            try await world.engine.kill(container: try #require(victim.containerID))
            _ = try await eventually("the killed container to be restarted and healthy", timeout: .seconds(30)) { () -> Bool? in
                let now = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                let i = now.instances.first { $0.id == victim.id }
                return i?.restarts == 1 && i?.state == .running && i?.healthy == true ? true : nil
            }
            let events = try await h.api("/v1/services/hello/events?limit=100").body
            #expect(events.contains("killed by signal 9 (exit status 137)"), "\(events)")

            // keep_previous 0s: v1 is gone; the tag moves; a rollback runs v1's pinned image.
            _ = try await eventually("v1's containers to be removed") {
                try await world.containers().contains { $0.Labels?["slipway.version"] == "v1" } ? nil : true
            }
            try await world.engine.helloImage(world.reference("v1"), build: "moved")
            let probe2 = TrafficProbe(port: port)
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            for _ in 0..<10 { try await expectServes("one", port: port, h) }
            let afterRollback = await probe2.stop()
            #expect(afterRollback.failures.isEmpty, "failed requests: \(afterRollback.failures.prefix(5))")

            _ = try await eventually("v2's containers to be removed") {
                try await world.containers().contains { $0.Labels?["slipway.version"] == "v2" } ? nil : true
            }
            let live = Set(try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout).instances.compactMap(\.containerID))
            #expect(Set(try await world.containers().map(\.Id)) == live, "Podman holds exactly the live instances")
        }
    }
}
