import Foundation
@testable import SlipwayServer
import Testing

/// Failed controller ticks are logged once per error and then every 30 s with the count of
/// repeats, not ten times a second.
@Suite struct TickFailuresTests {
    @Test func aRepeatedFailureIsLoggedOnceThenEveryThirtySeconds() {
        var failures = TickFailures()
        let start = ContinuousClock.now
        #expect(failures.failed("disk full", now: start) == 0)
        for tick in 1...20 {
            #expect(failures.failed("disk full", now: start + .milliseconds(100 * tick)) == nil)
        }
        #expect(failures.failed("engine down", now: start + .seconds(3)) == 20, "a different error is logged at once, with the repeats of the last")
        #expect(failures.failed("engine down", now: start + .seconds(10)) == nil)
        #expect(failures.failed("engine down", now: start + .seconds(33)) == 1, "again after 30 s")
        #expect(failures.succeeded() == 24)
        #expect(failures.succeeded() == nil, "forgotten once reported")
        #expect(failures.failed("engine down", now: start + .seconds(34)) == 0, "a new run of failures starts afresh")
    }
}
