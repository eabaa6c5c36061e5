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
    func withFleet(count: Int = 3, replicasPerHost: Int = 1, extra: String = "",
                   strategy: String = "blue-green: { keep_previous: 10m, deploy_timeout: 30s, drain_timeout: 10s }",
                   sshConfig: String? = nil, _ body: (SlipwayHarness, Int, [String]) async throws -> Void) async throws {
        try await withFleetOf(Array(0..<count), replicasPerHost: replicasPerHost, extra: extra, strategy: strategy, sshConfig: sshConfig, body)
    }

    /// A harness whose service runs on the test hosts at `indices`, listening on a free port
    /// there. Health checks are lenient (5 failures of 500 ms in a row): the suite shares two
    /// cores with the bundle copies and hashing of FleetServerTests, and a starved check must
    /// not take an instance out of service.
    /// `program` replaces the `run:` line (an `image:` for containers); `serverExtra` adds
    /// keys to the server at an index (its `docker_host`).
    func withFleetOf(_ indices: [Int], replicasPerHost: Int = 1, extra: String = "",
                     strategy: String = "blue-green: { keep_previous: 10m, deploy_timeout: 30s, drain_timeout: 10s }",
                     sshConfig: String? = nil, program: String = #"run: ["hello-app", "--port", "{{port}}", "--version", "{{version}}"]"#,
                     serverExtra: (Int) -> String = { _ in "" }, controlPlaneArguments: [String] = [],
                     _ body: (SlipwayHarness, Int, [String]) async throws -> Void) async throws {
        let h = try SlipwayHarness()
        let port = freeLoopbackPort()
        // Each server's Slipway directory is kept across the suite's tests (they run one at a
        // time), so the bundle is copied once; its router state starts empty in every test.
        let dirs = indices.map { "\(hosts.directory)/fleet/host\($0 + 1)" }
        for dir in dirs { try? FileManager.default.removeItem(atPath: dir + "/state") }
        let servers = zip(indices, dirs).map { "  - { url: ssh://root@\(hosts.addresses[$0.0]), dir: \($0.1)\(serverExtra($0.0)) }" }.joined(separator: "\n")
        let config = try h.directory.write("hello.yml", """
            service: hello
            \(program)
            health: { path: /health, interval: 500ms, timeout: 500ms, healthy: 1, unhealthy: 5, grace: 5s }
            listen: 0.0.0.0:\(port)
            replicas_per_host: \(replicasPerHost)
            servers:
            \(servers)
            strategy:
              \(strategy)
            \(extra)
            """)
        do {
            try await h.startServer(extraArguments: ["--ssh-config", sshConfig ?? hosts.sshConfig] + controlPlaneArguments)
            let apply = try await h.cli(["apply", "-f", config])
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
            try await body(h, port, indices.map { hosts.addresses[$0] })
        } catch {
            await shutdown(h, dirs)
            throw error
        }
        await shutdown(h, dirs)
    }

    func shutdown(_ h: SlipwayHarness, _ dirs: [String]) async {
        await h.shutdown()
        // The servers' routers and instances run from (and log under) their directories.
        for dir in dirs { SlipwayHarness.killProcesses(mentioning: dir + "/") }
    }

    @Test func blueGreenDeployAndWarmRollbackAcrossThreeServersUnderLoad() async throws {
        try await withFleet { h, port, addresses in
            let setup = try await h.cli(["servers", "setup"], timeout: .seconds(600))
            #expect(setup.status == 0, "\(setup.stdout)\(setup.stderr)")
            for address in addresses { #expect(setup.stdout.contains("\(address): ok"), "\(setup.stdout)") }

            let first = try await h.cli(["deploy", "hello", "--version", "v1", "--wait"], timeout: .seconds(120))
            #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
            try await expectServing("v1", h, port, addresses, after: "deploy --wait", output: first.stdout)

            // One instance per server, each on its own server, each server's router with its own.
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(Set(s.instances.compactMap(\.server)) == Set(addresses), "\(s.instances.map { ($0.id, $0.server ?? "-") })")
            #expect(s.instances.count == 3 && s.instances.allSatisfy { $0.healthy == true })

            let probes = addresses.map { TrafficProbe(port: port, host: $0) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            try await expectServing("v2", h, port, addresses, after: "deploy --wait", output: deploy.stdout)
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(rollback.stdout.contains("still warm"), "\(rollback.stdout)")
            try await expectServing("v1", h, port, addresses, after: "rollback (every server at once)", output: rollback.stdout)
            for (address, probe) in zip(addresses, probes) {
                let result = await probe.stop()
                #expect(result.failures.isEmpty, "failed requests on \(address): \(result.failures.prefix(5))")
                #expect(result.versions["v2", default: 0] > 0 && result.versions["v1", default: 0] > 0, "\(address): \(result.versions)")
            }

            // The release's program was copied to every server's artifact store.
            let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
            let executable = try #require(history.first?.artifacts?.first { $0.kind == .executable })
            for index in addresses.indices {
                let stored = "\(hosts.directory)/fleet/host\(index + 1)/state/artifacts/sha256/\(executable.digest.dropFirst("sha256:".count))"
                #expect(FileManager.default.fileExists(atPath: stored), "\(stored)")
            }

            // Logs come from each server's agent.
            let logs = try await h.cli(["logs", "hello", "--version", "v1"])
            #expect(logs.status == 0, "\(logs.stderr)")
            #expect(logs.stdout.components(separatedBy: "hello-app v1 listening on 127.0.0.1:").count - 1 == addresses.count, "\(logs.stdout)")

            // Per-server series in /metrics, counted by each server's router.
            let metrics = try await h.api("/metrics").body
            for address in addresses {
                #expect(metrics.contains("slipway_requests_total{service=\"hello\",version=\"v2\",server=\"\(address)\",code_class=\"2xx\"}"), "\(address)")
                #expect(metrics.contains("slipway_server_up{server=\"\(address)\"} 1"))
            }
            let text = try await h.cli(["status", "hello"])
            for address in addresses { #expect(text.stdout.contains(address), "the SERVER column: \(text.stdout)") }

            let status = try await h.cli(["servers", "status"])
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
            for address in addresses { #expect(status.stdout.contains(address)) }
            #expect(status.stdout.contains("2/2"), "each server checks its v1 and its warm v2: \(status.stdout)")
            #expect(status.stdout.contains("CLOCK"), "\(status.stdout)")
            // Doctor measures each server's clock against the control plane's (the namespaces
            // share this machine's clock: within the measurement's uncertainty).
            struct Doctor: Decodable { struct Finding: Decodable { var check: String; var status: String; var detail: String }; var findings: [Finding] }
            let doctor = try decode(Doctor.self, try await h.cli(["doctor", "--state-dir", h.stateDir, "-o", "json"]).stdout)
            for address in addresses {
                let clock = doctor.findings.first { $0.check == "clock of \(address)" }
                #expect(clock?.status == "ok" && clock?.detail.hasPrefix("\(address)'s clock, against the control plane's, is ") == true, "\(String(describing: clock))")
            }
            struct ServerTraffic: Decodable { var server: String; var requests: UInt64?; var errors: UInt64? }
            let json = try decode([ServerTraffic].self, try await h.cli(["servers", "status", "-o", "json"]).stdout)
            #expect(json.count == addresses.count && json.allSatisfy { ($0.requests ?? 0) > 0 && $0.errors == 0 }, "each server's own traffic: \(json.map { ($0.server, $0.requests ?? 0) })")

            // `slipway down` stops the servers' routers too.
            let pids = addresses.indices.compactMap { index in
                (try? String(contentsOfFile: "\(hosts.directory)/fleet/host\(index + 1)/state/router.pid", encoding: .utf8))
                    .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
            #expect(pids.count == addresses.count && pids.allSatisfy { kill($0, 0) == 0 })
            let down = try await h.cli(["down"], timeout: .seconds(120))
            #expect(down.status == 0, "\(down.stdout)\(down.stderr)")
            for pid in pids { #expect(kill(pid, 0) != 0, "router \(pid) stopped") }
        }
    }

    /// A server's router that runs a table far ahead of this control plane's generations
    /// (another control plane drove it, or this one's state was restored from an older
    /// backup) ignores older tables: the control plane sees that its table was not taken,
    /// names it, and sends it again above that generation, so the deploy serves everywhere.
    @Test func aServerRouterAheadOfTheControlPlanesGenerationsIsGivenTablesAboveIt() async throws {
        try await withFleet(count: 2) { h, port, addresses in
            let setup = try await h.cli(["servers", "setup"], timeout: .seconds(600))
            #expect(setup.status == 0, "\(setup.stdout)\(setup.stderr)")
            // What another control plane would have left on host 1's router: a newer table.
            let socket = "\(hosts.directory)/fleet/host1/state/router.sock"
            let put = try await runCommand("/usr/bin/curl", ["-sS", "--fail-with-body", "--unix-socket", socket, "-X", "PUT", "-H", "content-type: application/json",
                                                            "--data", #"{"generation":100000,"services":[]}"#, "http://router/routes"])
            #expect(put.status == 0 && put.stdout.contains("100000"), "\(put.stdout)\(put.stderr)")

            let first = try await h.cli(["deploy", "hello", "--version", "v1", "--wait"], timeout: .seconds(120))
            #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
            try await expectServing("v1", h, port, addresses, after: "deploy --wait", output: first.stdout)
            let log = h.server?.stderr ?? ""
            // Found by the push, or by the server's background reconnect (when the push
            // found it unreachable): the tables are sent again above it either way.
            #expect(log.contains("a fleet server's router runs a newer route table than this control plane sent; sending the tables again above it")
                    && log.contains("\(addresses[0]) at generation 100000"), "\(log.suffix(3000))")
            let routes = try await runCommand("/usr/bin/curl", ["-sS", "--unix-socket", socket, "http://router/routes"])
            let table = try JSONDecoder().decode(RouteTable.self, from: Data(routes.stdout.utf8))
            #expect(table.generation > 100000 && table.services.map(\.service) == ["hello"], "\(routes.stdout.prefix(500))")
        }
    }

    /// Every server answers with `version` now (no waiting), except one the command's output
    /// names in a `switch_unacknowledged` event (the documented limit, docs/fleet.md#limits:
    /// a server that did not confirm its table in time serves it once it answers): that
    /// one must serve `version` within 20 s. Otherwise the failure shows what each server
    /// answered and the control plane's view (events, servers, log).
    func expectServing(_ version: String, _ h: SlipwayHarness, _ port: Int, _ addresses: [String], after step: String, output: String) async throws {
        let unacknowledged = output.split(separator: "\n").filter { $0.contains("switch_unacknowledged") }
        var answers: [String] = []
        var wrong = false
        for address in addresses {
            var answer: String
            do { answer = try await h.versionAt(port: port, host: address) } catch { answer = "\(error)" }
            if answer != version, unacknowledged.contains(where: { $0.contains("server \(address)") }) {
                let late = try? await eventually("\(address), named in switch_unacknowledged, to serve \(version)", timeout: .seconds(20)) {
                    (try? await h.versionAt(port: port, host: address)) == version ? true : nil
                }
                answer = late == true ? "\(version) (after its switch_unacknowledged)" : answer
                if late == true { answers.append("\(address): \(answer)"); continue }
            }
            if answer != version { wrong = true }
            answers.append("\(address): \(answer)")
        }
        if wrong {
            let indices = addresses.compactMap { hosts.addresses.firstIndex(of: $0) }
            Issue.record("after \(step), not every server serves \(version): \(answers)\n\(output)\n\(await fleetDiagnostics(h, indices))")
        }
    }

    /// The control plane's diagnostics and the tail of each server's router log, for a
    /// failure message (what each server's router did is only in its own log).
    func fleetDiagnostics(_ h: SlipwayHarness, _ indices: [Int]) async -> String {
        var text = await h.diagnostics(service: "hello")
        for index in indices {
            let log = (try? String(contentsOfFile: "\(hosts.directory)/fleet/host\(index + 1)/state/logs/router.log", encoding: .utf8)) ?? "(no router log)"
            text += "\nrouter log of host\(index + 1) (tail):\n\(log.suffix(3000))"
        }
        return text
    }

    /// Sets up the servers and deploys v1 on them, for the scenarios that start from there.
    /// Each server is waited for (a few seconds at most): a deploy can report its switch
    /// before every server's router applied the table (the open acknowledgement race, see
    /// docs/fleet.md#limits); `blueGreenDeployAndWarmRollbackAcrossThreeServersUnderLoad`
    /// keeps checking every server at once after `deploy --wait`.
    func setUpAndDeployV1(_ h: SlipwayHarness, _ port: Int, _ addresses: [String]) async throws {
        let setup = try await h.cli(["servers", "setup"], timeout: .seconds(600))
        #expect(setup.status == 0, "\(setup.stdout)\(setup.stderr)")
        let first = try await h.cli(["deploy", "hello", "--version", "v1", "--wait"], timeout: .seconds(120))
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        for address in addresses {
            _ = try await eventually("\(address) to serve v1", timeout: .seconds(10)) { (try? await h.versionAt(port: port, host: address)) == "v1" ? true : nil }
        }
    }

    @Test func aBadCanaryAcrossTheFleetIsRolledBackByTheSumOfItsNumbers() async throws {
        try await withFleet(extra: CanaryTests.quickAnalysis, strategy: CanaryTests.canary("[ {weight: 20}, {pause: 10m} ]")) { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            let probes = addresses.map { TrafficProbe(port: port, host: $0) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.4", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("exceeded 5 %"), "\(deploy.stdout)")
            for address in addresses { #expect(try await h.versionAt(port: port, host: address) == "v1") }
            for (address, probe) in zip(addresses, probes) {
                let r = await probe.stop()
                // Every server's router split the traffic: the weight applies fleet-wide.
                #expect(r.versions["v2", default: 0] > 0, "the canary took traffic on \(address): \(r.versions)")
                #expect(r.failures.allSatisfy { $0.contains("HTTP 500") }, "only the canary's injected errors on \(address): \(r.failures.prefix(3))")
            }
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.decisions.last?.kind == .rolledBack && why.decisions.last?.actor == "analysis")
        }
    }

    @Test func aCanaryBadOnOneServerIsRolledBackNamingThatServer() async throws {
        try await withFleet(extra: CanaryTests.quickAnalysis, strategy: CanaryTests.canary("[ {weight: 50}, {pause: 10m} ]")) { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            let probes = addresses.map { TrafficProbe(port: port, host: $0) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }
            // Only the third server's canary instance fails (hello-app's FAULT_SERVER), 30 % of
            // its requests: the fleet's sum fails the 5 % check, and rarely enough in a row for
            // the router's passive health to eject it.
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.3", "--set-env", "FAULT_SERVER=\(addresses[2])", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            var results: [(ok: Int, failures: [String], versions: [String: Int])] = []
            for probe in probes { results.append(await probe.stop()) }
            #expect(results[0].failures.isEmpty && results[1].failures.isEmpty, "\(results.map { $0.failures.prefix(2) })")
            #expect(results[2].failures.contains { $0.contains("HTTP 500") }, "\(results[2].versions)")
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            let back = try #require(why.decisions.last)
            #expect(back.kind == .rolledBack && back.actor == "analysis")
            #expect(back.verdict?.worstServer?.server == addresses[2], "\(back.verdict?.servers ?? [])")
            #expect(back.summary.contains("worst server: \(addresses[2])"), "\(back.summary)")
        }
    }

    func activeRollout(_ h: SlipwayHarness) async throws -> RolloutRecord? {
        try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout).activeRollout
    }

    @Test func aServerCutOffMidRolloutPausesItAndItEndsConsistentWhenTheLinkReturns() async throws {
        // Two servers in two waves; the second's link is cut (the last test host, which no
        // other test uses at the same time).
        let last = hosts.addresses.count - 1
        try await withFleetOf([0, last], extra: "waves: [1, 100%]") { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            let probe = TrafficProbe(port: port, host: addresses[0])
            try await probe.waitForAnswer(from: "v1")
            try await hosts.whileCut(last) {
                try await cutOffMidRollout(h, port, addresses, last: last, probe: probe)
            }
        }
    }

    func cutOffMidRollout(_ h: SlipwayHarness, _ port: Int, _ addresses: [String], last: Int, probe: TrafficProbe) async throws {
        let deploy = try await h.cli(["deploy", "hello", "--version", "v2"], timeout: .seconds(120))
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")

        // Wave 1 (the first server) switches; wave 2 cannot reach its server: paused, named.
        let paused = try await eventually("the rollout to pause for the cut server", timeout: .seconds(120)) {
            try await activeRollout(h).flatMap { $0.phase == .paused ? $0 : nil }
        }
        #expect(paused.waves?.contains("wave 2 of 2: 1/2 server(s) switched") == true, "\(paused.waves ?? "")")
        #expect(paused.waves?.contains("server \(addresses[1]) does not answer") == true, "\(paused.waves ?? "")")
        #expect(try await h.versionAt(port: port, host: addresses[0]) == "v2", "the first wave's server serves v2")
        let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
        #expect(why.decisions.contains { $0.kind == .paused && $0.actor == "fleet" && $0.summary.contains(addresses[1]) }, "\(why.decisions.map(\.summary))")
        let status = try await h.cli(["status", "hello"])
        #expect(status.stdout.contains("paused"), "\(status.stdout)")

        // The link returns: the rollout goes on by itself and ends with v2 on both.
        try await hosts.restore(last)
        _ = try await eventually("the rollout to end", timeout: .seconds(180)) {
            try await activeRollout(h) == nil ? true : nil
        }
        let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
        #expect(history.first?.phase == .succeeded, "\(history.first?.reason ?? "")")
        for address in addresses { #expect(try await h.versionAt(port: port, host: address) == "v2") }
        let after = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
        #expect(after.decisions.contains { $0.kind == .resumed && $0.actor == "fleet" }, "\(after.decisions.map(\.summary))")
        let r = await probe.stop()
        #expect(r.failures.isEmpty, "\(r.failures.prefix(3))")
    }

    @Test func aCanaryPausesWhileAServerIsCutOffAndResumesWhenItAnswers() async throws {
        let last = hosts.addresses.count - 1
        try await withFleetOf([0, last], extra: CanaryTests.quickAnalysis, strategy: CanaryTests.canary("[ {weight: 50}, {pause: 10m} ]")) { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            let probe = TrafficProbe(port: port, host: addresses[0])
            try await probe.waitForAnswer(from: "v1")
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            _ = try await eventually("the canary to take traffic", timeout: .seconds(60)) {
                try await activeRollout(h)?.canary?.weight == 50 ? true : nil
            }
            try await hosts.whileCut(last) {
                let paused = try await eventually("the canary to pause for the cut server", timeout: .seconds(120)) {
                    try await activeRollout(h).flatMap { $0.canary?.pauseReason?.contains("paused by fleet: server \(addresses[1]) does not answer") == true ? $0 : nil }
                }
                #expect(paused.phase == .paused && paused.canary?.weight == 50, "the weight stays")
            }
            _ = try await eventually("the canary to resume by itself", timeout: .seconds(120)) {
                try await activeRollout(h)?.canary?.pauseReason?.hasPrefix("paused by fleet") == false ? true : nil
            }
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            #expect(why.decisions.contains { $0.kind == .resumed && $0.actor == "fleet" }, "\(why.decisions.map(\.summary))")
            let abort = try await h.cli(["abort", "hello"])
            #expect(abort.status == 0, "\(abort.stdout)\(abort.stderr)")
            let r = await probe.stop()
            #expect(r.failures.isEmpty, "the reachable server never failed a request: \(r.failures.prefix(3))")
        }
    }

    /// A canary aborted while one of its servers is cut off: the servers that answer take
    /// weight 0 at once, the cut one is named in a `switch_unacknowledged` event of the
    /// rollout (every canary weight step is reported like a switch, docs/fleet.md#limits) but
    /// not in the rollouts of a service it is no server of, and once its link is back its
    /// router gets the table and serves the stable release only.
    @Test func aCanaryAbortedWhileAServerIsCutOffNamesItAndItServesTheStableReleaseWhenBack() async throws {
        let last = hosts.addresses.count - 1
        try await withFleetOf([0, last], extra: CanaryTests.quickAnalysis, strategy: CanaryTests.canary("[ {weight: 50}, {pause: 10m} ]")) { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let rollout = try await eventually("the canary to take traffic", timeout: .seconds(60)) {
                try await activeRollout(h).flatMap { $0.canary?.weight == 50 ? $0 : nil }
            }
            /// `count` requests to the server at `address`: the versions that answered.
            func versions(at address: String, _ count: Int) async throws -> Set<String> {
                var seen: Set<String> = []
                for _ in 0..<count { seen.insert(try await h.versionAt(port: port, host: address)) }
                return seen
            }
            try await hosts.whileCut(last) {
                _ = try await eventually("the canary to pause for the cut server", timeout: .seconds(120)) {
                    try await activeRollout(h)?.canary?.pauseReason?.hasPrefix("paused by fleet") == true ? true : nil
                }
                let abort = try await h.cli(["abort", "hello"])
                #expect(abort.status == 0, "\(abort.stdout)\(abort.stderr)")
                let ended = try await eventually("the aborted rollout to end", timeout: .seconds(60)) { () -> RolloutRecord? in
                    let record = try decode(RolloutRecord.self, try await h.api("/v1/rollouts/\(rollout.id)").body)
                    return record.phase.isTerminal && record.settling != true ? record : nil
                }
                #expect(ended.phase == .failed, "\(ended.phase)")
                let unacknowledged = (ended.events ?? []).filter { $0.kind == "switch_unacknowledged" }
                if !unacknowledged.contains(where: { $0.message.hasPrefix("canary v2 set to 0 % of requests") && $0.message.contains("server \(addresses[1])") }) {
                    Issue.record("the cut server is not named: \(unacknowledged.map(\.message))\n\(await fleetDiagnostics(h, [0, last]))")
                }
                #expect(!unacknowledged.contains { $0.message.contains("server \(addresses[0])") }, "the server that answers confirmed: \(unacknowledged.map(\.message))")
                #expect(try await versions(at: addresses[0], 20) == ["v1"], "the server that answers serves the stable release only")

                // A service of this machine deployed meanwhile: the cut server is none of its
                // servers, so its switch is not reported as unacknowledged.
                let solo = try h.helloConfig(name: "solo", replicas: 1)
                let apply = try await h.cli(["apply", "-f", solo.path])
                #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
                let local = try await h.cli(["deploy", "solo", "--version", "v1", "--wait"])
                #expect(local.status == 0, "\(local.stdout)\(local.stderr)")
                let soloRollout = try #require(try decode([RolloutRecord].self, try await h.cli(["history", "solo", "-o", "json"]).stdout).first)
                let soloEvents = try decode(RolloutRecord.self, try await h.api("/v1/rollouts/\(soloRollout.id)").body).events ?? []
                #expect(soloEvents.contains { $0.kind == "switched" }, "the rollout's events are read: \(soloEvents.map(\.kind))")
                #expect(!soloEvents.contains { $0.kind == "switch_unacknowledged" }, "\(soloEvents.map(\.message))")
            }
            _ = try await eventually("\(addresses[1]), back, to serve the stable release only", timeout: .seconds(60)) {
                try await versions(at: addresses[1], 20) == ["v1"] ? true : nil
            }
        }
    }

    @Test func underMaxFailedHostsACutServerIsLeftOutThenReconciledWhenBack() async throws {
        let last = hosts.addresses.count - 1
        try await withFleetOf([0, last], extra: "max_failed_hosts: 1") { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            try await hosts.whileCut(last) {
                let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"], timeout: .seconds(180))
                #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
                #expect(deploy.stdout.contains("going on without \(addresses[1])"), "the left-out server is named: \(deploy.stdout)")
                #expect(try await h.versionAt(port: port, host: addresses[0]) == "v2")
            }
            // Back: it serves v1 (all it has) until its v2 instance is healthy, then v2 —
            // never an error in between.
            let probe = TrafficProbe(port: port, host: addresses[1])
            do {
                try await probe.waitForAnswer(from: "v2", timeout: .seconds(120))
            } catch {
                _ = await probe.stop()
                Issue.record("\(error)\n\(await h.diagnostics(service: "hello"))")
                return
            }
            let r = await probe.stop()
            #expect(r.failures.isEmpty, "the returning server failed requests: \(r.failures.prefix(3))")
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(s.instances.filter { $0.version == "v2" }.compactMap(\.server).sorted() == addresses.sorted(), "\(s.instances.map { ($0.id, $0.server ?? "-") })")
        }
    }

    /// The first wave is the server with the `canary` role (the last one listed).
    @Test func aFailingWaveStopsTheRolloutAndSwitchesItsServersBack() async throws {
        try await withFleetOf([0, 1, 2], extra: CanaryTests.quickAnalysis + "\nwaves: { sizes: [{ roles: [canary] }, 100%], analysis: default }",
                              serverExtra: { $0 == 2 ? ", roles: [canary]" : "" }) { h, port, all in
            let addresses = [all[2], all[0], all[1]]
            try await setUpAndDeployV1(h, port, addresses)
            let probes = addresses.map { TrafficProbe(port: port, host: $0) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.4", "--wait"], timeout: .seconds(180))
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("after wave 1"), "\(deploy.stdout)")
            #expect(deploy.stdout.contains("wave 1 of 2: starting 1 instance(s) of v2 on \(addresses[0])"), "\(deploy.stdout)")
            for address in addresses { #expect(try await h.versionAt(port: port, host: address) == "v1") }
            var results: [(ok: Int, failures: [String], versions: [String: Int])] = []
            for probe in probes { results.append(await probe.stop()) }
            // Only the first wave's server ever served v2 (and its injected errors).
            #expect(results[0].versions["v2", default: 0] > 0, "\(results[0].versions)")
            #expect(results[0].failures.allSatisfy { $0.contains("HTTP 500") }, "\(results[0].failures.prefix(3))")
            for (address, r) in zip(addresses, results).dropFirst() {
                #expect(r.versions["v2", default: 0] == 0 && r.failures.isEmpty, "\(address) stayed on v1: \(r.versions) \(r.failures.prefix(3))")
            }
            let why = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout)
            let back = why.decisions.last
            #expect(back?.kind == .rolledBack && back?.actor == "analysis" && back?.summary.contains("switched \(addresses[0]) back to v1") == true, "\(why.decisions.map(\.summary))")
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(s.instances.filter { $0.version == "v2" && $0.state != .stopping && $0.state != .stopped }.isEmpty, "v2 stopped")
        }
    }

    @Test func sigkillOfTheControlPlaneMidFleetRolloutDropsNothing() async throws {
        try await withFleet(extra: "waves: [1, 100%]") { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            let probes = addresses.map { TrafficProbe(port: port, host: $0) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }
            // Wave 2 waits while the second server's v2 instance is held unhealthy; the
            // control plane is killed then, mid-rollout with servers on both versions.
            let hold = h.directory.file("hold-unhealthy")
            _ = FileManager.default.createFile(atPath: hold, contents: nil)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY_FILE=\(hold)", "--set-env", "FAULT_SERVER=\(addresses[1])"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            _ = try await eventually("wave 2's instances to start") {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return s.instances.filter { $0.version == "v2" }.count == addresses.count && s.activeRollout?.waves?.contains("1/3 server(s) switched") == true ? true : nil
            }
            #expect(try await h.versionAt(port: port, host: addresses[0]) == "v2")
            #expect(try await h.versionAt(port: port, host: addresses[1]) == "v1")
            try await h.killServer()
            try await h.startServer(extraArguments: ["--ssh-config", hosts.sshConfig])
            try FileManager.default.removeItem(atPath: hold)
            _ = try await eventually("the resumed rollout to end with v2 on every server", timeout: .seconds(90)) { () -> Bool? in
                for address in addresses where (try? await h.versionAt(port: port, host: address)) != "v2" { return nil }
                return true
            }
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(s.instances.filter { $0.version == "v2" }.count == addresses.count, "adopted, not started twice: \(s.instances.map(\.id))")
            for (address, probe) in zip(addresses, probes) {
                let r = await probe.stop()
                #expect(r.failures.isEmpty, "failed requests on \(address): \(r.failures.prefix(5))")
            }
        }
    }

    /// A server taken out of `servers:`: its instances stop, its router gets a table without
    /// the service and is stopped once no service lists it; the others serve on (zero failed
    /// requests, through a `servers setup` too). A server added runs the fleet's release.
    @Test func aServerTakenOutOfServersIsCleanedUpWhileTheOthersServeOn() async throws {
        // Three servers, then a fourth added: the 4 hosts scripts/test.sh starts.
        try #require(hosts.addresses.count >= 4, "this test adds a fourth server: start 4 test hosts (`scripts/test-hosts.sh start 4`, as scripts/test.sh does), not \(hosts.addresses.count)")
        try await withFleet { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            let removed = addresses[2]
            let routerPID = try #require((try? String(contentsOfFile: "\(hosts.directory)/fleet/host3/state/router.pid", encoding: .utf8))
                .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            #expect(kill(routerPID, 0) == 0)
            let probes = addresses.prefix(2).map { TrafficProbe(port: port, host: $0) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }

            let config = h.directory.file("hello.yml")
            let text = try String(contentsOfFile: config, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.contains("ssh://root@\(removed),") }.joined(separator: "\n")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let apply = try await h.cli(["apply", "-f", config])
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")

            _ = try await eventually("the instance on \(removed) to stop and its router to exit", timeout: .seconds(60)) { () -> Bool? in
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return !s.instances.contains { $0.server == removed } && kill(routerPID, 0) != 0 ? true : nil
            }
            struct Event: Decodable { var kind: String; var message: String }
            let events = try decode([Event].self, try await h.api("/v1/services/hello/events?limit=500").body)
            #expect(events.contains { $0.kind == "server_removed" && $0.message.contains("server \(removed) is no longer among the servers of hello") }, "\(events.map(\.message))")
            // The router's exit is seen before the control plane has recorded it: waited for.
            _ = try await eventually("the removal to be audited and the server forgotten") { () -> Bool? in
                let audit = try await h.cli(["audit", "list", "--limit", "500", "-o", "json"])
                let servers = try await h.cli(["servers", "status"])
                return audit.stdout.contains("server.removed") && audit.stdout.contains("stopped its router \(routerPID)")
                    && !servers.stdout.contains(removed) && servers.status == 0 ? true : nil
            }

            // A server added to `servers:` (and set up) runs the fleet's release at once.
            let added = hosts.addresses[3]
            let addedDir = "\(hosts.directory)/fleet/host4"
            try? FileManager.default.removeItem(atPath: addedDir + "/state")
            let grown = text.replacingOccurrences(of: "servers:\n", with: "servers:\n  - { url: ssh://root@\(added), dir: \(addedDir) }\n")
            try grown.write(toFile: config, atomically: true, encoding: .utf8)
            let reapply = try await h.cli(["apply", "-f", config])
            #expect(reapply.status == 0, "\(reapply.stdout)\(reapply.stderr)")
            let setup = try await h.cli(["servers", "setup"], timeout: .seconds(600))
            #expect(setup.status == 0 && setup.stdout.contains("router") , "\(setup.stdout)\(setup.stderr)")
            _ = try await eventually("\(added) to serve v1", timeout: .seconds(90)) { (try? await h.versionAt(port: port, host: added)) == "v1" ? true : nil }
            let reconciled = try decode([Event].self, try await h.api("/v1/services/hello/events?limit=500").body)
            #expect(reconciled.contains { $0.kind == "server_reconciled" && $0.message.contains("server \(added) runs 0 of 1 instance(s) of v1") }, "\(reconciled.map(\.message))")

            // The servers listed now take the next release; the removed one stays out.
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for address in addresses.prefix(2) + [added] { #expect(try await h.versionAt(port: port, host: address) == "v2") }
            let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            #expect(!s.instances.contains { $0.server == removed }, "\(s.instances.map { ($0.id, $0.server ?? "-") })")
            SlipwayHarness.killProcesses(mentioning: addedDir + "/")
            for (address, probe) in zip(addresses, probes) {
                let result = await probe.stop()
                #expect(result.failures.isEmpty, "failed requests on \(address): \(result.failures.prefix(5))")
            }
        }
    }

    /// A control plane of a new build sets the servers up again under load: each server's
    /// router hands its listening sockets to a router of the new build and drains; no request
    /// fails on any server.
    @Test func setupWithANewBuildReplacesEveryRouterUnderLoadWithoutAFailedRequest() async throws {
        try await withFleetOf([0, 1]) { h, port, addresses in
            try await setUpAndDeployV1(h, port, addresses)
            let oldPIDs = try addresses.indices.map { index in
                try #require((try? String(contentsOfFile: "\(hosts.directory)/fleet/host\(index + 1)/state/router.pid", encoding: .utf8))
                    .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            }
            let probes = addresses.map { TrafficProbe(port: port, host: $0) }
            for probe in probes { try await probe.waitForAnswer(from: "v1") }

            // The control plane restarts from a new build (the same program with other bytes:
            // another build id), which finds every server's router on the old build…
            try await h.stopControlPlane()
            let slipway = try h.runFromCopies(in: h.directory.file("bin"))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: slipway))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("slipway-test-build-\(UUID().uuidString)".utf8))
            try handle.close()
            try await h.startServer(extraArguments: ["--ssh-config", hosts.sshConfig])
            let skew = try await h.cli(["servers", "status"])
            #expect(skew.status == 1 && skew.stdout.contains("version skew"), "\(skew.stdout)\(skew.stderr)")

            // …and `servers setup` replaces them: the new router takes the sockets over.
            let setup = try await h.cli(["servers", "setup"], timeout: .seconds(600))
            #expect(setup.status == 0, "\(setup.stdout)\(setup.stderr)")
            for pid in oldPIDs { #expect(setup.stdout.contains("which took over from router \(pid)"), "\(setup.stdout)") }
            _ = try await eventually("the old routers to drain and exit", timeout: .seconds(90)) { oldPIDs.allSatisfy { kill($0, 0) != 0 } ? true : nil }
            let current = try await h.cli(["servers", "status"])
            #expect(current.status == 0 && !current.stdout.contains("version skew"), "\(current.stdout)\(current.stderr)")
            // A deploy through the new routers, still under the same load.
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"], timeout: .seconds(120))
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for (address, probe) in zip(addresses, probes) {
                let result = await probe.stop()
                #expect(result.failures.isEmpty, "failed requests on \(address) through the router hand-over: \(result.failures.prefix(5))")
                #expect(result.versions["v1", default: 0] > 0 && result.versions["v2", default: 0] > 0, "\(address): \(result.versions)")
            }
        }
    }

    @Test func aChangedHostKeyIsRefusedBySetup() async throws {
        let dir = try TemporaryDirectory(prefix: "fleet-keys")
        defer { dir.remove() }
        _ = try await runCommand("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", dir.file("other")])
        let otherKey = try String(contentsOfFile: dir.file("other.pub"), encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let known = try String(contentsOfFile: hosts.knownHosts, encoding: .utf8).split(separator: "\n")
            .map { $0.hasPrefix(hosts.addresses[1] + " ") ? "\(hosts.addresses[1]) \(otherKey)" : String($0) }.joined(separator: "\n") + "\n"
        try known.write(toFile: dir.file("known_hosts"), atomically: true, encoding: .utf8)
        try await withFleet(count: 2, sshConfig: try hosts.config(knownHosts: dir.file("known_hosts"), in: dir.path)) { h, _, addresses in
            let setup = try await h.cli(["servers", "setup"], timeout: .seconds(600))
            #expect(setup.status == 1)
            #expect(setup.stdout.contains("\(addresses[0]): ok"), "\(setup.stdout)")
            #expect(setup.stdout.contains("\(addresses[1]): FAILED — the host key of ssh://root@\(addresses[1]) has CHANGED"), "\(setup.stdout)")
            #expect(setup.stdout.contains("ssh-keygen -f"), "the fix is named: \(setup.stdout)")
            let status = try await h.cli(["servers", "status"])
            #expect(status.status == 1)
            #expect(status.stdout.contains("\(addresses[1]): the host key"), "\(status.stdout)")
        }
    }
}
