import Foundation
import SlipwayCore

extension Controller {
    /// Runs one analysis of a canary rollout. Built-in checks use the router's per-version
    /// numbers: for every distinct check window, the canary's and the stable release's
    /// requests, errors and latency histogram over that window (never reaching back before
    /// the canary took traffic, the preview began or the watch began). Provider checks ask Prometheus, a URL or a command, all at once
    /// and while the router's numbers are read. A router or a provider that does not answer
    /// makes its checks inconclusive, with the error, never a pass.
    func runAnalysis(policy name: String, state: BlueGreenState, service: String) async -> AnalysisRunVerdict {
        let policy = state.canary?.policy(name) ?? state.rolling?.policy(name) ?? state.gate?.policy(name) ?? .default
        let now = clock.now()
        let since = state.canary?.trafficSince ?? state.rolling?.trafficSince ?? state.gate?.windowStart ?? state.startedAt
        return await judge(policy, service: service, version: state.targetVersion, stable: state.fromVersion, age: max(0, now - since))
    }

    /// One run of `policy` on `version` of `service` (compared with `stable` where a check
    /// compares), its windows reaching back at most `age` seconds.
    func judge(_ policy: AnalysisPolicy, service: String, version target: String, stable: String?, age: Double) async -> AnalysisRunVerdict {
        let fetcher = ProviderFetcher(workingDirectory: (try? store.service(service))?.spec.workingDirectory,
                                      searchDirectories: searchDirectories, environment: inherited)
        async let providerResults = Self.fetchProviders(policy.checks, fetcher: fetcher, service: service, version: target, stable: stable, age: age)

        var windows: [Duration: MetricWindow?] = [:]
        var failure: String?
        for window in Set(policy.checks.filter { $0.provider == nil }.map(\.window)) {
            let seconds = min(window.seconds, age)
            guard seconds >= 1 else {
                windows[window] = MetricWindow(seconds: 0, canary: VersionWindow(version: target, requests: 0, errors: 0))
                continue
            }
            do {
                let stats = try await fleetStats(window: .milliseconds(Int64(seconds * 1000)), latencyBuckets: true)
                    .filter { $0.service == service }
                func version(_ v: String) -> VersionWindow {
                    guard let s = stats.first(where: { $0.version == v }) else { return VersionWindow(version: v, requests: 0, errors: 0) }
                    return VersionWindow(stats: s, latency: s.latency ?? [])
                }
                windows[window] = MetricWindow(seconds: seconds, canary: version(target), stable: stable.map(version))
            } catch {
                failure = "the router's numbers could not be read: \(error)"
                windows[window] = .some(nil)
            }
        }
        let results = await providerResults
        for (index, result) in results.sorted(by: { $0.key < $1.key }) {
            if case .error(let words) = result.reading {
                logger.warning("analysis provider did not give a reading", metadata: [
                    "slipway.service": "\(service)", "slipway.check": "\(index)", "slipway.error": "\(result.request.answerer) \(words)",
                ])
            }
        }
        var verdict = CheckJudge.run(policy, windowFor: { windows[$0] ?? nil }, providerResult: { index in
            results[index].map { ($0.request, $0.reading) }
        })
        // On a fleet the checks judge the sum over servers; each server's own numbers come
        // with the verdict so that one bad server is named.
        let builtIn = policy.checks.filter { $0.provider == nil }.map(\.window.seconds).max().map { min($0, age) } ?? 0
        let servers = (try? store.service(service))?.spec.servers.map(\.id) ?? []
        if !servers.isEmpty, builtIn >= 1 {
            var numbers: [ServerNumbers] = []
            for (id, result) in await serverStats(window: .milliseconds(Int64(builtIn * 1000)), latencyBuckets: false) where servers.contains(id) {
                guard case .success(let stats) = result,
                      let mine = stats.first(where: { $0.service == service && $0.version == target }) else { continue }
                numbers.append(ServerNumbers(server: id, requests: mine.requests, errors: VersionWindow(stats: mine, latency: []).errors))
            }
            if !numbers.isEmpty { verdict.servers = numbers.sorted { ($0.errorRate, $0.server) > ($1.errorRate, $1.server) } }
        }
        if let failure {
            let servers = verdict.servers
            verdict = AnalysisRunVerdict(checks: verdict.checks.map { check in
                var check = check
                if check.outcome == .inconclusive, check.check.provider == nil { check.summary += " (\(failure))" }
                return check
            })
            verdict.servers = servers
        }
        return verdict
    }

    /// The request and reading of every provider check, by its index in `checks`, fetched concurrently.
    static func fetchProviders(_ checks: [AnalysisCheck], fetcher: ProviderFetcher, service: String, version: String, stable: String?, age: Double) async -> [Int: (request: ProviderRequest, reading: ProviderReading)] {
        let providers = checks.enumerated().compactMap { index, check in check.provider.map { (index, $0) } }
        guard !providers.isEmpty else { return [:] }
        return await withTaskGroup(of: (Int, ProviderRequest, ProviderReading).self) { group in
            for (index, check) in providers {
                let context = ProviderContext(service: service, version: version, stable: stable, window: check.window, rolloutAge: age)
                let request = check.request(context)
                group.addTask { (index, request, await fetcher.fetch(request, check: check, context: context)) }
            }
            var results: [Int: (request: ProviderRequest, reading: ProviderReading)] = [:]
            for await (index, request, reading) in group {
                results[index] = (request, reading)
            }
            return results
        }
    }
}
