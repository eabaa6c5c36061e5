import Foundation
import SlipwayCore
import Testing

/// The fleet's waves driven by a manual clock: which servers start and switch in which
/// wave, analysis between waves, a server that does not answer (pause, or left out under
/// max_failed_hosts), a wave late past its deadline, and the failure that switches every
/// server back. The test plays the controller.
@Suite struct WavesMachineTests {
    static let quick = AnalysisPolicy(interval: .seconds(5), inconclusiveLimit: 3)
    static let servers = ["s1", "s2", "s3", "s4"]

    func machine(_ sizes: [WaveSize], analysis: String? = nil, maxFailed: Int = 0) -> RolloutMachine {
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 8, warm: false,
                                   spec: BlueGreenSpec(deployTimeout: .seconds(60), drainTimeout: .seconds(30)), now: 1000)
        state.waves = WavesProgress(spec: WavesSpec(sizes: sizes, analysis: analysis), servers: Self.servers, perServer: 2,
                                    maxFailedServers: maxFailed, policies: ["default": Self.quick])
        return RolloutMachine(state: state)
    }

    func verdict(errors: UInt64) -> AnalysisRunVerdict {
        let window = MetricWindow(seconds: 30, canary: VersionWindow(version: "v2", requests: 400, errors: errors, latency: [LatencyBucket(valueMicroseconds: 10_000, count: 400)]),
                                  stable: VersionWindow(version: "v1", requests: 1000, errors: 1, latency: [LatencyBucket(valueMicroseconds: 10_000, count: 1000)]))
        return CheckJudge.run(Self.quick) { _ in window }
    }

    func decisions(_ actions: [RolloutAction]) -> [DecisionDraft] {
        actions.compactMap { if case .decide(let d) = $0 { return d } else { return nil } }
    }

    func started(_ actions: [RolloutAction]) -> Int? {
        actions.lazy.compactMap { if case .startInstances(_, let count) = $0 { return count } else { return nil } }.first
    }

    func healthy(_ servers: [String]) -> RolloutInput {
        .serverHealth(Dictionary(uniqueKeysWithValues: servers.map { ($0, 2) }))
    }

    @Test func sizesBecomeRisingServerCountsEndingWithTheFleet() {
        #expect(WavesSpec(sizes: [.hosts(1), .percent(25), .percent(100)]).plan(servers: 10) == [1, 3, 10])
        #expect(WavesSpec(sizes: [.hosts(1), .percent(25), .percent(100)]).plan(servers: 4) == [1, 4], "25% of 4 is the one server already switched")
        #expect(WavesSpec(sizes: [.hosts(2)]).plan(servers: 3) == [2, 3], "the fleet is always covered at the end")
        #expect(WavesSpec().plan(servers: 12) == [12])
        #expect(WaveSize.parse("0") == nil && WaveSize.parse("101%") == nil && WaveSize.parse("x%") == nil && WaveSize.parse("50%") == .percent(50))
    }

    @Test func selectorsTakeServersByRoleAndLabelAndSizesTakeTheRestInOrder() throws {
        let fleet = [
            ServerSpec(host: "a", roles: ["web"], labels: ["zone": "eu-1"]),
            ServerSpec(host: "b", roles: ["web"], labels: ["zone": "eu-2"]),
            ServerSpec(host: "c", roles: ["web", "canary"], labels: ["zone": "eu-2"]),
            ServerSpec(host: "d", roles: ["worker"], labels: ["zone": "eu-1"]),
            ServerSpec(host: "e", roles: ["web"], labels: ["zone": "eu-1"]),
        ]
        let canary = ServerSelector(roles: ["canary"])
        let eu2 = ServerSelector(labels: ["zone": "eu-2"])
        // The canary server first, then the rest of eu-2, then everything.
        var layout = WavesSpec(sizes: [.select(canary), .select(eu2), .percent(100)]).layout(fleet)
        #expect(layout.order == ["c", "b", "a", "d", "e"] && layout.plan == [1, 2, 5], "\(layout)")
        // A count before a selector leaves that selector's servers for its own wave.
        layout = WavesSpec(sizes: [.hosts(2), .select(eu2), .percent(100)]).layout(fleet)
        #expect(layout.order == ["a", "d", "b", "c", "e"] && layout.plan == [2, 4, 5], "\(layout)")
        // Roles are any-of, labels all-of; what no wave names comes last.
        layout = WavesSpec(sizes: [.select(ServerSelector(roles: ["worker", "canary"], labels: ["zone": "eu-1"]))]).layout(fleet)
        #expect(layout.order == ["d", "a", "b", "c", "e"] && layout.plan == [1, 5], "\(layout)")
        // The waves machine takes them in that order.
        var state = BlueGreenState(kind: .deploy, targetVersion: "v2", fromVersion: "v1", replicas: 5, warm: false,
                                   spec: BlueGreenSpec(deployTimeout: .seconds(60), drainTimeout: .seconds(30)), now: 1000)
        state.waves = WavesProgress(spec: WavesSpec(sizes: [.select(canary), .percent(100)]), servers: fleet, perServer: 1, maxFailedServers: 0, policies: [:])
        var m = RolloutMachine(state: state)
        _ = m.handle(.begin, now: 1000)
        #expect(m.state.waves?.coveredServers == ["c"])
        // Selectors survive the rollout's JSON (a control plane restarted mid-rollout).
        let spec = WavesSpec(sizes: [.select(canary), .hosts(2), .percent(100)])
        #expect(try JSONDecoder().decode(WavesSpec.self, from: JSONEncoder().encode(spec)) == spec)
    }

    @Test func eachWaveStartsAndSwitchesItsOwnServersThenTheLastIsTheBlueGreenSwitch() {
        var m = machine([.hosts(1), .percent(50), .percent(100)])
        var actions = m.handle(.begin, now: 1000)
        #expect(started(actions) == 2, "wave 1: two instances on s1")
        #expect(m.state.waves?.coveredServers == ["s1"])

        // Health elsewhere does not count; s1's does.
        #expect(m.handle(.serverHealth(["s2": 2]), now: 1001).isEmpty)
        #expect(m.handle(.serverHealth(["s1": 1]), now: 1001).isEmpty)
        actions = m.handle(healthy(["s1"]), now: 1002)
        #expect(actions.contains(.updateRoutes))
        #expect(decisions(actions).first?.summary.contains("wave 1 of 3 switched to v2: s1 (1/4 servers") == true, "\(decisions(actions))")
        #expect(m.state.waves?.switched == ["s1"])
        #expect(started(actions) == 4, "wave 2: s1 and s2")
        #expect(m.state.phase == .waitingHealthy && m.state.switchedAt == nil)

        actions = m.handle(healthy(["s1", "s2"]), now: 1010)
        #expect(m.state.waves?.switched == ["s1", "s2"])
        #expect(started(actions) == 8)

        actions = m.handle(healthy(Self.servers), now: 1020)
        #expect(actions.contains(.switchTraffic(to: "v2", from: "v1")), "\(actions)")
        #expect(m.state.phase == .draining)
        // From here it is blue-green: drained, then succeeded with v1 kept warm.
        _ = m.handle(.previousInflight(0), now: 1021)
        #expect(m.state.phase == .succeeded)
    }

    @Test func aFailedAnalysisAfterAWaveSwitchesEveryServerBack() {
        var m = machine([.hosts(1), .percent(100)], analysis: "default")
        _ = m.handle(.begin, now: 1000)
        var actions = m.handle(healthy(["s1"]), now: 1002)
        #expect(started(actions) == nil, "the next wave waits for the analysis")
        #expect(m.state.phase == .progressing)
        actions = m.handle(.tick, now: 1007)
        #expect(actions == [.analyze(policy: "default", purpose: .step)])
        actions = m.handle(.analysisResult(purpose: .step, verdict: verdict(errors: 120)), now: 1008)
        #expect(m.state.phase == .failed)
        #expect(m.state.waves?.switched == [])
        let back = decisions(actions).first { $0.kind == .rolledBack }
        #expect(back?.summary.contains("switched s1 back to v1") == true, "\(decisions(actions))")
        #expect(actions.firstIndex(of: .updateRoutes)! < actions.firstIndex(of: .stopInstances(version: "v2"))!, "back on v1 before v2 stops")
    }

    @Test func aPassingAnalysisStartsTheNextWave() {
        var m = machine([.hosts(1), .percent(100)], analysis: "default")
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(healthy(["s1"]), now: 1002)
        _ = m.handle(.tick, now: 1007)
        let actions = m.handle(.analysisResult(purpose: .step, verdict: verdict(errors: 0)), now: 1008)
        #expect(decisions(actions).contains { $0.kind == .analysisPassed })
        #expect(started(actions) == 8)
    }

    @Test func aServerThatDoesNotAnswerPausesTheRolloutUntilItAnswers() {
        var m = machine([.hosts(2), .percent(100)])
        _ = m.handle(.begin, now: 1000)
        var actions = m.handle(.serversUnreachable(["s2": "connection timed out", "s4": "refused"]), now: 1001)
        #expect(m.state.phase == .paused)
        let paused = decisions(actions).first
        #expect(paused?.kind == .paused && paused?.summary.contains("server s2 does not answer (connection timed out)") == true, "\(paused?.summary ?? "")")
        #expect(paused?.summary.contains("s4") == false, "s4 is not in this wave")
        // Nothing moves while paused, not even the deadline.
        #expect(m.handle(healthy(["s1", "s2"]), now: 1002).isEmpty)
        #expect(m.handle(.tick, now: 5000).isEmpty)
        #expect(m.handle(.serversUnreachable(["s2": "still"]), now: 5001).isEmpty)
        actions = m.handle(.serversUnreachable([:]), now: 5002)
        #expect(m.state.phase == .waitingHealthy)
        #expect(decisions(actions).first?.kind == .resumed && decisions(actions).first?.actor == "fleet")
        #expect(started(actions) == 4)
        _ = m.handle(healthy(["s1", "s2"]), now: 5003)
        #expect(m.state.waves?.switched == ["s1", "s2"])
    }

    @Test func underMaxFailedHostsAServerIsLeftOutAndTheRestGoesOn() {
        var m = machine([.percent(50), .percent(100)], maxFailed: 1)
        _ = m.handle(.begin, now: 1000)
        var actions = m.handle(.serversUnreachable(["s2": "no route to host"]), now: 1001)
        #expect(m.state.phase == .waitingHealthy)
        #expect(decisions(actions).first?.summary.contains("going on without s2 (no route to host)") == true, "\(decisions(actions))")
        actions = m.handle(healthy(["s1"]), now: 1002)
        #expect(m.state.waves?.switched == ["s1"])
        #expect(started(actions) == 6, "s1, s3, s4: s2 is left out")
        // A second server lost is one too many: pause.
        _ = m.handle(.serversUnreachable(["s2": "no route to host", "s3": "timed out"]), now: 1003)
        #expect(m.state.phase == .paused)
        _ = m.handle(.serversUnreachable(["s2": "no route to host"]), now: 1004)
        actions = m.handle(healthy(["s1", "s3", "s4"]), now: 1005)
        #expect(actions.contains(.switchTraffic(to: "v2", from: "v1")))
        #expect(m.state.waves?.skipped.keys.sorted() == ["s2"])
    }

    @Test func aWaveLatePastItsDeadlineFailsNamingTheServerOrLeavesItOut() {
        var strict = machine([.percent(50), .percent(100)])
        _ = strict.handle(.begin, now: 1000)
        _ = strict.handle(.serverHealth(["s1": 2, "s2": 1]), now: 1010)
        #expect(strict.handle(.tick, now: 1059).isEmpty)
        _ = strict.handle(.tick, now: 1060)
        #expect(strict.state.phase == .failed)
        #expect(strict.state.failureReason?.contains("wave 1: instances of v2 on s2 did not become healthy within 1m") == true, "\(strict.state.failureReason ?? "")")

        var lenient = machine([.percent(50), .percent(100)], maxFailed: 1)
        _ = lenient.handle(.begin, now: 1000)
        _ = lenient.handle(.serverHealth(["s1": 2, "s2": 1]), now: 1010)
        let actions = lenient.handle(.tick, now: 1060)
        #expect(lenient.state.waves?.switched == ["s1"] && lenient.state.waves?.skipped["s2"] != nil)
        #expect(started(actions) == 6)
    }

    @Test func pauseAndResumeByAPersonAndAbortSwitchesBack() {
        var m = machine([.hosts(1), .percent(100)])
        _ = m.handle(.begin, now: 1000)
        _ = m.handle(healthy(["s1"]), now: 1001)
        var actions = m.handle(.command(.pause, by: "alice"), now: 1002)
        #expect(m.state.phase == .paused && decisions(actions).first?.actor == "alice")
        #expect(m.handle(healthy(Self.servers), now: 1003).isEmpty, "no switch while paused")
        actions = m.handle(.command(.resume, by: "bob"), now: 1004)
        #expect(m.state.phase == .waitingHealthy && decisions(actions).first?.kind == .resumed)
        actions = m.handle(.abort(reason: "aborted by carol"), now: 1005)
        #expect(m.state.phase == .failed && m.state.waves?.switched == [])
        #expect(actions.contains(.updateRoutes) && actions.contains(.stopInstances(version: "v2")))
    }

    @Test func aWarmRollbackSwitchesAtOnce() {
        var state = BlueGreenState(kind: .rollback, targetVersion: "v1", fromVersion: "v2", replicas: 8, warm: true, spec: BlueGreenSpec(), now: 1000)
        state.waves = WavesProgress(spec: WavesSpec(), servers: Self.servers, perServer: 2, maxFailedServers: 0, policies: [:])
        var m = RolloutMachine(state: state)
        let actions = m.handle(.begin, now: 1000)
        #expect(actions.contains(.switchTraffic(to: "v1", from: "v2")))
        #expect(m.state.phase == .draining)
    }

    @Test func aFleetVerdictNamesTheServerThatStandsOut() {
        var verdict = verdict(errors: 120)
        verdict.servers = [ServerNumbers(server: "s3", requests: 130, errors: 117), ServerNumbers(server: "s1", requests: 135, errors: 2), ServerNumbers(server: "s2", requests: 135, errors: 1)]
        #expect(verdict.worstServer?.server == "s3")
        #expect(verdict.summary.hasSuffix("; worst server: s3 90.0 % errors of 130 (the other 2: 1.1 %)"), "\(verdict.summary)")
        // Errors spread evenly: no server is singled out.
        verdict.servers = [ServerNumbers(server: "s1", requests: 100, errors: 30), ServerNumbers(server: "s2", requests: 100, errors: 29)]
        #expect(verdict.worstServer == nil && !verdict.summary.contains("worst server"))
        // No errors anywhere, or one server: nothing to name.
        verdict.servers = [ServerNumbers(server: "s1", requests: 100, errors: 0), ServerNumbers(server: "s2", requests: 100, errors: 0)]
        #expect(verdict.worstServer == nil)
        verdict.servers = [ServerNumbers(server: "s1", requests: 100, errors: 50)]
        #expect(verdict.worstServer == nil)
    }
}
