import Synchronization
import Testing

@testable import SlipwayServer

/// The controller's clock: steady between adopted steps, and a step of the wall clock told
/// from time passing by the monotonic clock.
@Suite struct SteadyClockTests {
    final class ManualClock: WallClock, Sendable {
        let readings = Mutex((wall: 1_000.0, monotonic: 50.0))
        func now() -> Double { readings.withLock { $0.wall } }
        func monotonic() -> Double { readings.withLock { $0.monotonic } }
        func pass(_ seconds: Double) { readings.withLock { $0.wall += seconds; $0.monotonic += seconds } }
        func step(_ seconds: Double) { readings.withLock { $0.wall += seconds } }
    }

    @Test func aStepIsSeenAsDriftAndTakenOnlyWhenAdopted() {
        let base = ManualClock()
        let clock = SteadyClock(base: base)
        #expect(clock.now() == 1_000)
        base.pass(30)
        #expect(clock.now() == 1_030 && abs(clock.drift()) < 1e-9, "time passing is no drift")
        base.step(7_200)
        #expect(clock.now() == 1_030, "a step does not move the controller's clock by itself")
        #expect(abs(clock.drift() - 7_200) < 1e-9)
        base.pass(5)
        #expect(clock.now() == 1_035)
        clock.adopt(clock.drift())
        #expect(abs(clock.now() - 8_235) < 1e-9 && abs(clock.drift()) < 1e-9, "adopted: the wall clock's frame")
        base.step(-10_800)
        #expect(abs(clock.drift() + 10_800) < 1e-9, "a jump back")
    }
}
