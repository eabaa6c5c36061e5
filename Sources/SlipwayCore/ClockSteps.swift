extension Optional where Wrapped == Double {
    fileprivate mutating func shift(by delta: Double) {
        if let value = self { self = value + delta }
    }
}

extension BlueGreenState {
    /// Moves every time of a running rollout by `delta` (a step of the wall clock), so each
    /// timer keeps the time it had left: a pause, a deadline or a watch is neither cut short
    /// by a jump forward nor stretched by a jump back, and analysis windows keep their length.
    public mutating func shiftTimes(by delta: Double) {
        startedAt += delta
        healthyDeadline.shift(by: delta)
        drainDeadline.shift(by: delta)
        switchedAt.shift(by: delta)
        endedAt.shift(by: delta)
        canary?.shiftTimes(by: delta)
        gate?.shiftTimes(by: delta)
        rolling?.shiftTimes(by: delta)
        approval?.shiftTimes(by: delta)
        hooks?.startedAt.shift(by: delta)
        waves?.shiftTimes(by: delta)
    }
}

extension CanaryProgress {
    mutating func shiftTimes(by delta: Double) {
        stepStartedAt.shift(by: delta)
        trafficSince.shift(by: delta)
        nextBackgroundAt.shift(by: delta)
        nextStepAnalysisAt.shift(by: delta)
        lastBackgroundAt.shift(by: delta)
    }
}

extension BlueGreenGate {
    mutating func shiftTimes(by delta: Double) {
        nextAt.shift(by: delta)
        watchUntil.shift(by: delta)
        windowStart.shift(by: delta)
    }
}

extension RollingProgress {
    mutating func shiftTimes(by delta: Double) {
        batchDeadline.shift(by: delta)
        drainDeadline.shift(by: delta)
        trafficSince.shift(by: delta)
        nextAnalysisAt.shift(by: delta)
    }
}

extension ApprovalState {
    mutating func shiftTimes(by delta: Double) {
        requestedAt += delta
        expiresAt += delta
    }
}

extension WavesProgress {
    mutating func shiftTimes(by delta: Double) {
        deadline.shift(by: delta)
        nextAnalysisAt.shift(by: delta)
    }
}
