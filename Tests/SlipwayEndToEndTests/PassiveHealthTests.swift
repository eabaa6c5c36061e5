import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Passive health end to end: one of two instances starts answering 500 under load; after
/// `health.passive_failures` in a row the router takes it out of rotation for
/// `health.passive_ejection` and its sibling answers, and once it is healthy again it gets
/// requests again. (Active health checks keep passing: only the answers fail.)
@Suite(.serialized) struct PassiveHealthE2ETests {
    @Test func anInstanceAnswering5xxIsEjectedItsSiblingAnswersAndItReturnsWhenHealthy() async throws {
        let faults = try TemporaryDirectory(prefix: "faults")
        defer { faults.remove() }
        try await withHarness { h in
            let made = try h.helloConfig(replicas: 2, extra: "env: { FAULT_ERROR_FILE: \"\(faults.path)/{port}\" }")
            let text = try String(contentsOfFile: made.path, encoding: .utf8)
                .replacingOccurrences(of: "grace: 5s }", with: "grace: 5s, passive_failures: 3, passive_ejection: 6s }")
            try text.write(toFile: made.path, atomically: true, encoding: .utf8)
            try await h.startServer(configs: [made.path])
            let port = made.port
            _ = try await eventually("v1 to serve") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(s.instances.count == 2)
            let bad = try #require(s.instances.first?.port)

            /// `count` requests one after another: failures, and answers by instance port.
            func load(_ count: Int) async throws -> (failures: Int, byPort: [String: Int]) {
                var failures = 0
                var byPort: [String: Int] = [:]
                for _ in 0..<count {
                    let reply = try await TestHTTP.request("http://127.0.0.1:\(port)/", method: .GET)
                    if reply.status != 200 { failures += 1 }
                    byPort[reply.header("X-Port") ?? "?", default: 0] += 1
                }
                return (failures, byPort)
            }
            let before = try await load(100)
            #expect(before.failures == 0 && before.byPort["\(bad)", default: 0] > 0, "both instances answer: \(before.byPort)")

            /// Requests until `streak` answers in a row succeeded: how many failed on the way.
            func failuresUntilEjected(streak wanted: Int = 20) async throws -> Int {
                var failures = 0
                var streak = 0
                var sent = 0
                while streak < wanted, sent < 3000 {
                    let reply = try await TestHTTP.request("http://127.0.0.1:\(port)/", method: .GET)
                    sent += 1
                    if reply.status == 200 { streak += 1 } else { failures += 1; streak = 0 }
                }
                return failures
            }

            // The instance at `bad` fails every request from now on: exactly
            // `passive_failures` (3, not the default 5) reach it before it is taken out.
            _ = try faults.write("\(bad)", "")
            #expect(try await failuresUntilEjected() == 3)
            // After `passive_ejection` it gets requests again, fails 3 more and is taken out again.
            let again = try await eventually("the ejection to end", timeout: .seconds(30)) { () -> Int? in
                let failures = try await failuresUntilEjected(streak: 10)
                return failures > 0 ? failures : nil
            }
            #expect(again == 3, "3 more in the next run: \(again)")

            // Healthy again: after the ejection it answers again.
            try FileManager.default.removeItem(atPath: faults.file("\(bad)"))
            _ = try await eventually("the instance at \(bad) to answer again", timeout: .seconds(30)) { () -> Bool? in
                let after = try await load(50)
                return after.failures == 0 && after.byPort["\(bad)", default: 0] > 0 ? true : nil
            }
        }
    }
}
