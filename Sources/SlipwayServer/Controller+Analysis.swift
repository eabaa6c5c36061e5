import Foundation
import SlipwayCore

extension Controller {
    /// Runs one analysis of a canary rollout on the router's per-version numbers: for
    /// every distinct check window, the canary's and the stable release's requests,
    /// errors and latency histogram over that window (never reaching back before the
    /// canary took traffic, the preview began or the watch began). A router that does not answer makes the run inconclusive, with
    /// the error, never a pass.
    func runAnalysis(policy name: String, state: BlueGreenState, service: String) async -> AnalysisRunVerdict {
        let policy = state.canary?.policy(name) ?? state.gate?.policy(name) ?? .default
        let now = clock.now()
        let since = state.canary?.trafficSince ?? state.gate?.windowStart ?? state.startedAt
        let age = max(0, now - since)
        var windows: [Duration: MetricWindow?] = [:]
        var failure: String?
        for window in Set(policy.checks.map(\.window)) {
            let seconds = min(window.seconds, age)
            guard seconds >= 1 else {
                windows[window] = MetricWindow(seconds: 0, canary: VersionWindow(version: state.targetVersion, requests: 0, errors: 0))
                continue
            }
            do {
                let stats = try await router.stats(window: .milliseconds(Int64(seconds * 1000)), latencyBuckets: true)
                    .filter { $0.service == service }
                func version(_ v: String) -> VersionWindow {
                    guard let s = stats.first(where: { $0.version == v }) else { return VersionWindow(version: v, requests: 0, errors: 0) }
                    return VersionWindow(stats: s, latency: s.latency ?? [])
                }
                windows[window] = MetricWindow(seconds: seconds, canary: version(state.targetVersion), stable: state.fromVersion.map(version))
            } catch {
                failure = "the router's numbers could not be read: \(error)"
                windows[window] = .some(nil)
            }
        }
        var verdict = CheckJudge.run(policy) { windows[$0] ?? nil }
        if let failure {
            verdict = AnalysisRunVerdict(checks: verdict.checks.map { check in
                var check = check
                if check.outcome == .inconclusive { check.summary += " (\(failure))" }
                return check
            })
        }
        return verdict
    }
}
