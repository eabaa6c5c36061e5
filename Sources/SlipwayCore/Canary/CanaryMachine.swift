/// The canary rollout as a pure state machine (inputs in, actions out, `now` passed in).
///
/// waiting_healthy ──canary healthy──▶ progressing ⇄ paused ──last step + passing analysis──▶ draining ─▶ succeeded
///        │ deploy_timeout                  │ analysis failed / crash loop / abort
///        ▼                                 ▼
///      failed                            failed (weight 0 at once, canary stopped, stable kept)
///
/// Steps: `weight` sets the canary's share and completes at once; a timed `pause`
/// completes when its time is up *and* a background analysis run that started after the
/// step passed (while the canary has traffic: missing data never completes a step);
/// `pause: {}` waits for `promote`; `analysis` completes on its first passing run. After
/// the last step the rollout promotes only once the latest background run passed.
/// Starting, draining and keeping the previous release warm are blue-green's.
///
/// With hooks: canary healthy ─▶ running_hook (pre_deploy, smoke; the canary routable at
/// weight 0, reached through the pin header) ─▶ progressing. A failed hook fails the
/// rollout with the canary stopped, no traffic ever sent. post_deploy runs after the
/// promotion and drain. A rollback (analysis, crash loop, abort) once the steps began runs
/// the canary's on_rollback after its weight is 0 and it is stopped, then ends failed.
public struct CanaryMachine: Sendable {
    public private(set) var state: BlueGreenState

    public init(state: BlueGreenState) {
        precondition(state.canary != nil, "CanaryMachine needs a canary rollout")
        self.state = state
    }

    private var progress: CanaryProgress {
        get { state.canary! }
        set { state.canary = newValue }
    }

    public mutating func handle(_ input: RolloutInput, now: Double) -> [RolloutAction] {
        guard !state.phase.isTerminal else { return [] }
        switch (state.phase, input) {
        case (.waitingHealthy, .begin) where state.warm:
            return startSteps(now: now, note: "\(state.targetVersion) is still warm")
        case (.waitingHealthy, .targetHealth(let healthy)):
            guard healthy >= state.replicas else { return [] }
            return startSteps(now: now, note: "\(healthy)/\(state.replicas) instance(s) of \(state.targetVersion) passed health checks")
        case (.waitingHealthy, .targetRestarts(let n)), (.progressing, .targetRestarts(let n)), (.paused, .targetRestarts(let n)):
            guard n >= progress.maxRestarts else { return [] }
            return rollBack(now: now, actor: "health", reason: "canary instances crashed \(n) times (max_restarts \(progress.maxRestarts)): crash loop")
        case (.runningHook, _):
            switch state.runningHookInput(input, now: now) {
            case .handled(let actions):
                return actions
            case .beforeTrafficPassed(let note, let actions):
                return actions + startSteps(now: now, note: note, announce: false)
            case .beforeTrafficFailed(let reason, let actions):
                return actions + rollBack(now: now, actor: nil, reason: reason)
            }
        case (.waitingHealthy, _), (.draining, _):
            return delegate(input, now: now)

        case (.progressing, .tick), (.paused, .tick):
            return tick(now: now)
        case (.progressing, .analysisResult(let purpose, let verdict)), (.paused, .analysisResult(let purpose, let verdict)):
            return analysisResult(purpose, verdict, now: now)
        case (.progressing, .abort(let reason)), (.paused, .abort(let reason)):
            return rollBack(now: now, actor: nil, reason: reason)
        case (.progressing, .command(let command, let by)), (.paused, .command(let command, let by)):
            return handle(command, by: by, now: now)
        default:
            return []
        }
    }

    // MARK: steps

