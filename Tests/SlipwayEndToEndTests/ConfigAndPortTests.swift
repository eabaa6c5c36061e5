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
            // Hold a port with a listening socket of this test process.
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
