import NIOCore
import Testing
@testable import SlipwayRouter

@Suite struct HealthThresholdsTests {
    func at(_ seconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(seconds) * 1_000_000_000) }

    @Test func startsUnhealthyAndNeedsConsecutiveSuccesses() {
        var m = HealthThresholds(healthyAfter: 2, unhealthyAfter: 3, grace: .seconds(10), firstSeen: at(0))
        #expect(!m.isHealthy)
        #expect(m.record(.success, at: at(1)) == nil)
        #expect(m.record(.failure("connection refused"), at: at(2)) == nil)
        #expect(m.consecutiveSuccesses == 0)
        #expect(m.record(.success, at: at(3)) == nil)
        #expect(m.record(.success, at: at(4)) == .becameHealthy)
        #expect(m.isHealthy)
        #expect(m.lastError == "connection refused")
    }

    @Test func failuresDuringGraceDoNotCount() {
        var m = HealthThresholds(healthyAfter: 1, unhealthyAfter: 2, grace: .seconds(10), firstSeen: at(100))
        #expect(m.record(.success, at: at(101)) == .becameHealthy)
        for t in 102...108 { #expect(m.record(.failure("HTTP 503"), at: at(Int64(t))) == nil) }
        #expect(m.isHealthy)
        #expect(m.consecutiveFailures == 0)
        #expect(m.record(.failure("HTTP 503"), at: at(110)) == nil)
        #expect(m.record(.failure("timed out after 1s"), at: at(111)) == .becameUnhealthy)
        #expect(!m.isHealthy)
        #expect(m.lastError == "timed out after 1s")
    }

    @Test func successResetsFailureRun() {
        var m = HealthThresholds(healthyAfter: 1, unhealthyAfter: 2, grace: .zero, firstSeen: at(0))
        _ = m.record(.success, at: at(1))
        _ = m.record(.failure("x"), at: at(2))
        _ = m.record(.success, at: at(3))
        #expect(m.record(.failure("x"), at: at(4)) == nil)
        #expect(m.record(.failure("x"), at: at(5)) == .becameUnhealthy)
        #expect(m.record(.success, at: at(6)) == .becameHealthy)
    }
}

@Suite struct PassiveHealthTests {
    @Test func runOfFailuresEjectsForTheCooldown() {
        let p = PassiveHealth(failureRunLimit: 3, cooldown: .seconds(10))
        let s: UInt64 = 1_000_000_000
        #expect(!p.recordFailure(now: 1 * s))
        #expect(!p.recordFailure(now: 2 * s))
        p.recordSuccess()
        #expect(!p.recordFailure(now: 3 * s))
        #expect(!p.recordFailure(now: 4 * s))
        #expect(!p.isEjected(now: 4 * s))
        #expect(p.recordFailure(now: 5 * s))
        #expect(p.isEjected(now: 14 * s))
        #expect(p.ejectedUntil(now: 6 * s) == 15 * s)
        #expect(!p.isEjected(now: 15 * s))
        #expect(p.ejectedUntil(now: 16 * s) == nil)
    }
}
