import Foundation
import Testing

@testable import SlipwayServer

/// The notifier's wake-up: a wake before the wait is remembered, a wake during it returns
/// at once, the timeout and cancellation end it.
@Suite struct OutboxSignalTests {
    @Test func aWakeBeforeTheWaitIsRemembered() async {
        let signal = OutboxSignal()
        signal.wake()
        signal.wake()
        let start = ContinuousClock.now
        await signal.wait(upTo: .seconds(60))
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aWakeDuringTheWaitEndsIt() async {
        let signal = OutboxSignal()
        let start = ContinuousClock.now
        async let waited: Void = signal.wait(upTo: .seconds(60))
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
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func theTimeoutEndsAWaitNobodyWakes() async {
        let signal = OutboxSignal()
        let start = ContinuousClock.now
        await signal.wait(upTo: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }

    @Test func cancellationEndsTheWait() async {
        let signal = OutboxSignal()
        let start = ContinuousClock.now
        let task = Task { await signal.wait(upTo: .seconds(60)) }
        task.cancel()
        await task.value
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}
