import Foundation
import Testing

@testable import SlipwayServer

/// The notifier's wake-up: a wake before the wait is remembered, a wake during it returns
/// at once, the timeout and cancellation end it. The waits that must be ended by a wake or
/// a cancellation are an hour long: returning at all proves it (the suite's time limit only
/// guards against a hang; no wall-clock bound is asserted).
@Suite(.timeLimit(.minutes(2))) struct OutboxSignalTests {
    @Test func aWakeBeforeTheWaitIsRemembered() async {
        let signal = OutboxSignal()
        signal.wake()
        signal.wake()
        await signal.wait(upTo: .seconds(3600))
    }

    @Test func aWakeDuringTheWaitEndsIt() async {
        let signal = OutboxSignal()
        async let waited: Void = signal.wait(upTo: .seconds(3600))
        // Wake repeatedly until the waiter is gone (no fixed sleep: each wake is remembered
        // or resumes the waiter, both of which end the wait).
        let waker = Task {
            while !Task.isCancelled {
                signal.wake()
                await Task.yield()
            }
        }
        await waited
        waker.cancel()
    }

    @Test func theTimeoutEndsAWaitNobodyWakes() async {
        let signal = OutboxSignal()
        let start = ContinuousClock.now
        await signal.wait(upTo: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }

    @Test func cancellationEndsTheWait() async {
        let signal = OutboxSignal()
        let task = Task { await signal.wait(upTo: .seconds(3600)) }
        task.cancel()
        await task.value
    }
}
