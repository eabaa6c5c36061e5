import Foundation
import SlipwayCore
import SlipwayTargets
import SlipwayTesting
import Testing

/// One container test's world: an engine, a repository of its own (so tests never see each
/// other's images or containers), and the hello service deployed as v1 from it.
struct ContainerWorld {
    let engine: TestEngine
    /// `slipway-e2e/hello-abc123` (the config's image is `REPOSITORY:{{version}}`).
    let repository: String

    init(engine: TestEngine) {
        self.engine = engine
        repository = "slipway-e2e/hello-" + UUID().uuidString.prefix(8).lowercased()
    }

    func reference(_ version: String) -> String { "\(repository):\(version)" }

    /// Containers of this test's repository (whatever their owner), any state.
    func containers() async throws -> [EngineModels.ContainerSummary] {
        try await engine.slipwayContainers().filter { ($0.Labels?["slipway.image"] ?? "").hasPrefix(repository + ":") || ($0.Labels?["slipway.image"] ?? "").hasPrefix(repository + "@") }
    }

    /// Removes what the test left (containers, images); never fails a test.
    func cleanUp() async {
        for container in (try? await containers()) ?? [] { await engine.remove(container: container.Id) }
        for version in ["v1", "v2", "v3", "v4"] { try? await engine.removeImage(reference(version), force: true) }
    }
}

/// Runs `body` with the hello service as containers of `world`'s images, v1 serving
/// through the router; shuts everything down and removes the test's containers after.
func withContainerHello<T>(_ world: ContainerWorld, replicas: Int = 2, extra: String = "", keepPrevious: String = "10m", deployTimeout: String = "30s",
                           strategy: String? = nil, images: [String: String] = ["v1": "one", "v2": "two"],
                           _ body: (SlipwayHarness, Int) async throws -> T) async throws -> T {
    for (version, build) in images.sorted(by: { $0.key < $1.key }) {
        try await world.engine.helloImage(world.reference(version), build: build)
    }
    do {
        let result = try await withHarness { h in
            var attempt = 0
            var port = 0
            while true {
                attempt += 1
                let made = try h.helloContainerConfig(image: world.repository + ":{{version}}", replicas: replicas, extra: extra,
                                                      keepPrevious: keepPrevious, deployTimeout: deployTimeout, strategy: strategy)
                port = made.port
                do {
                    try await h.startServer(configs: [made.path], extraArguments: ["--docker-host", world.engine.host])
                    break
                } catch let error as PollStop where attempt < 3 && error.description.contains("Address already in use") {
                    continue
                }
            }
            // Podman's API service under a CI machine's full load has taken over 10 s to
            // answer the server's first call: then the first release is not started at
            // start-up (the server says so and names the command), and the test deploys it
            // as the warning says. A wait that runs out says what the server saw.
            do {
                _ = try await eventually("v1 to serve through the router from its containers", timeout: .seconds(120)) { () -> Bool? in
                    if (try? await h.versionAt(port: port)) == "v1" { return true }
                    if h.server?.stderr.contains("the first release v1 of hello was not started") == true,
                       try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout).isEmpty {
                        _ = try await h.cli(["deploy", "hello", "--version", "v1"])
                    }
                    return nil
                }
            } catch {
                throw PollStop("\(error)\n\(await h.diagnostics(service: "hello"))")
            }
            return try await body(h, port)
        }
        await world.cleanUp()
        return result
    } catch {
        await world.cleanUp()
        throw error
    }
}

/// The X-Build header the router's answer carries (which image build served it); an answer
/// without one is described (status, body) so that a failed expectation says what came back.
func buildAt(port: Int, host: String = "127.0.0.1", headers: [(String, String)] = []) async throws -> String? {
    let reply = try await TestHTTP.request("http://\(host):\(port)/", method: .GET, headers: headers)
    return reply.header("X-Build") ?? "no X-Build: HTTP \(reply.status) \(reply.body.prefix(300))"
}

/// Expects `slipway logs SERVICE --version VERSION` to show `line`, reading again until it
/// does: the engine copies a container's output into its log asynchronously, so the app
/// answering does not mean its lines are in the log yet.
func expectLogs(_ h: SlipwayHarness, _ service: String, version: String, contain line: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    var logs = (status: Int32(-1), stdout: "", stderr: "")
    let shown = try? await eventually("\(line) in the logs of \(service) \(version)") { () -> Bool? in
        logs = try await h.cli(["logs", service, "--version", version])
        return logs.status == 0 && logs.stdout.contains(line) ? true : nil
    }
    #expect(shown == true, "status \(logs.status): \(logs.stdout)\(logs.stderr)", sourceLocation: sourceLocation)
}

/// Expects the router on `port` to answer with `build` (its X-Build header) now; otherwise
/// records what it answered, the control plane's view and the router's log.
func expectServes(_ build: String, port: Int, _ h: SlipwayHarness, _ why: String = "", sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let served = try await buildAt(port: port)
    if served != build {
        Issue.record("expected build \(build)\(why.isEmpty ? "" : " (\(why))"), the router answered \(served ?? "nothing")\n\(await h.diagnostics(service: "hello"))",
                     sourceLocation: sourceLocation)
    }
}
