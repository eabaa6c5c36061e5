/// The verdict of one check or one analysis run.
public enum AnalysisOutcome: String, Codable, Sendable, CaseIterable {
    case pass
    case fail
    /// Too little data, or no data, to judge. Never counts as a pass.
    case inconclusive
}

/// The numbers behind a verdict, so a decision explains itself. Fields a check does not
/// use are nil. Units: error rates are fractions, latencies milliseconds, request rates
/// requests per second.
public struct CheckEvidence: Codable, Sendable, Equatable {
    /// `error_rate`, `latency_p95`, … for threshold checks; `latency` or `error_rate` for
    /// baseline comparisons.
    public var metric: String
    public var windowSeconds: Double?
    /// The canary's value: the metric itself for thresholds; the median latency or the
    /// error rate for comparisons.
    public var canaryValue: Double?
    /// The stable release's value of the same, when there is one.
    public var stableValue: Double?
    /// `max` or `min`, and its limit, for threshold checks.
    public var bound: String?
    public var threshold: Double?
    /// Requests (or latency samples) in each group, and the minimum the check needs.
    public var canarySamples: UInt64?
    public var stableSamples: UInt64?
    public var minSamples: Int
    /// Baseline comparisons: Mann–Whitney U (latency), z, the one-sided p-value and the
    /// significance level it is held against.
    public var u: Double?
    public var z: Double?
    public var pValue: Double?
    public var significance: Double?
    /// Latency comparisons: P(canary slower) + ½·P(equal).
    public var probabilityOfSuperiority: Double?
    /// P(canary slower) − 0.5 for latency; canary minus stable error rate for error rate.
    public var effectSize: Double?
    public var minEffect: Double?
    /// Provider checks: `prometheus`, `http` or `command`; what was asked with every
    /// placeholder filled in (the PromQL, the URL, the command line); and the error that
    /// made the check inconclusive. The value read is `canaryValue`.
    public var provider: String?
    public var query: String?
    public var error: String?

    public init(metric: String, windowSeconds: Double? = nil, canaryValue: Double? = nil, stableValue: Double? = nil, bound: String? = nil, threshold: Double? = nil, canarySamples: UInt64? = nil, stableSamples: UInt64? = nil, minSamples: Int, u: Double? = nil, z: Double? = nil, pValue: Double? = nil, significance: Double? = nil, probabilityOfSuperiority: Double? = nil, effectSize: Double? = nil, minEffect: Double? = nil, provider: String? = nil, query: String? = nil, error: String? = nil) {
        self.metric = metric
        self.windowSeconds = windowSeconds
        self.canaryValue = canaryValue
        self.stableValue = stableValue
        self.bound = bound
        self.threshold = threshold
        self.canarySamples = canarySamples
        self.stableSamples = stableSamples
        self.minSamples = minSamples
        self.u = u
        self.z = z
        self.pValue = pValue
        self.significance = significance
        self.probabilityOfSuperiority = probabilityOfSuperiority
        self.effectSize = effectSize
        self.minEffect = minEffect
        self.provider = provider
        self.query = query
        self.error = error
    }
}

/// One check's verdict with its evidence and a sentence for people.
public struct CheckVerdict: Codable, Sendable, Equatable {
    public var check: AnalysisCheck
    public var outcome: AnalysisOutcome
    public var evidence: CheckEvidence
    /// E.g. `canary error rate 19.8 % over 30 s (412 requests) exceeded 5 % (stable 0.1 %)`.
    public var summary: String

    public init(check: AnalysisCheck, outcome: AnalysisOutcome, evidence: CheckEvidence, summary: String) {
        self.check = check
        self.outcome = outcome
        self.evidence = evidence
        self.summary = summary
    }
}

/// The verdict of one analysis run: fail if any check fails, else inconclusive if any is
/// inconclusive (or there are no checks), else pass.
/// One fleet server's numbers of the release under analysis, over the run's window.
public struct ServerNumbers: Codable, Sendable, Equatable {
    public var server: String
    public var requests: UInt64
    public var errors: UInt64

    public init(server: String, requests: UInt64, errors: UInt64) {
        self.server = server
        self.requests = requests
        self.errors = errors
    }

    public var errorRate: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }

    /// `web-2 38.0 % errors of 120`
    public var summary: String {
        "\(server) \(String(format: "%.1f", errorRate * 100)) % errors of \(requests)"
    }
}

public struct AnalysisRunVerdict: Codable, Sendable, Equatable {
    public var outcome: AnalysisOutcome
    public var checks: [CheckVerdict]
    /// A fleet service: the numbers of each server (the checks judge their sum), worst first.
    public var servers: [ServerNumbers]?

    public init(checks: [CheckVerdict]) {
        self.checks = checks
        if checks.contains(where: { $0.outcome == .fail }) {
            outcome = .fail
        } else if checks.isEmpty || checks.contains(where: { $0.outcome == .inconclusive }) {
            outcome = .inconclusive
        } else {
            outcome = .pass
        }
    }

    /// The sentences of the checks that decided the outcome (all of them on a pass).
    public var reasons: [String] {
        if checks.isEmpty { return ["no checks to judge"] }
        return checks.filter { $0.outcome == outcome }.map(\.summary)
    }

    /// `analysis failed: …` with the deciding sentences, joined by `; `.
    public var summary: String {
        let verb = switch outcome {
        case .pass: "passed"
        case .fail: "failed"
        case .inconclusive: "was inconclusive"
        }
        return "analysis \(verb): " + reasons.joined(separator: "; ") + (serverNote.map { "; \($0)" } ?? "")
    }

    /// On a fleet, the server that stands out: the worst error rate when it is at least
    /// twice the rest's and a run failed, or when it alone has errors.
    public var worstServer: ServerNumbers? {
        guard let servers, servers.count > 1, let worst = servers.max(by: { $0.errorRate < $1.errorRate }), worst.errors > 0 else { return nil }
        let rest = servers.filter { $0.server != worst.server }
        let restRequests = rest.reduce(0) { $0 + $1.requests }
        let restRate = restRequests == 0 ? 0 : Double(rest.reduce(0) { $0 + $1.errors }) / Double(restRequests)
        return worst.errorRate >= 2 * restRate ? worst : nil
    }

    /// `worst server: web-2 38.0 % errors of 120 (the others 0.4 %)` for the summary.
    public var serverNote: String? {
        guard let worst = worstServer, let servers else { return nil }
        let rest = servers.filter { $0.server != worst.server }
        let requests = rest.reduce(0) { $0 + $1.requests }
        let rate = requests == 0 ? 0 : Double(rest.reduce(0) { $0 + $1.errors }) / Double(requests) * 100
        return "worst server: \(worst.summary) (the other \(rest.count): \(String(format: "%.1f", rate)) %)"
    }
}
