/// A blue-green rollout across a fleet, a wave of servers at a time, as a pure state
/// machine (inputs in, actions out, no I/O).
///
/// Each wave starts the target's instances on its servers (`replicas_per_host` each) and
/// waits for them to pass health checks (`deploy_timeout` per wave); then the routers of
/// those servers switch to the target (prepare/commit, see the controller) while the other
/// servers stay on the previous release, and, with `waves.analysis`, the next wave waits for
/// a passing analysis run. The last wave is an ordinary blue-green switch of every server
/// (`BlueGreenMachine`: hooks, preview, drain, watch, keep_previous). The previous release
/// keeps running on switched servers until the end, so a failure switches every server
/// back at once.
///
/// A server of the current wave that does not answer pauses the rollout (it resumes by
/// itself when the server answers again), or is left out while no more than
/// `max_failed_hosts` servers are; so is a server whose instances are not healthy by the
/// wave's deadline. A left-out server keeps the previous release until the controller
/// reconciles it to the fleet's release.
public struct WavesMachine: Sendable {
    public private(set) var state: BlueGreenState

    public init(state: BlueGreenState) {
        self.state = state
    }

    private var progress: WavesProgress {
        get { state.waves! }
        set { state.waves = newValue }
    }

    /// Past the last wave's health checks the blue-green machine takes over.
    private var blueGreenOwns: Bool {
        switch state.phase {
        case .previewing, .draining, .watching: true
        case .runningHook: state.switchedAt != nil || progress.isLastWave
        default: state.switchedAt != nil
        }
    }

    public mutating func handle(_ input: RolloutInput, now: Double) -> [RolloutAction] {
        guard !state.phase.isTerminal, state.waves != nil else { return [] }
        if blueGreenOwns || (input == .begin && state.warm) {
            var machine = BlueGreenMachine(state: state)
            let actions = machine.handle(input, now: now)
            state = machine.state
            return actions
        }
        if state.phase == .runningHook {
            // pre_deploy and smoke, run once the first of several waves is healthy.
            switch state.runningHookInput(input, now: now) {
            case .handled(let actions): return actions
            case .beforeTrafficPassed(_, let actions): return actions + switchWave(now: now)
            case .beforeTrafficFailed(let reason, let actions): return actions + fail(now: now, actor: nil, reason: reason)
            }
        }
        switch (state.phase, input) {
        case (.waitingHealthy, .begin):
            progress.deadline = now + state.spec.deployTimeout.seconds
            // Marks the rollout begun (the controller's recovery tells by it).
            state.healthyDeadline = progress.deadline
            let p = progress
            return [
                .record(kind: "starting", message: "rolling \(state.targetVersion) out to \(p.servers.count) server(s) in \(p.plan.count) wave(s) (\(p.plan.map(String.init).joined(separator: ", ")) servers switched after each), \(p.perServer) instance(s) each"),
            ] + startWave()

        case (_, .abort(let reason)):
            return fail(now: now, actor: nil, reason: reason)

        case (.waitingHealthy, .serversUnreachable(let down)), (.progressing, .serversUnreachable(let down)):
            return unreachable(down, now: now)

        case (.paused, .serversUnreachable(let down)):
            guard !progress.waitingFor.isEmpty, progress.waitingFor.allSatisfy({ down[$0] == nil }) else { return [] }
            let back = progress.waitingFor.joined(separator: ", ")
            return [.decide(DecisionDraft(kind: .resumed, actor: "fleet", summary: "server(s) \(back) answer again; resuming wave \(progress.wave + 1) of \(progress.plan.count)", step: progress.wave + 1))]
                + resume(now: now)

        case (.waitingHealthy, .serverHealth(let healthy)):
            progress.lastHealth = healthy
            let wave = progress.waveServers
            guard !wave.isEmpty, wave.allSatisfy({ (healthy[$0] ?? 0) >= progress.perServer }) else { return [] }
            return waveHealthy(now: now, note: "\(wave.count * progress.perServer) instance(s) of \(state.targetVersion) on \(Self.list(wave)) passed health checks")

        case (.waitingHealthy, .tick):
            guard let deadline = progress.deadline, now >= deadline else { return [] }
            return waveLate(now: now)

        case (.progressing, .tick):
            guard progress.wait == .analysis, let name = progress.analysis, let due = progress.nextAnalysisAt, now >= due else { return [] }
            progress.nextAnalysisAt = now + policy(name).interval.seconds
            return [.analyze(policy: name, purpose: .step)]

        case (.progressing, .analysisResult(_, let verdict)):
            return analysisResult(verdict, now: now)

        case (.progressing, .command(let command, let by)) where command == .promote || command == .promoteFull:
            guard progress.wait == .analysis else { return [] }
            return [.decide(DecisionDraft(kind: .promoted, actor: by, summary: "\(by) went on after wave \(progress.wave + 1) without waiting for analysis (latest: \(progress.lastSummary ?? "no run yet"))", step: progress.wave + 1))]
                + nextWave(now: now)

        case (.waitingHealthy, .command(.pause, let by)), (.progressing, .command(.pause, let by)):
            return pause(for: "paused by \(by)", waitingFor: [], actor: by)

        case (.paused, .command(.resume, let by)):
            return [.decide(DecisionDraft(kind: .resumed, actor: by, summary: "\(by) resumed the rollout at \(progress.summary)", step: progress.wave + 1))]
                + resume(now: now)

        default:
            return []
        }
    }

