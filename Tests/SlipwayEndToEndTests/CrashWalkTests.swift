import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// SIGKILL of the control plane at every crash point of a rollout, walked in turn for each
/// strategy: deploy N+1 is killed at its Nth point (`SLIPWAY_FAULT_KILL_AT`: a rollout
/// persisted, or an action performed after that), the control plane is started again, and
/// the rollout must end succeeded with traffic on the new release, every running instance
/// recorded and every recorded one running (no orphan, no duplicate), and no failed request
/// over the whole walk. The walk ends when a deploy finishes before reaching its point.
@Suite(.serialized) struct CrashWalkTests {
    @Test(.timeLimit(.minutes(10)))
    func blueGreenSurvivesASigkillAtEveryCrashPoint() async throws {
        try await walk(replicas: 2, extra: "", strategy: nil, minimumPoints: 5)
    }

    @Test(.timeLimit(.minutes(10)))
    func canarySurvivesASigkillAtEveryCrashPoint() async throws {
        try await walk(replicas: 1, extra: CanaryTests.quickAnalysis,
                       strategy: CanaryTests.canary("[ {weight: 50}, {pause: 1s} ]").replacingOccurrences(of: "deploy_timeout: 20s", with: "deploy_timeout: 60s"), minimumPoints: 6)
    }

    @Test(.timeLimit(.minutes(10)))
    func rollingSurvivesASigkillAtEveryCrashPoint() async throws {
        try await walk(replicas: 2, extra: "", strategy: "rolling: { max_surge: 1, max_unavailable: 0, deploy_timeout: 60s, drain_timeout: 2s }", minimumPoints: 6)
    }

    /// Deploy timeouts are 60 s: they only bound a broken run, and this suite runs beside the
    /// fleet suites, where a loaded machine once took over 20 s to start two instances.
    func walk(replicas: Int, extra: String, strategy: String?, minimumPoints: Int) async throws {
        try await withHello(replicas: replicas, extra: extra, deployTimeout: "60s", strategy: strategy) { h, port in
            let probe = TrafficProbe(port: port, limit: 200_000, pace: .milliseconds(5))
            try await probe.waitForAnswer(from: "v1")
            var version = 1
            // CRASH_WALK_FROM=N starts the walk at point N (to look at one point again).
            var point = (ProcessInfo.processInfo.environment["CRASH_WALK_FROM"].flatMap { Int($0) } ?? 1) - 1
            var walked: [String] = []
            while true {
                point += 1
                version += 1
                let target = "v\(version)"
                try await h.stopControlPlane()
                try await h.startServer(environment: ProcessInfo.processInfo.environment.merging(["SLIPWAY_FAULT_KILL_AT": "\(point)"]) { $1 })
                // The kill may come while the API answers (the first point): the CLI then fails.
                _ = try await h.cli(["deploy", "hello", "--version", target])
                let killed = try await eventually("crash point \(point) or the end of the rollout to \(target)", timeout: .seconds(60)) { () -> Bool? in
                    if h.server?.isRunning == false { return true }
                    guard let latest = try? await self.latestRollout(h), latest.toVersion == target, latest.phase.isTerminal else { return nil }
                    // Points follow the last transition too (its actions): the walk goes on
                    // only once the control plane logged the rollout's end, after them all.
                    let ended = (h.server?.stderr ?? "").split(separator: "\n").contains { $0.contains("rollout ended") && $0.contains("slipway.rollout=\(latest.id) ") }
                    return ended ? false : nil
                }
                if killed {
                    let log = h.server?.stderr ?? ""
                    let line = log.split(separator: "\n").last { $0.contains("fault injection: SIGKILL at crash point") }
                    #expect(line != nil, "the control plane died at point \(point) without the fault injection: \(log.suffix(2000))")
                    walked.append(line.map { String($0.split(separator: ": ", maxSplits: 1).last ?? $0) } ?? "?")
                    try await h.killServer()
                    try await h.startServer()
                }
                let end: RolloutRecord
                do {
                    end = try await eventually("the rollout to \(target) to end after crash point \(point)", timeout: .seconds(90)) { () -> RolloutRecord? in
                        guard let latest = try? await self.latestRollout(h), latest.toVersion == target, latest.phase.isTerminal else { return nil }
                        return latest
                    }
                } catch {
                    Issue.record("killed at point \(point) (\(walked.last ?? "-")), the rollout did not end:\n\(await h.diagnostics(service: "hello", events: 60))")
                    throw error
                }
                if end.phase != .succeeded {
                    Issue.record("killed at point \(point) (\(walked.last ?? "-")): \(end.phase) \(end.reason ?? "")\n\(await h.diagnostics(service: "hello"))")
                }
                try await expectConsistent(h, port: port, serving: target, replicas: replicas, point: point)
                if !killed { break }
            }
            print("crash walk (\(strategy ?? "blue-green")): \(walked.count) point(s): \(walked.joined(separator: " | "))")
            #expect(point - 1 >= minimumPoints, "walked \(point - 1) crash point(s): \(walked)")
            let result = await probe.stop()
            #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5)) (points walked: \(walked))")
            #expect(result.ok > 0)
        }
    }

    func latestRollout(_ h: SlipwayHarness) async throws -> RolloutRecord? {
        try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout).first
    }

    /// Traffic on `serving`, no rollout running, and the running instances exactly the
    /// recorded ones (stops after a switch may still be draining: waited for).
    func expectConsistent(_ h: SlipwayHarness, port: Int, serving: String, replicas: Int, point: Int) async throws {
        do {
            _ = try await eventually("\(serving) to serve after crash point \(point)", timeout: .seconds(60)) { (try? await h.versionAt(port: port)) == serving ? true : nil }
        } catch {
            let answer: String
            do { answer = try await h.versionAt(port: port) } catch { answer = "\(error)" }
            Issue.record("after crash point \(point) the router answers \(answer)\n\(await h.diagnostics(service: "hello"))")
            throw error
        }
        for _ in 0..<5 { #expect(try await h.versionAt(port: port) == serving) }
        var last = ""
        let status: ServiceStatus
        do {
            status = try await eventually("the instances to match the processes after crash point \(point)", timeout: .seconds(60)) { () -> ServiceStatus? in
                let status = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                let recorded = Set(status.instances.filter { $0.state == .running }.map(\.pid))
                let stopping = status.instances.contains { $0.state != .running }
                let processes = Self.instanceProcesses(under: h.stateDir)
                last = "recorded \(status.instances.map { "\($0.id) \($0.state) pid \($0.pid)" }), processes \(processes.sorted())"
                return !stopping && recorded == processes ? status : nil
            }
        } catch {
            Issue.record("after crash point \(point): \(last)")
            throw error
        }
        #expect(status.activeRollout == nil)
        #expect(status.stableVersion == serving)
        let instances = status.instances.filter { $0.version == serving && $0.state == .running }.count
        if instances != replicas {
            Issue.record("after crash point \(point): \(instances) instance(s) of \(serving), not \(replicas)\n\(await h.diagnostics(service: "hello", events: 60))")
        }
    }

    /// Live processes whose output goes to an instance log of the hello service.
    static func instanceProcesses(under stateDir: String) -> Set<Int32> {
        let fm = FileManager.default
        var found: Set<Int32> = []
        for entry in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let target = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(entry)/fd/1"), target.hasPrefix(stateDir + "/logs/hello/"),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] != "Z" else { continue }
            found.insert(pid)
        }
        return found
    }
}
