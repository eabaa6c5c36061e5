import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Containers on fleet servers: each server runs its own Docker Engine (dockerd in the
/// host's network namespace, scripts/test-hosts.sh), the control plane pins the image on its
/// own engine and brings it to each server's engine as an archive over SSH (no registry).
extension FleetTests {
    @Test func containersOnServersWithTheirOwnEnginesDeployRollBackRecoverAndLeaveNothing() async throws {
        let indices = Array(hosts.engineIndices.prefix(2))
        try #require(indices.count == 2, "two test hosts with a container engine (scripts/test-hosts.sh start 4 2)")
        let serverEngines = try indices.map { try hosts.engine($0) }
        let world = ContainerWorld(engine: try TestEngine.docker())
        let v1 = try await world.engine.helloImage(world.reference("v1"), build: "one")
        let v2 = try await world.engine.helloImage(world.reference("v2"), build: "two")
        func removeFromServers() async {
            for engine in serverEngines {
                for container in (try? await engine.slipwayContainers()) ?? [] where container.Labels?["slipway.unit"] == "hello" {
                    await engine.remove(container: container.Id)
                }
                for id in [v1, v2] { try? await engine.removeImage(id, force: true) }
            }
        }
        // The servers' engines do not hold the images: the rollout must bring them.
        await removeFromServers()
        func running(_ engine: TestEngine) async throws -> [String: String] {
            var result: [String: String] = [:]
            for container in try await engine.slipwayContainers() where container.Labels?["slipway.unit"] == "hello" && container.State == "running" {
                result[container.Id] = container.Labels?["slipway.version"] ?? "?"
            }
            return result
        }
        do {
            try await withFleetOf(indices, program: "image: \(world.repository):{{version}}\npull: never",
                                  serverExtra: { ", docker_host: \"\(hosts.dockerHost($0))\"" },
                                  controlPlaneArguments: ["--docker-host", world.engine.host]) { h, port, addresses in
                try await setUpAndDeployV1(h, port, addresses)
                for (engine, address) in zip(serverEngines, addresses) {
                    // One container per server, created on that server's engine from the pinned image id.
                    let containers = try await running(engine)
                    #expect(containers.count == 1 && containers.values.allSatisfy { $0 == "v1" }, "\(address): \(containers)")
                    let inspect = try await engine.inspect(container: try #require(containers.keys.first))
                    #expect(inspect["Image"] as? String == v1, "\(address) runs the image id the release pinned")
                    #expect(try await buildAt(port: port, host: address) == "one")
                }
                struct Event: Decodable { var message: String }
                let events = try decode([Event].self, try await h.api("/v1/services/hello/events?limit=500").body).map(\.message)
                for address in addresses {
                    #expect(events.contains { $0.hasPrefix("copied image \(world.reference("v1")) (") && $0.hasSuffix("to \(address) and loaded it into its engine") }, "\(events)")
                }

                // Blue-green to v2 and a warm rollback under load: nothing fails on any server.
                let probes = addresses.map { TrafficProbe(port: port, host: $0) }
                for probe in probes { try await probe.waitForAnswer(from: "v1") }
                let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"], timeout: .seconds(180))
                if deploy.status != 0 {
                    Issue.record("deploy v2 failed: \(deploy.stdout)\(deploy.stderr)\n\(await fleetDiagnostics(h, indices))")
                }
                for address in addresses { #expect(try await buildAt(port: port, host: address) == "two") }
                let rollback = try await h.cli(["rollback", "hello"])
                #expect(rollback.status == 0 && rollback.stdout.contains("still warm"), "\(rollback.stdout)\(rollback.stderr)")
                for address in addresses { #expect(try await buildAt(port: port, host: address) == "one") }
                for (address, probe) in zip(addresses, probes) {
                    let result = await probe.stop()
                    #expect(result.failures.isEmpty, "failed requests on \(address): \(result.failures.prefix(5))")
                    #expect(result.versions["v2", default: 0] > 0 && result.versions["v1", default: 0] > 0, "\(address): \(result.versions)")
                }

                // A container killed on a server is seen through that server's agent and restarted.
                let first = serverEngines[0]
                let victim = try #require(try await running(first).first { $0.value == "v1" }?.key)
                try await first.kill(container: victim)
                let crash = try await eventually("the crash on \(addresses[0]) to be recorded", timeout: .seconds(60)) { () -> String? in
                    let events = try await h.api("/v1/services/hello/events?limit=100").body
                    return events.contains("instance_crashed") ? events : nil
                }
                #expect(crash.contains("killed by signal 9 (exit status 137)"), "\(crash)")
                _ = try await eventually("v1 to run again on \(addresses[0])", timeout: .seconds(60)) { () -> Bool? in
                    let again = try await running(first).values.contains("v1")
                    let build = try? await buildAt(port: port, host: addresses[0])
                    return again && build == "one" ? true : nil
                }

                // Logs are read through each server's agent from its engine.
                try await expectLogs(h, "hello", version: "v1", contain: "hello-app v1 listening")

                // A container the control plane created but never recorded (it died in between)
                // is removed from the server's engine when the control plane starts again.
                let owner = try #require(try await serverEngines[1].slipwayContainers().first { $0.Labels?["slipway.unit"] == "hello" }?.Labels?["slipway.owner"])
                try await h.killServer()
                let ghost = try await serverEngines[1].runForeign(image: v2, name: "slipway-\(owner)-ghost-\(UUID().uuidString.prefix(4).lowercased())",
                                                                  labels: ["slipway.owner": owner, "slipway.instance": "hello-v2-ghost", "slipway.unit": "hello", "slipway.version": "v2"])
                let foreign = try await serverEngines[1].runForeign(image: v2, name: "someone-else-\(UUID().uuidString.prefix(4).lowercased())")
                try await h.startServer(extraArguments: ["--ssh-config", hosts.sshConfig, "--docker-host", world.engine.host])
                _ = try await eventually("the orphan on \(addresses[1]) to be removed", timeout: .seconds(60)) {
                    try await serverEngines[1].slipwayContainers().contains { $0.Id == ghost } ? nil : true
                }
                let audit = try await h.cli(["audit", "list", "--limit", "500", "-o", "json"])
                #expect(audit.stdout.contains("instance.orphan_removed") && audit.stdout.contains("hello-v2-ghost"), "\(audit.stdout)\(audit.stderr)")
                #expect(try await serverEngines[1].inspect(container: foreign)["Id"] as? String == foreign, "another tool's container is never touched")
                await serverEngines[1].remove(container: foreign)
                for address in addresses { #expect(try await buildAt(port: port, host: address) == "one") }

                let beforeDown = try await h.api("/v1/services/hello/events?limit=500").body
                let statusBeforeDown = try await h.cli(["status", "hello"]).stdout
                // `slipway down` stops every server's containers.
                let down = try await h.cli(["down"], timeout: .seconds(180))
                #expect(down.status == 0, "\(down.stdout)\(down.stderr)")
                for (engine, address) in zip(serverEngines, addresses) {
                    let left = try await engine.slipwayContainers().filter { $0.Labels?["slipway.unit"] == "hello" && $0.State == "running" }.map { "\($0.Names ?? []) \($0.Labels ?? [:])" }
                    let log = (try? String(contentsOfFile: "\(hosts.directory)/fleet/host\(indices[addresses.firstIndex(of: address)!] + 1)/state/logs/router.log", encoding: .utf8)) ?? ""
                    #expect(left.isEmpty, "\(address) runs no container of hello after down: \(left)\n\(down.stdout)\n\(h.server?.stderr.suffix(3000) ?? "")\n\(log.suffix(2000))\n\(beforeDown)\n\(statusBeforeDown)")
                }
            }
        } catch {
            await removeFromServers()
            await world.cleanUp()
            throw error
        }
        await removeFromServers()
        await world.cleanUp()
    }
}