    // MARK: waves

    private func policy(_ name: String) -> AnalysisPolicy { progress.policies[name] ?? .default }

    static func list(_ servers: [String]) -> String {
        servers.count <= 5 ? servers.joined(separator: ", ") : servers.prefix(4).joined(separator: ", ") + " and \(servers.count - 4) more"
    }

    private mutating func startWave() -> [RolloutAction] {
        let p = progress
        return [
            .record(kind: "wave_started", message: "wave \(p.wave + 1) of \(p.plan.count): starting \(p.waveServers.count * p.perServer) instance(s) of \(state.targetVersion) on \(Self.list(p.waveServers))"),
            .startInstances(version: state.targetVersion, count: p.wantedInstances),
        ]
    }

    private mutating func waveHealthy(now: Double, note: String) -> [RolloutAction] {
        progress.deadline = nil
        if progress.isLastWave {
            // The whole fleet: the blue-green switch (hooks, preview, drain, watch) of every server.
            progress.switched = progress.coveredServers
            var machine = BlueGreenMachine(state: state)
            let actions = machine.afterHealthy(now: now, note: note)
            state = machine.state
            return actions
        }
        if progress.switched.isEmpty, let stage = state.hooks?.nextBeforeSwitch() {
            return [.record(kind: "healthy", message: note + "; no traffic until the hooks passed")] + state.startHook(stage, now: now)
        }
        return [.record(kind: "healthy", message: note)] + switchWave(now: now)
    }

    /// The current wave's servers serve the target; then analysis, or the next wave.
    private mutating func switchWave(now: Double) -> [RolloutAction] {
        state.phase = .progressing
        let wave = progress.waveServers
        progress.switched += wave
        let p = progress
        var actions: [RolloutAction] = [
            .updateRoutes,
            .decide(DecisionDraft(kind: .stepCompleted, actor: "health", summary: "wave \(p.wave + 1) of \(p.plan.count) switched to \(state.targetVersion): \(Self.list(wave)) (\(p.switched.count)/\(p.servers.count) servers; the others stay on \(state.fromVersion ?? "no release"))", step: p.wave + 1)),
        ]
        if let name = p.analysis {
            let policy = policy(name)
            progress.wait = .analysis
            progress.tracker = AnalysisTracker(policy: policy)
            progress.nextAnalysisAt = now + policy.interval.seconds
            progress.inconclusiveNoted = false
            actions.append(.record(kind: "wave_analysis", message: "after wave \(p.wave + 1): judging analysis `\(name)` every \(DurationText.format(policy.interval)) before the next wave"))
            return actions
        }
        return actions + nextWave(now: now)
    }

    private mutating func nextWave(now: Double) -> [RolloutAction] {
        progress.wave += 1
        progress.wait = .healthy
        progress.tracker = nil
        progress.nextAnalysisAt = nil
        progress.deadline = now + state.spec.deployTimeout.seconds
        state.phase = .waitingHealthy
        if progress.waveServers.isEmpty {
            // Every server of this wave was left out already.
            return waveHealthy(now: now, note: "wave \(progress.wave + 1) has no server left to start")
        }
        return startWave()
    }

