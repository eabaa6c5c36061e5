import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// `--log-format json` for the server and the router it starts, and request ids that flow
/// from the router into an instance's log.
@Suite(.serialized) struct LoggingTests {
    @Test func jsonLogsAndRequestIDsFromRouterToInstanceLogs() async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 1, extra: "env: { ACCESS_LOG: \"1\" }")
            try await h.startServer(configs: [config], extraArguments: ["--log-format", "json"])
            _ = try await eventually("v1 to serve through the router") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }

            // The server's log: every line a JSON object with time, level, logger, message.
            let serverLines = try #require(h.server).stderr.split(separator: "\n").filter { !$0.isEmpty }
            #expect(!serverLines.isEmpty)
            for line in serverLines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
                #expect(object["time"] is String && object["level"] is String && object["message"] is String && object["logger"] as? String == "slipway", "\(line)")
            }
            #expect(serverLines.contains { $0.contains(#""service":"hello""#) }, "metadata without the slipway. prefix: \(serverLines)")

            // A request id the client chose, and one the router made, reach the instance's log.
            let chosen = try await TestHTTP.request("http://127.0.0.1:\(port)/", method: .GET, headers: [("X-Request-Id", "trace-7f3a-e2e")])
            #expect(chosen.status == 200)
            #expect(chosen.header("X-Request-Id") == "trace-7f3a-e2e")
            let made = try await TestHTTP.get("http://127.0.0.1:\(port)/")
            let madeID = try #require(made.header("X-Request-Id"))
            #expect(!madeID.isEmpty)
            let logs = try await eventually("both ids in the instance's log") { () async throws -> String? in
                let out = try await h.cli(["logs", "hello"]).stdout
                return out.contains(#""request_id":"trace-7f3a-e2e""#) && out.contains(#""request_id":"\#(madeID)""#) ? out : nil
            }
            #expect(logs.contains(#""path":"/","status":200"#), "\(logs)")

            // The router's log (started by the server) is JSON too.
            let routerLog = try String(contentsOfFile: h.stateDir + "/logs/router.log", encoding: .utf8)
            let routerLines = routerLog.split(separator: "\n").filter { $0.hasPrefix("{") }
            #expect(routerLines.contains { $0.contains(#""logger":"slipway-router""#) && $0.contains(#""message":"route table applied""#) }, "\(routerLog)")
        }
    }

    @Test func anUnknownLogFormatIsRefused() async throws {
        let slipway = try BuiltProducts.path("slipway")
        let flag = try await runCommand(slipway, ["server", "--log-format", "xml"])
        #expect(flag.status == 64)
        #expect(flag.stderr.contains("--log-format must be text or json (got xml)"), "\(flag.stderr)")
        let directory = try TemporaryDirectory(prefix: "slipway-logfmt")
        let env = try await runCommand(slipway, ["server", "--state-dir", directory.file("state"), "--api", "127.0.0.1:0"], environment: ["SLIPWAY_LOG_FORMAT": "yaml"], timeout: .seconds(30))
        #expect(env.status == 1)
        #expect(env.stderr.contains("SLIPWAY_LOG_FORMAT must be text or json (got yaml)"), "\(env.stderr)")
    }
}
