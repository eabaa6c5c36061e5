import Synchronization

/// Passive health of one endpoint: a run of connection failures or 5xx responses ejects it
/// from selection for a cooldown. Lock-free (atomics) because every proxied request touches it.
/// Times are `NIODeadline.uptimeNanoseconds` values.
final class PassiveHealth: Sendable {
    let failureRunLimit: Int
    let cooldownNanos: UInt64
    private let failureRun = Atomic<Int>(0)
    /// 0 when not ejected.
    private let ejectedUntilNanos = Atomic<UInt64>(0)

    init(failureRunLimit: Int, cooldown: Duration) {
        self.failureRunLimit = max(1, failureRunLimit)
        self.cooldownNanos = UInt64(max(0, TimeAmount(cooldown).nanoseconds))
    }

    /// Records a failure; returns true when this failure ejected the endpoint.
    @discardableResult
    func recordFailure(now: UInt64) -> Bool {
        let run = failureRun.wrappingAdd(1, ordering: .relaxed).newValue
        guard run >= failureRunLimit else { return false }
        failureRun.store(0, ordering: .relaxed)
        ejectedUntilNanos.store(now &+ cooldownNanos, ordering: .relaxed)
        return true
    }

    func recordSuccess() {
        if failureRun.load(ordering: .relaxed) != 0 { failureRun.store(0, ordering: .relaxed) }
    }

    func isEjected(now: UInt64) -> Bool {
        let until = ejectedUntilNanos.load(ordering: .relaxed)
        return until != 0 && now < until
    }

    /// The end of the current ejection, or nil when not ejected at `now`.
    func ejectedUntil(now: UInt64) -> UInt64? {
        let until = ejectedUntilNanos.load(ordering: .relaxed)
        return until != 0 && now < until ? until : nil
    }

    var currentFailureRun: Int { failureRun.load(ordering: .relaxed) }
}

import NIOCore
