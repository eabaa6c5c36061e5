import SlipwayCore
import Testing

/// DORA metrics from ended rollouts: each number checked against a hand-computed history.
@Suite struct DeliveryReportTests {
    typealias R = DeliveryReport.Rollout
    static let day = 86_400.0

    /// Ten days: an initial release, three good deploys (two with commit times), one canary
    /// rolled back by analysis after 120 s of traffic, one deploy undone by `slipway rollback`
    /// 600 s after it went live, one deploy that failed before taking traffic.
    static let history: [R] = [
        R(id: 1, unit: "web", kind: .initial, fromVersion: nil, toVersion: "v1", succeeded: true, startedAt: 0, endedAt: 10),
        R(id: 2, unit: "web", kind: .deploy, fromVersion: "v1", toVersion: "v2", succeeded: true, startedAt: day, endedAt: day + 60, trafficAt: day + 30, commitTime: day - 3600),
        R(id: 3, unit: "web", kind: .deploy, fromVersion: "v2", toVersion: "v3", succeeded: false, startedAt: 2 * day, endedAt: 2 * day + 200,
          trafficAt: 2 * day + 20, rolledBackAt: 2 * day + 140),
        R(id: 4, unit: "web", kind: .deploy, fromVersion: "v2", toVersion: "v4", succeeded: true, startedAt: 3 * day, endedAt: 3 * day + 40, commitTime: 3 * day - 7200),
        R(id: 5, unit: "web", kind: .rollback, fromVersion: "v4", toVersion: "v2", succeeded: true, startedAt: 3 * day + 600, endedAt: 3 * day + 640),
        R(id: 6, unit: "web", kind: .deploy, fromVersion: "v2", toVersion: "v5", succeeded: false, startedAt: 4 * day, endedAt: 4 * day + 20),
        R(id: 7, unit: "web", kind: .deploy, fromVersion: "v2", toVersion: "v6", succeeded: true, startedAt: 5 * day, endedAt: 5 * day + 80),
    ]

    @Test func theFourKeysAndSuccessNumbers() {
        let r = DeliveryReport.compute(Self.history, since: 0, until: 10 * Self.day)
        #expect(r.deployments == 6)
        #expect(r.succeeded == 4)
        #expect(r.failed == 2)
        #expect(r.deploymentsPerDay == 0.4)
        // Commit to live: v2 3660 s, v4 7240 s.
        #expect(r.leadTimeMedian == 5450.0)
        #expect(r.leadTimeSamples == 2)
        // Took traffic: 4 succeeded + 1 rolled back; failures: v3 (analysis) and v4 (rollback).
        #expect(r.reachedTraffic == 5)
        #expect(r.changeFailures == 2)
        #expect(r.changeFailureRate == 0.4)
        // v3: 120 s of traffic; v4: live at +40, back on v2 at +640 → 600 s.
        #expect(r.timeToRestoreMedian == 360)
        #expect(r.successRate == 4.0 / 6.0)
        #expect(r.rollbacks == 2)
        #expect(r.rollbackRate == 2.0 / 6.0)
        // Durations 10, 60, 40, 80.
        #expect(r.deployDurationMedian == 50)
    }

    @Test func theWindowCountsRolloutsThatEndedInIt() {
        // From day 3: v4, its rollback, v5 and v6; the rollback still finds v4.
        let r = DeliveryReport.compute(Self.history, since: 3 * Self.day, until: 10 * Self.day)
        #expect(r.deployments == 3)
        #expect(r.changeFailures == 1)
        #expect(r.timeToRestoreMedian == 600)
        // A rollback in the window of a deploy made before it is not a failure of this window.
        let later = DeliveryReport.compute(Self.history, since: 3 * Self.day + 300, until: 10 * Self.day)
        #expect(later.changeFailures == 0)
        #expect(later.rollbacks == 1)
    }

    @Test func nothingToReportIsNotZeroPercent() {
        let r = DeliveryReport.compute([], since: 0, until: Self.day)
        #expect(r.deployments == 0)
        #expect(r.successRate == nil)
        #expect(r.changeFailureRate == nil)
        #expect(r.leadTimeMedian == nil)
        #expect(r.timeToRestoreMedian == nil)
        #expect(r.deploymentsPerDay == 0)
    }

    @Test func unitsAreSeparate() {
        // A rollback of web@staging does not undo a deploy of web@production.
        let rollouts = [
            R(id: 1, unit: "web@production", kind: .deploy, fromVersion: "v1", toVersion: "v2", succeeded: true, startedAt: 0, endedAt: 10),
            R(id: 2, unit: "web@staging", kind: .rollback, fromVersion: "v2", toVersion: "v1", succeeded: true, startedAt: 20, endedAt: 30),
        ]
        let r = DeliveryReport.compute(rollouts, since: 0, until: Self.day)
        #expect(r.changeFailures == 0)
    }
}

/// A canary aborted by a person while it had traffic is a change failure too.
@Suite struct DeliveryReportAbortTests {
    @Test func anAbortAfterTrafficIsAFailureAndItsEndIsTheRestore() {
        let rollouts = [
            DeliveryReport.Rollout(id: 1, unit: "web", kind: .initial, fromVersion: nil, toVersion: "v1", succeeded: true, startedAt: 0, endedAt: 5),
            DeliveryReport.Rollout(id: 2, unit: "web", kind: .deploy, fromVersion: "v1", toVersion: "v2", succeeded: false, startedAt: 100, endedAt: 190, trafficAt: 110),
        ]
        let r = DeliveryReport.compute(rollouts, since: 0, until: 86_400)
        #expect(r.reachedTraffic == 2)
        #expect(r.changeFailures == 1)
        #expect(r.rollbacks == 1)
        #expect(r.timeToRestoreMedian == 80)
    }
}