    /// The deadline passed with servers of the wave not healthy: leave them out while
    /// `max_failed_hosts` allows, else fail naming them.
    private mutating func waveLate(now: Double) -> [RolloutAction] {
        let late = progress.waveServers.filter { (progress.lastHealth[$0] ?? 0) < progress.perServer }
        let why = "its instances of \(state.targetVersion) did not become healthy within \(DurationText.format(state.spec.deployTimeout)) (deploy_timeout)"
        if !late.isEmpty, progress.skipped.count + late.count <= progress.maxFailedServers, late.count < progress.waveServers.count {
            for server in late { progress.skipped[server] = why }
            return [.decide(DecisionDraft(kind: .stepCompleted, actor: "health", summary: "wave \(progress.wave + 1): going on without \(Self.list(late)): \(why) (\(progress.skipped.count) of max_failed_hosts \(progress.maxFailedServers) left out)", step: progress.wave + 1))]
                + waveHealthy(now: now, note: "the other servers of wave \(progress.wave + 1) passed health checks")
        }
        let names = late.isEmpty ? "" : " on \(Self.list(late))"
        return fail(now: now, actor: "health", reason: "wave \(progress.wave + 1): instances of \(state.targetVersion)\(names) did not become healthy within \(DurationText.format(state.spec.deployTimeout)) (deploy_timeout)")
    }

    private mutating func unreachable(_ down: [String: String], now: Double) -> [RolloutAction] {
        let hit = progress.waveServers.filter { down[$0] != nil }
        guard !hit.isEmpty else { return [] }
        if progress.skipped.count + hit.count <= progress.maxFailedServers, hit.count < progress.waveServers.count {
            for server in hit { progress.skipped[server] = "does not answer: \(down[server]!)" }
            return [.decide(DecisionDraft(kind: .stepCompleted, actor: "fleet", summary: "wave \(progress.wave + 1): going on without \(hit.map { "\($0) (\(down[$0]!))" }.joined(separator: ", ")); \(progress.skipped.count) of max_failed_hosts \(progress.maxFailedServers) left out; they keep \(state.fromVersion ?? "no release") until they answer again", step: progress.wave + 1))]
        }
        let why = hit.map { "server \($0) does not answer (\(down[$0]!))" }.joined(separator: "; ")
        return pause(for: why + "; the rollout goes on when it answers again (max_failed_hosts \(progress.maxFailedServers)), or `slipway abort` switches every server back", waitingFor: hit, actor: "fleet")
    }

    private mutating func pause(for reason: String, waitingFor: [String], actor: String) -> [RolloutAction] {
        progress.resumePhase = state.phase
        progress.pausedFor = reason
        progress.waitingFor = waitingFor
        progress.deadline = nil
        state.phase = .paused
        return [.decide(DecisionDraft(kind: .paused, actor: actor, summary: "paused at \(progress.summary)", step: progress.wave + 1))]
    }

    private mutating func resume(now: Double) -> [RolloutAction] {
        state.phase = progress.resumePhase ?? .waitingHealthy
        progress.resumePhase = nil
        progress.pausedFor = nil
        progress.waitingFor = []
        if state.phase == .waitingHealthy {
            progress.deadline = now + state.spec.deployTimeout.seconds
            // Instances that could not start on a server that did not answer restart on
            // their own; ask again in case none were asked for yet.
            return [.startInstances(version: state.targetVersion, count: progress.wantedInstances)]
        }
        if progress.wait == .analysis { progress.nextAnalysisAt = now }
        return []
    }

    private mutating func analysisResult(_ verdict: AnalysisRunVerdict, now: Double) -> [RolloutAction] {
        guard progress.wait == .analysis else { return [] }
        switch progress.judge(verdict, after: "wave \(progress.wave + 1)", step: progress.wave + 1, abortHint: "`slipway abort` switches every server back") {
        case .ignored, .paused(nil): return []
        case .noted(let action): return [action]
        case .passed(let decision): return [.decide(decision)] + nextWave(now: now)
        case .failed(let reason, let verdict): return fail(now: now, actor: "analysis", reason: reason, verdict: verdict)
        case .paused(let decision?): return [.decide(decision)]
        }
    }

    /// Every switched server back on the previous release (still running there), the
    /// target's instances stopped.
    private mutating func fail(now: Double, actor: String?, reason: String, verdict: AnalysisRunVerdict? = nil) -> [RolloutAction] {
        let undo = !progress.switched.isEmpty
        let back = progress.switched
        progress.switched = []
        progress.pausedFor = nil
        progress.waitingFor = []
        progress.deadline = nil
        var restore: [RolloutAction] = []
        if let actor, undo {
            restore.append(.decide(DecisionDraft(kind: .rolledBack, actor: actor, summary: "switched \(Self.list(back)) back to \(state.fromVersion ?? "no release") at once: \(reason)", verdict: verdict, step: progress.wave + 1)))
        }
        if undo { restore.append(.updateRoutes) }
        var after: [RolloutAction] = [.stopInstances(version: state.targetVersion)]
        if let from = state.fromVersion {
            after.append(.record(kind: "stable_kept", message: "every server serves \(from)"))
        }
        return state.endFailed(reason: reason, now: now, undo: undo, restore: restore, after: after)
    }
}