    /// The canary is healthy: first the hooks before traffic (pre_deploy, smoke), with the
    /// canary in the route table at weight 0 so the pin header reaches it; then the steps.
    private mutating func startSteps(now: Double, note: String, announce: Bool = true) -> [RolloutAction] {
        if let stage = state.hooks?.nextBeforeSwitch() {
            return [.record(kind: "healthy", message: note)] + state.startHook(stage, now: now)
        }
        state.phase = .progressing
        progress.trafficSince = now
        progress.nextBackgroundAt = now + progress.policy(progress.backgroundPolicy).interval.seconds
        var actions: [RolloutAction] = announce ? [.record(kind: "healthy", message: note)] : []
        actions += [
            .decide(DecisionDraft(kind: .started, actor: "health", summary: "\(note); starting \(progress.steps.count) canary step(s) with background analysis `\(progress.backgroundPolicy)` every \(DurationText.format(progress.policy(progress.backgroundPolicy).interval))")),
        ]
        actions += enterStep(now: now)
        return actions
    }

    /// Carries out steps from `stepIndex` until one must wait.
    private mutating func enterStep(now: Double) -> [RolloutAction] {
        var actions: [RolloutAction] = []
        while true {
            progress.stepStartedAt = now
            progress.stepAnalysis = nil
            progress.nextStepAnalysisAt = nil
            guard let step = progress.currentStep else {
                actions += finalGate(now: now)
                return actions
            }
            switch step {
            case .weight(let w):
                progress.weight = w
                actions.append(.updateRoutes)
                actions.append(.decide(DecisionDraft(kind: .weightSet, actor: "plan", summary: "\(progress.position): \(state.targetVersion) now gets \(w) % of requests", step: progress.stepIndex, weight: w)))
                progress.stepIndex += 1
            case .pause(nil):
                state.phase = .paused
                progress.pausedByStep = true
                progress.pauseReason = "\(progress.position): waiting for `slipway promote`"
                actions.append(.decide(DecisionDraft(kind: .paused, actor: "plan", summary: progress.pauseReason!, step: progress.stepIndex, weight: progress.weight)))
                return actions
            case .pause:
                return actions
            case .analysis(let name):
                let policy = progress.policy(name)
                progress.stepAnalysis = AnalysisTracker(policy: policy)
                progress.nextStepAnalysisAt = now + policy.interval.seconds
                actions.append(.record(kind: "step_analysis", message: "\(progress.position): judging analysis `\(name)` every \(DurationText.format(policy.interval))"))
                return actions
            }
        }
    }

    private mutating func completeStep(now: Double, actor: String, summary: String, verdict: AnalysisRunVerdict? = nil) -> [RolloutAction] {
        let done = DecisionDraft(kind: .stepCompleted, actor: actor, summary: "\(progress.position) completed: \(summary)", verdict: verdict, step: progress.stepIndex, weight: progress.weight)
        progress.stepIndex += 1
        state.phase = .progressing
        progress.pauseReason = nil
        progress.pausedByStep = false
        return [.decide(done)] + enterStep(now: now)
    }

    /// After the last step: promote once the latest background run passed.
    private mutating func finalGate(now: Double) -> [RolloutAction] {
        guard state.phase == .progressing, progress.lastBackgroundOutcome == .pass else { return [] }
        let because = progress.lastBackgroundSummary ?? "analysis passed"
        return promoteFully(now: now, actor: "analysis", summary: "every step completed and the latest background analysis passed: \(because)")
    }

    private mutating func promoteFully(now: Double, actor: String, summary: String) -> [RolloutAction] {
        progress.weight = 100
        progress.stepIndex = progress.steps.count
        progress.pauseReason = nil
        let decision = DecisionDraft(kind: .promoted, actor: actor, summary: "promoted \(state.targetVersion) to all traffic: \(summary)", verdict: nil, step: progress.stepIndex, weight: 100)
        var machine = BlueGreenMachine(state: state)
        let actions = machine.switchTraffic(now: now, note: "canary \(state.targetVersion) promoted")
        state = machine.state
        return [.decide(decision)] + actions
    }

    // MARK: time and analysis

