import Foundation
import SlipwayCore
import SlipwayTargets
import SlipwayTesting
import Testing

/// The pull path against a real registry (Debian's docker-registry on loopback with basic
/// auth, started by scripts/test-engines.sh) and the real Docker Engine: credentials from
/// Slipway secrets, a denied pull and a missing image failing the rollout before any
/// instance starts, pull progress in the rollout's events, and a rollback that pulls the
/// pinned digest back after the tag moved and the image was deleted from the engine.
@Suite(.serialized) struct RegistryPullTests {
    @Test func pullsWithSecretCredentialsPinsTheRegistryDigestAndPullsItBack() async throws {
        let engine = try TestEngine.docker()
        let registry = try TestEngine.registry()
        let repository = "\(registry.address)/slipway-e2e/hello-" + UUID().uuidString.prefix(8).lowercased()
        let world = ContainerWorld(engine: engine)
        // Built here, pushed to the registry, then deleted from the engine: it must pull.
        for (version, build) in [("v1", "reg-one"), ("v2", "reg-two")] {
            try await engine.helloImage("\(repository):\(version)", build: build)
            try await engine.push("\(repository):\(version)", user: registry.user, password: registry.password)
            try await engine.removeImage("\(repository):\(version)", force: true)
        }
        func removeLocal(_ version: String) async throws {
            if let id = try? await engine.imageID("\(repository):\(version)") { try await engine.removeImage(id, force: true) }
            try await engine.removeImage("\(repository):\(version)", force: true)
        }
        defer { Task { for v in ["v1", "v2"] { try? await removeLocal(v) } } }
        try await withHarness { h in
            let made = try h.helloContainerConfig(image: repository + ":{{version}}", replicas: 1, keepPrevious: "0s", pull: "missing")
            let config = try String(contentsOfFile: made.path, encoding: .utf8) + "registry: { username: \(registry.user), password: \"${REGISTRY_PASSWORD}\" }\n"
            try config.write(toFile: made.path, atomically: true, encoding: .utf8)
            try await h.startServer(configs: [made.path], extraArguments: ["--docker-host", engine.host])
            let port = made.port
            func last() async throws -> RolloutRecord {
                try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)[0]
            }
            // The first release, at start: the secret does not exist yet.
            let first = try await eventually("the first rollout to fail") { () -> RolloutRecord? in
                let r = try await last()
                return r.phase.isTerminal ? r : nil
            }
            #expect(first.phase == .failed)
            #expect(first.reason?.contains("registry.password: ${REGISTRY_PASSWORD} is neither a secret of the service nor a variable of the server's environment") == true, "\(first.reason ?? "")")

            // A wrong password: the registry refuses; nothing started, nothing routed.
            #expect(try await h.cli(["secrets", "set", "hello", "REGISTRY_PASSWORD"], stdin: "wrong-password-77").status == 0)
            let denied = try await h.cli(["deploy", "hello", "--version", "v1", "--wait"])
            #expect(denied.status == 1)
            #expect(denied.stdout.contains("release v1 cannot start: the registry \(registry.address) refused to pull \(repository):v1"), "\(denied.stdout)")
            #expect(!denied.stdout.contains("wrong-password-77"))
            #expect(try await world.engine.slipwayContainers().filter { ($0.Labels?["slipway.image"] ?? "").hasPrefix(repository) }.isEmpty)

            // The right one: pulled with progress, pinned by the registry's digest.
            #expect(try await h.cli(["secrets", "set", "hello", "REGISTRY_PASSWORD"], stdin: registry.password).status == 0)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v1", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("pulling \(repository):v1"), "pull progress is shown: \(deploy.stdout)")
            try await expectServes("reg-one", port: port, h)
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            let pinned = try #require(s.artifacts?["v1"]?.first)
            #expect(pinned.repoDigest?.hasPrefix(repository + "@sha256:") == true, "\(pinned)")
            let events = try await h.api("/v1/services/hello/events?limit=500").body
            #expect(!events.contains(registry.password) && !events.contains("wrong-password-77"), "no password in events")

            // A tag the registry does not have.
            let missing = try await h.cli(["deploy", "hello", "--version", "v404", "--wait"])
            #expect(missing.status == 1)
            #expect(missing.stdout.contains("image \(repository):v404 was not found in its registry \(registry.address)"), "\(missing.stdout)")

            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--wait"]).status == 0)
            try await expectServes("reg-two", port: port, h)
            _ = try await eventually("v1's container to be removed") {
                try await world.engine.slipwayContainers().contains { $0.Labels?["slipway.version"] == "v1" && ($0.Labels?["slipway.image"] ?? "").hasPrefix(repository) } ? nil : true
            }
            // The tag v1 moves in the registry and v1's image leaves the engine: the rollback
            // pulls the digest v1 pinned.
            try await engine.helloImage("\(repository):v1", build: "reg-moved")
            try await engine.push("\(repository):v1", user: registry.user, password: registry.password)
            try await removeLocal("v1")
            let pinnedID = pinned.digest
            try? await engine.removeImage(pinnedID, force: true)
            let rollback = try await h.cli(["rollback", "hello", "--to", "v1"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            _ = try await eventually("v1 to serve again", timeout: .seconds(60)) { (try? await buildAt(port: port)) == "reg-one" ? true : nil }
            let rolled = try await last()
            #expect(rolled.phase == .succeeded || rolled.phase == .draining)
            #expect(try await engine.imageID(pinnedID) == pinnedID, "the pinned image is back on the engine")
        }
        await world.cleanUp()
    }
}
