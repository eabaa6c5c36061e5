/// One stage of a canary rollout.
public enum CanaryStep: Codable, Sendable, Equatable {
    /// Send `N` % of requests (0…100) to the canary; completes at once.
    case weight(Int)
    /// Hold the current weight for a while (`pause: 30s`), or until someone runs
    /// `slipway promote` (`pause: {}`, stored as nil).
    case pause(Duration?)
    /// Run the named analysis at its interval; completes on its first passing run.
    case analysis(String)

    enum CodingKeys: String, CodingKey { case weight, pause, analysis }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let w = try c.decodeIfPresent(Int.self, forKey: .weight) {
            self = .weight(w)
        } else if c.contains(.pause) {
            self = .pause(try? c.decode(TextDuration.self, forKey: .pause).value)
        } else {
            self = .analysis(try c.decode(String.self, forKey: .analysis))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .weight(let w): try c.encode(w, forKey: .weight)
        case .pause(let d?): try c.encode(TextDuration(d), forKey: .pause)
        case .pause(nil): try c.encode([String: String](), forKey: .pause)
        case .analysis(let name): try c.encode(name, forKey: .analysis)
        }
    }

    /// `weight 10`, `pause 30s`, `pause until promoted`, `analysis default`.
    public var label: String {
        switch self {
        case .weight(let w): "weight \(w) %"
        case .pause(let d?): "pause \(DurationText.format(d))"
        case .pause(nil): "pause until promoted"
        case .analysis(let name): "analysis \(name)"
        }
    }
}

/// `strategy: { canary: {...} }`: the new release takes a growing share of traffic step
/// by step while analysis compares it with the stable release.
public struct CanarySpec: Codable, Sendable, Equatable {
    public var steps: [CanaryStep]
    /// The analysis run in the background across every step; nil picks the service's
    /// `analysis.default` when it defines one, else the built-in default policy.
    public var analysis: String?
    /// Keep each client on the version it was first sent to (a signed cookie).
    public var sticky: Bool
    /// Canary instances that crash this many times during the rollout fail it.
    public var maxRestarts: Int
    /// Timeouts shared with blue-green (start, drain, keep the previous release warm).
    public var timing: BlueGreenSpec

    public init(steps: [CanaryStep] = CanarySpec.defaultSteps, analysis: String? = nil, sticky: Bool = true, maxRestarts: Int = Defaults.canaryMaxRestarts, timing: BlueGreenSpec = BlueGreenSpec()) {
        self.steps = steps
        self.analysis = analysis
        self.sticky = sticky
        self.maxRestarts = maxRestarts
        self.timing = timing
    }

    /// 10 % for a minute, 50 % for a minute, then all traffic; the default analysis judges
    /// every step.
    public static let defaultSteps: [CanaryStep] = [.weight(10), .pause(.seconds(60)), .weight(50), .pause(.seconds(60))]

    enum CodingKeys: String, CodingKey { case steps, analysis, sticky, maxRestarts = "max_restarts", timing }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        steps = try c.decodeIfPresent([CanaryStep].self, forKey: .steps) ?? CanarySpec.defaultSteps
        analysis = try c.decodeIfPresent(String.self, forKey: .analysis)
        sticky = try c.decodeIfPresent(Bool.self, forKey: .sticky) ?? true
        maxRestarts = try c.decodeIfPresent(Int.self, forKey: .maxRestarts) ?? Defaults.canaryMaxRestarts
        timing = try c.decodeIfPresent(BlueGreenSpec.self, forKey: .timing) ?? BlueGreenSpec()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(steps, forKey: .steps)
        try c.encodeIfPresent(analysis, forKey: .analysis)
        try c.encode(sticky, forKey: .sticky)
        try c.encode(maxRestarts, forKey: .maxRestarts)
        try c.encode(timing, forKey: .timing)
    }

    /// Why these steps can never finish, or nil. `policies` are the service's named analyses.
    public func problems(policies: [String: AnalysisPolicy]) -> [(index: Int?, message: String)] {
        var problems: [(Int?, String)] = []
        if steps.isEmpty {
            problems.append((nil, "a canary needs at least one step; with none it would be promoted without any data (use blue-green to switch at once)"))
        }
        var weight = 0
        var everWeighted = false
        for (i, step) in steps.enumerated() {
            switch step {
            case .weight(let w):
                if !(0...100).contains(w) { problems.append((i, "weight must be between 0 and 100 (got \(w))")) }
                weight = w
                if w > 0 { everWeighted = true }
            case .pause(let d?):
                if d <= .zero { problems.append((i, "pause must be longer than 0s, or {} to wait for `slipway promote`")) }
            case .pause(nil):
                break
            case .analysis(let name):
                if policies[name] == nil && name != "default" {
                    problems.append((i, "unknown analysis `\(name)`" + (policies.isEmpty ? "; the file defines none under `analysis:`" : "; defined: \(policies.keys.sorted().joined(separator: ", "))")))
                } else if weight == 0 {
                    problems.append((i, "analysis `\(name)` runs while the canary's weight is 0: it gets no traffic, so the step could never pass; put a `weight:` step before it"))
                }
            }
        }
        if !steps.isEmpty, !everWeighted {
            problems.append((nil, "no step gives the canary any traffic (a `weight:` above 0), so its analysis could never pass and the rollout never finish"))
        }
        if let analysis, policies[analysis] == nil, analysis != "default" {
            problems.append((nil, "unknown analysis `\(analysis)`" + (policies.isEmpty ? "; the file defines none under `analysis:`" : "; defined: \(policies.keys.sorted().joined(separator: ", "))")))
        }
        return problems
    }
}
