/// The blue-green rollout as a pure state machine: inputs in, actions out, no I/O.
/// `now` is passed with every input (seconds since 1970) so tests use a manual clock.
///
/// waiting_healthy ──all replicas healthy──▶ draining ──in-flight 0 or drain timeout──▶ succeeded
///        │ deploy_timeout / abort                                           (previous kept warm)
///        ▼
///      failed (new instances stopped, traffic never left the stable release)
public struct BlueGreenMachine: Sendable {
    public private(set) var state: BlueGreenState

    public init(state: BlueGreenState) {
        self.state = state
    }

    public mutating func handle(_ input: RolloutInput, now: Double) -> [RolloutAction] {
        guard !state.phase.isTerminal else { return [] }
        switch (state.phase, input) {
        case (.waitingHealthy, .begin):
            if state.warm {
                return switchTraffic(now: now, note: "release \(state.targetVersion) is still warm; switching at once")
            }
            state.healthyDeadline = now + state.spec.deployTimeout.seconds
            return [
                .record(kind: "starting", message: "starting \(state.replicas) instance(s) of \(state.targetVersion)"),
                .startInstances(version: state.targetVersion, count: state.replicas),
            ]

        case (.waitingHealthy, .targetHealth(let healthy)):
            guard healthy >= state.replicas else { return [] }
            return switchTraffic(now: now, note: "\(healthy)/\(state.replicas) instance(s) of \(state.targetVersion) passed health checks")

        case (.waitingHealthy, .tick):
            guard let deadline = state.healthyDeadline, now >= deadline else { return [] }
            return fail(now: now, reason: "instances of \(state.targetVersion) did not become healthy within \(DurationText.format(state.spec.deployTimeout)) (deploy_timeout)")

        case (.draining, .previousInflight(let count)):
            guard count == 0 else { return [] }
            return succeed(now: now, note: "previous release drained")

        case (.draining, .tick):
            guard let deadline = state.drainDeadline, now >= deadline else { return [] }
            return succeed(now: now, note: "drain_timeout (\(DurationText.format(state.spec.drainTimeout))) reached with requests still in flight on the previous release")

        case (.waitingHealthy, .abort(let reason)):
            return fail(now: now, reason: reason)

        case (.draining, .abort(let reason)):
            // Traffic is already on the target: the rollout ends here and the rollback
            // that asked for the abort moves traffic back as its own rollout. Nothing is
            // stopped: both releases are still needed.
            state.phase = .failed
            state.endedAt = now
            state.failureReason = reason
            return [.record(kind: "aborted", message: reason)]

        default:
            return []
        }
    }

    mutating func switchTraffic(now: Double, note: String) -> [RolloutAction] {
        state.phase = .draining
        state.switchedAt = now
        state.drainDeadline = now + state.spec.drainTimeout.seconds
        var actions: [RolloutAction] = [
            .record(kind: "healthy", message: note),
            .switchTraffic(to: state.targetVersion, from: state.fromVersion),
            .record(kind: "switched", message: "traffic switched to \(state.targetVersion)" + (state.fromVersion.map { " from \($0)" } ?? "")),
        ]
        if state.fromVersion == nil {
            actions += succeed(now: now, note: "first release of the service; nothing to drain")
        }
        return actions
    }

    private mutating func succeed(now: Double, note: String) -> [RolloutAction] {
        state.phase = .succeeded
        state.endedAt = now
        var actions: [RolloutAction] = [.record(kind: "drained", message: note)]
        if let from = state.fromVersion, from != state.targetVersion {
            if state.spec.keepPrevious.milliseconds > 0 {
                let until = now + state.spec.keepPrevious.seconds
                actions.append(.keepWarm(version: from, until: until))
                actions.append(.record(kind: "keep_warm", message: "keeping \(from) warm for \(DurationText.format(state.spec.keepPrevious)) (keep_previous)"))
            } else {
                actions.append(.stopInstances(version: from))
            }
        }
        actions.append(.record(kind: "succeeded", message: "rollout to \(state.targetVersion) succeeded"))
        return actions
    }

    mutating func fail(now: Double, reason: String) -> [RolloutAction] {
        state.phase = .failed
        state.endedAt = now
        state.failureReason = reason
        var actions: [RolloutAction] = [.record(kind: "failed", message: reason)]
        if !state.warm {
            actions.append(.stopInstances(version: state.targetVersion))
        }
        if let from = state.fromVersion {
            actions.append(.record(kind: "stable_kept", message: "traffic stays on \(from)"))
        }
        return actions
    }
}
