import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// One service on a fleet of three servers (network namespaces with real sshd's, each with
/// its own address, router and instances; scripts/test-hosts.sh), driven by the real
/// `slipway server` over SSH: setup, a blue-green deploy and a warm rollback under load on
/// every server with zero failed requests, and servers status.
@Suite(.serialized) struct FleetTests {
    let hosts: TestHosts

    init() throws {
        hosts = try TestHosts.make()
    }

    /// A harness whose service runs on the first `count` servers, listening on `port` there.
    func withFleet(count: Int = 3, replicasPerHost: Int = 1, _ body: (SlipwayHarness, Int, [String]) async throws -> Void) async throws {
        let h = try SlipwayHarness()
        let port = freeLoopbackPort()
        let servers = (0..<count).map { "  - { url: ssh://root@\(hosts.addresses[$0]), dir: \(h.directory.file("host\($0 + 1)")) }" }.joined(separator: "\n")
        let config = try h.directory.write("hello.yml", """
            service: hello
            run: ["hello-app", "--port", "{{port}}", "--version", "{{version}}"]
            health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 2, unhealthy: 3, grace: 5s }
            listen: 0.0.0.0:\(port)
            replicas_per_host: \(replicasPerHost)
            servers:
            \(servers)
            strategy:
              blue-green: { keep_previous: 10m, deploy_timeout: 30s, drain_timeout: 10s }
            """)
        do {
            try await h.startServer(extraArguments: ["--ssh-config", hosts.sshConfig])
            let apply = try await h.cli(["apply", "-f", config])
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
            try await body(h, port, Array(hosts.addresses.prefix(count)))
        } catch {
            await shutdown(h)
            throw error
        }
        await shutdown(h)
    }

    func shutdown(_ h: SlipwayHarness) async {
        await h.shutdown()
        // The servers' routers and instances live under the harness's directory.
        SlipwayHarness.killProcesses(mentioning: h.directory.path)
    }

    @Test func blueGreenDeployAndWarmRollbackAcrossThreeServersUnderLoad() async throws {
        try await withFleet { h, port, addresses in
            let setup = try await h.cli(["servers", "setup"], timeout: .seconds(600))
            #expect(setup.status == 0, "\(setup.stdout)\(setup.stderr)")
            for address in addresses { #expect(setup.stdout.contains("\(address): ok"), "\(setup.stdout)") }

            let first = try await h.cli(["deploy", "hello", "--version", "v1", "--wait"], timeout: .seconds(120))
            #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
            for address in addresses { #expect(try await h.versionAt(port: port, host: address) == "v1") }

            // One instance per server, each on its own server, each server's router with its own.
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(Set(s.instances.compactMap(\.server)) == Set(addresses), "\(s.instances.map { ($0.id, $0.server ?? "-") })")
            #expect(s.instances.count == 3 && s.instances.allSatisfy { $0.healthy == true })

            let probes = addresses.map { TrafficProbe(port: port, host: $0) }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for address in addresses { #expect(try await h.versionAt(port: port, host: address) == "v2") }
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(rollback.stdout.contains("still warm"), "\(rollback.stdout)")
            for address in addresses { #expect(try await h.versionAt(port: port, host: address) == "v1", "every server serves v1 at once") }
            for (address, probe) in zip(addresses, probes) {
                let result = await probe.stop()
                #expect(result.failures.isEmpty, "failed requests on \(address): \(result.failures.prefix(5))")
                #expect(result.versions["v2", default: 0] > 0 && result.versions["v1", default: 0] > 0, "\(address): \(result.versions)")
            }

            // The release's program was copied to every server's artifact store.
            let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
            let executable = try #require(history.first?.artifacts?.first { $0.kind == .executable })
            for index in addresses.indices {
                let stored = h.directory.file("host\(index + 1)/state/artifacts/sha256/\(executable.digest.dropFirst("sha256:".count))")
                #expect(FileManager.default.fileExists(atPath: stored), "\(stored)")
            }

            let status = try await h.cli(["servers", "status"])
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
            for address in addresses { #expect(status.stdout.contains(address)) }
            #expect(status.stdout.contains("2/2"), "each server checks its v1 and its warm v2: \(status.stdout)")
        }
    }
}