    private mutating func tick(now: Double) -> [RolloutAction] {
        var actions: [RolloutAction] = []
        if let due = progress.nextBackgroundAt, now >= due {
            progress.nextBackgroundAt = now + progress.policy(progress.backgroundPolicy).interval.seconds
            actions.append(.analyze(policy: progress.backgroundPolicy, purpose: .background))
        }
        guard state.phase == .progressing else { return actions }
        if case .analysis(let name) = progress.currentStep, let due = progress.nextStepAnalysisAt, now >= due {
            progress.nextStepAnalysisAt = now + progress.policy(name).interval.seconds
            actions.append(.analyze(policy: name, purpose: .step))
        }
        // A run is about to judge fresh numbers: steps wait for its verdict.
        return actions.isEmpty ? checkProgress(now: now) : actions
    }

    /// Completes a timed pause or promotes at the final gate when their conditions hold.
    private mutating func checkProgress(now: Double) -> [RolloutAction] {
        guard state.phase == .progressing else { return [] }
        switch progress.currentStep {
        case .pause(let d?): return completeTimedPause(duration: d, now: now)
        case nil: return finalGate(now: now)
        case .pause(nil), .weight, .analysis: return []
        }
    }

    private mutating func completeTimedPause(duration: Duration, now: Double) -> [RolloutAction] {
        guard let started = progress.stepStartedAt, now >= started + duration.seconds else { return [] }
        if progress.weight == 0 {
            return completeStep(now: now, actor: "timer", summary: "\(DurationText.format(duration)) passed (the canary had no traffic to judge)")
        }
        guard progress.lastBackgroundOutcome == .pass, let at = progress.lastBackgroundAt, at >= started else { return [] }
        return completeStep(now: now, actor: "timer", summary: "\(DurationText.format(duration)) passed and \(progress.lastBackgroundSummary ?? "analysis passed")")
    }

    private mutating func analysisResult(_ purpose: AnalysisPurpose, _ verdict: AnalysisRunVerdict, now: Double) -> [RolloutAction] {
        switch purpose {
        case .background:
            progress.lastBackgroundOutcome = verdict.outcome
            progress.lastBackgroundAt = now
            progress.lastBackgroundSummary = verdict.summary
            var tracker = progress.background
            let decision = tracker.record(verdict)
            progress.background = tracker
            return follow(decision, verdict: verdict, policy: progress.backgroundPolicy, now: now) { machine in
                machine.checkProgress(now: now)
            }
        case .step:
            guard case .analysis(let name) = progress.currentStep, var tracker = progress.stepAnalysis else { return [] }
            let decision = tracker.record(verdict)
            progress.stepAnalysis = tracker
            return follow(decision, verdict: verdict, policy: name, now: now) { machine in
                guard verdict.outcome == .pass, machine.state.phase == .progressing else { return [] }
                return machine.completeStep(now: now, actor: "analysis", summary: verdict.summary, verdict: verdict)
            }
        }
    }

    private mutating func follow(_ decision: AnalysisDecision, verdict: AnalysisRunVerdict, policy: String, now: Double, onContinue: (inout CanaryMachine) -> [RolloutAction]) -> [RolloutAction] {
        switch decision {
        case .continue:
            var actions: [RolloutAction] = []
            if verdict.outcome != .pass {
                actions.append(.record(kind: "analysis_\(verdict.outcome.rawValue)", message: "`\(policy)`: \(verdict.summary)"))
            }
            return actions + onContinue(&self)
        case .abort(let reason), .failInconclusive(let reason):
            return rollBack(now: now, actor: "analysis", reason: "`\(policy)` \(reason)", verdict: verdict)
        case .pauseInconclusive(let reason):
            guard state.phase == .progressing else { return [] }
            state.phase = .paused
            progress.pausedByStep = false
            progress.pauseReason = "`\(policy)` \(reason)"
            return [.decide(DecisionDraft(kind: .inconclusive, actor: "analysis", summary: "paused: \(progress.pauseReason!)", verdict: verdict, step: progress.stepIndex, weight: progress.weight))]
        }
    }

