/// A step of the wall clock — NTP correcting a machine that booted with a wrong time, an
/// operator's `date -s`, a virtual machine resumed — seen by comparing how far the wall
/// clock moved between two readings with how far the monotonic clock did.
public struct ClockStepDetector: Sendable {
    /// Smaller differences are NTP's slewing and scheduling noise, not a step.
    public static let tolerance = 1.0

    private var last: (wall: Double, monotonic: Double)?

    public init() {}

    /// The step since the previous reading (seconds; positive when the wall clock jumped
    /// forward) when it is at least `tolerance`, else nil. The first reading sees none.
    public mutating func observe(wall: Double, monotonic: Double) -> Double? {
        defer { last = (wall, monotonic) }
        guard let last else { return nil }
        let step = (wall - last.wall) - (monotonic - last.monotonic)
        return abs(step) >= Self.tolerance ? step : nil
    }
}

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
