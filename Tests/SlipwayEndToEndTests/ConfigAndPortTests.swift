import Foundation
import SlipwayCore
import SlipwayTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ConfigAndPortTests {
    @Test func validateReportsEveryErrorWithPositions() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write("bad.yml", """
            service: web
            run: ["./web"]
            replicas: 0
            strategy:
              blue-green:
                keep_previus: 10m
            """)
        let r = try await runCommand(try BuiltProducts.path("slipway"), ["validate", file])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(file):3:11: replicas:"), "\(r.stderr)")
        #expect(r.stderr.contains("\(file):6:5: strategy.blue-green.keep_previus:"), "\(r.stderr)")
        #expect(r.stderr.contains("keep_previous"), "did you mean: \(r.stderr)")

        let good = try await runCommand(try BuiltProducts.path("slipway"), ["validate", BuiltProducts.directory + "/../../../Examples/hello/slipway.yml"])
        #expect(good.status == 0, "\(good.stderr)")
    }

    @Test func listenPortAlreadyTakenNamesThePortAndItsHolder() async throws {
        try await withHarness { h in
            // Hold a port with a listening socket of this test process, among 200 other
            // listeners: /proc/net/tcp is then far longer than the 4 KiB a naive read sees.
            let crowd = (0..<200).map { _ in boundLoopbackSocket(listening: true).0 }
            defer { crowd.forEach { close($0) } }
            let (fd, port) = boundLoopbackSocket(listening: true)
            defer { close(fd) }

            try await h.startServer()
            let (config, _) = try h.helloConfig(listenPort: port)
            let apply = try await h.cli(["apply", "-f", config])
            #expect(apply.status == 1)
            #expect(apply.stderr.contains("127.0.0.1:\(port)"), "\(apply.stderr)")
            #expect(apply.stderr.contains("pid \(getpid())"), "the holder is named: \(apply.stderr)")
            let status = try await h.cli(["status", "-o", "json"])
            #expect(try decode([ServiceStatus].self, status.stdout).isEmpty, "nothing was registered: \(status.stdout)")
        }
    }
}

@Suite(.serialized) struct MultiServiceTests {
    @Test func twoServicesShareOnePortByHostAndDeployIndependently() async throws {
        try await withHarness { h in
            let port = freeLoopbackPort()
            let (alpha, _) = try h.helloConfig(name: "alpha", listenPort: port, replicas: 1, extra: "hosts: [alpha.test]")
            let (beta, _) = try h.helloConfig(name: "beta", listenPort: port, replicas: 1, extra: "hosts: [beta.test]")
            try await h.startServer(configs: [alpha, beta])
            func version(_ host: String) async throws -> String? {
                let reply = try await TestHTTP.request("http://127.0.0.1:\(port)/", method: .GET, headers: [("Host", host)])
                return reply.status == 200 ? reply.header("X-Version") : nil
            }
            _ = try await eventually("both services to serve v1") {
                let a = try await version("alpha.test"), b = try await version("beta.test:\(port)")
                return a == "v1" && b == "v1" ? true : nil
            }
            let deploy = try await h.cli(["deploy", "beta", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)")
            #expect(try await version("beta.test") == "v2")
            #expect(try await version("alpha.test") == "v1", "alpha is untouched")
            let unknown = try await TestHTTP.request("http://127.0.0.1:\(port)/", method: .GET, headers: [("Host", "gamma.test")])
            #expect(unknown.status == 404)
            #expect(unknown.body.contains("gamma.test"))

            // A third service claiming the same host on the same port is refused.
            let (clash, _) = try h.helloConfig(name: "clash", listenPort: port, replicas: 1, extra: "hosts: [alpha.test]")
            let apply = try await h.cli(["apply", "-f", clash])
            #expect(apply.status == 1)
            #expect(apply.stderr.contains("service alpha already answers"), "\(apply.stderr)")
        }
    }
}