    // MARK: people and failure

    private mutating func handle(_ command: RolloutCommand, by: String, now: Double) -> [RolloutAction] {
        switch command {
        case .promote:
            if progress.currentStep == nil {
                return promoteFully(now: now, actor: by, summary: "promoted by \(by) at the final gate (latest analysis: \(progress.lastBackgroundSummary ?? "no run yet"))")
            }
            return completeStep(now: now, actor: by, summary: "promoted by \(by)")
        case .promoteFull:
            return promoteFully(now: now, actor: by, summary: "\(by) skipped the remaining steps and analysis")
        case .pause:
            guard state.phase == .progressing else { return [] }
            state.phase = .paused
            progress.pausedByStep = false
            progress.pauseReason = "paused by \(by)"
            return [.decide(DecisionDraft(kind: .paused, actor: by, summary: "paused by \(by) at \(progress.position)", step: progress.stepIndex, weight: progress.weight))]
        case .resume:
            guard state.phase == .paused else { return [] }
            if progress.pausedByStep {
                return completeStep(now: now, actor: by, summary: "resumed by \(by)")
            }
            state.phase = .progressing
            progress.pauseReason = nil
            progress.background.resume()
            if var tracker = progress.stepAnalysis {
                tracker.resume()
                progress.stepAnalysis = tracker
            }
            return [.decide(DecisionDraft(kind: .resumed, actor: by, summary: "resumed by \(by) at \(progress.position)", step: progress.stepIndex, weight: progress.weight))]
        }
    }

    /// Weight 0 at once, the canary stopped, the stable release kept. Once the steps had
    /// begun (the canary was routable with its step's weight), the canary's on_rollback
    /// runs after that, and the rollout ends failed with `reason` when it is over.
    private mutating func rollBack(now: Double, actor: String?, reason: String, verdict: AnalysisRunVerdict? = nil) -> [RolloutAction] {
        let weight = progress.weight
        progress.weight = 0
        var restore: [RolloutAction] = [.updateRoutes]
        if let actor {
            restore.append(.decide(DecisionDraft(kind: .rolledBack, actor: actor, summary: "rolled back from \(weight) % to 0 %: \(reason)", verdict: verdict, step: progress.stepIndex, weight: 0)))
        }
        // A warm canary (a re-deploy of the previous release) is stopped too: it failed.
        var after: [RolloutAction] = [.stopInstances(version: state.targetVersion)]
        if let from = state.fromVersion {
            after.append(.record(kind: "stable_kept", message: "all traffic back on \(from)"))
        }
        return state.endFailed(reason: reason, now: now, undo: progress.trafficSince != nil, restore: restore, after: after)
    }

    private mutating func delegate(_ input: RolloutInput, now: Double) -> [RolloutAction] {
        var machine = BlueGreenMachine(state: state)
        let actions = machine.handle(input, now: now)
        state = machine.state
        return actions
    }
}

/// Runs the machine a rollout's state calls for.
public struct RolloutMachine: Sendable {
    public private(set) var state: BlueGreenState

    public init(state: BlueGreenState) {
        self.state = state
    }

    public mutating func handle(_ input: RolloutInput, now: Double) -> [RolloutAction] {
        if state.waves != nil {
            var machine = WavesMachine(state: state)
            let actions = machine.handle(input, now: now)
            state = machine.state
            return actions
        }
        if state.rolling != nil {
            var machine = RollingMachine(state: state)
            let actions = machine.handle(input, now: now)
            state = machine.state
            return actions
        }
        if state.canary != nil {
            var machine = CanaryMachine(state: state)
            let actions = machine.handle(input, now: now)
            state = machine.state
            return actions
        }
        var machine = BlueGreenMachine(state: state)
        let actions = machine.handle(input, now: now)
        state = machine.state
        return actions
    }
}
