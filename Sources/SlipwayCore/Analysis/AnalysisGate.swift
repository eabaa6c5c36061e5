/// A rollout that waits between its steps (a rolling batch, a fleet wave) for an analysis to
/// pass. The progress types that do so share how one analysis run is judged.
public protocol AnalysisGated {
    /// The analysis to pass, when one is configured.
    var analysis: String? { get }
    /// The streaks of the current gate's runs.
    var tracker: AnalysisTracker? { get set }
    /// The latest run's summary (named when a person goes on without waiting).
    var lastSummary: String? { get set }
    /// Whether the pause for inconclusive runs was already announced.
    var inconclusiveNoted: Bool { get set }
}

/// What one analysis run means for the step waiting on it.
public enum AnalysisGateOutcome: Sendable, Equatable {
    /// No gate is waiting (a late run).
    case ignored
    /// The run counts but decides nothing yet (a failure or inconclusive run below its limit).
    case noted(RolloutAction)
    /// The run passed: the next step may begin.
    case passed(DecisionDraft)
    /// Failures (or inconclusive runs with `on_inconclusive: fail`) reached their limit.
    case failed(reason: String, verdict: AnalysisRunVerdict)
    /// Inconclusive runs reached their limit with `on_inconclusive: pause`: a person decides.
    /// Nil once the pause was announced.
    case paused(DecisionDraft?)
}

extension AnalysisGated {
    /// Records `verdict` in the tracker. `unit` names the step in words ("wave 2",
    /// "batch 3"); `abortHint` says what `slipway abort` does at this point.
    public mutating func judge(_ verdict: AnalysisRunVerdict, after unit: String, step: Int, abortHint: String) -> AnalysisGateOutcome {
        guard let name = analysis, var tracker else { return .ignored }
        let decision = tracker.record(verdict)
        self.tracker = tracker
        lastSummary = verdict.summary
        switch decision {
        case .continue:
            guard verdict.outcome == .pass else {
                return .noted(.record(kind: "analysis_\(verdict.outcome.rawValue)", message: "`\(name)` after \(unit): \(verdict.summary)"))
            }
            return .passed(DecisionDraft(kind: .analysisPassed, actor: "analysis", summary: "analysis `\(name)` passed after \(unit): \(verdict.summary)", verdict: verdict, step: step))
        case .abort(let reason), .failInconclusive(let reason):
            return .failed(reason: "`\(name)` after \(unit) \(reason)", verdict: verdict)
        case .pauseInconclusive(let reason):
            guard !inconclusiveNoted else { return .paused(nil) }
            inconclusiveNoted = true
            return .paused(DecisionDraft(kind: .inconclusive, actor: "analysis", summary: "waiting after \(unit): `\(name)` \(reason); `slipway promote` goes on, \(abortHint)", verdict: verdict, step: step))
        }
    }
}
