import Foundation
import SlipwayCore
import Testing

/// Backoff with full jitter: exact delays with an injected random source.
@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(base: .seconds(2), cap: .seconds(60), maxAttempts: 5)

    @Test func ceilingDoublesUpToTheCap() {
        #expect((1...7).map { policy.ceiling(afterAttempts: $0) } == [2, 4, 8, 16, 32, 60, 60])
    }

    @Test func fullJitterScalesTheCeiling() {
        #expect(policy.next(afterAttempts: 1, random: { 0 }) == .retry(after: 0))
        #expect(policy.next(afterAttempts: 3, random: { 0.5 }) == .retry(after: 4))
        #expect(policy.next(afterAttempts: 4, random: { 0.999 }) == .retry(after: 16 * 0.999))
    }

    @Test func givesUpAfterMaxAttemptsOrAPermanentFailure() {
        #expect(policy.next(afterAttempts: 5, random: { 0.5 }) == .giveUp)
        #expect(policy.next(afterAttempts: 1, permanent: true, random: { 0.5 }) == .giveUp)
    }

    @Test func defaultsRetryForAboutAnHourAtMost() {
        let d = RetryPolicy()
        let total = (1..<d.maxAttempts).map { d.ceiling(afterAttempts: $0) }.reduce(0, +)
        #expect(d.maxAttempts == 12)
        #expect(total > 3000 && total < 4500)
    }
}

/// pending → firing after `for:` → resolved, driven by readings and explicit times.
@Suite struct AlertEvaluatorTests {
    let rule = AlertRule(name: "errors", metric: .errorRate, max: 0.05, for: .seconds(10), severity: .critical)

    @Test func firesOnlyAfterTheConditionHeldForItsDuration() {
        var e = AlertEvaluator(rule: rule)
        #expect(e.observe(0.01, now: 100) == nil)
        #expect(e.state.phase == .inactive)
        #expect(e.observe(0.2, now: 101) == nil)
        #expect(e.state.phase == .pending)
        #expect(e.observe(0.3, now: 110.9) == nil)
        #expect(e.observe(0.3, now: 111) == .fired(value: 0.3, since: 101))
        #expect(e.state.phase == .firing)
        #expect(e.observe(0.4, now: 120) == nil)
        #expect(e.observe(0.0, now: 130) == .resolved(value: 0.0, firedAt: 111))
        #expect(e.state.phase == .inactive)
    }

    @Test func aShortSpikeNeverFires() {
        var e = AlertEvaluator(rule: rule)
        _ = e.observe(0.5, now: 0)
        #expect(e.observe(0.0, now: 5) == nil)
        #expect(e.state.phase == .inactive)
        #expect(e.observe(0.5, now: 6) == nil)
        #expect(e.observe(0.5, now: 15) == nil)
        #expect(e.observe(0.5, now: 16) == .fired(value: 0.5, since: 6))
    }

    @Test func noDataDoesNotHoldTheCondition() {
        var e = AlertEvaluator(rule: AlertRule(name: "slow", metric: .latencyP95, max: 500, for: .zero))
        #expect(e.observe(nil, now: 0) == nil)
        #expect(e.observe(800, now: 1) == .fired(value: 800, since: 1))
        #expect(e.observe(nil, now: 2) == .resolved(value: nil, firedAt: 1))
    }

    @Test func instanceDownFiresOnAnyInstanceDown() {
        var e = AlertEvaluator(rule: AlertRule(name: "down", metric: .instanceDown, for: .seconds(2)))
        #expect(e.observe(0, now: 0) == nil)
        #expect(e.observe(1, now: 1) == nil)
        #expect(e.observe(2, now: 3) == .fired(value: 2, since: 1))
        #expect(e.observe(0, now: 4) == .resolved(value: 0, firedAt: 3))
    }
}

@Suite struct NotificationModelTests {
    @Test func eventKindsOfTheEventLog() {
        #expect(NotificationEvent.of(eventKind: "started") == .started)
        #expect(NotificationEvent.of(eventKind: "decision_step_completed") == .stepCompleted)
        #expect(NotificationEvent.of(eventKind: "decision_paused") == .paused)
        #expect(NotificationEvent.of(eventKind: "decision_promoted") == .promoted)
        #expect(NotificationEvent.of(eventKind: "succeeded") == .succeeded)
        #expect(NotificationEvent.of(eventKind: "succeeded", rollback: true) == .rolledBack)
        #expect(NotificationEvent.of(eventKind: "decision_rolled_back") == .rolledBack)
        #expect(NotificationEvent.of(eventKind: "instance_crashed") == .instanceCrashed)
        #expect(NotificationEvent.of(eventKind: "healthy") == nil)
    }

    @Test func sinksFilterByEventAndEnvironment() {
        let all = NotificationSink(kind: .webhook, url: "http://x")
        #expect(all.accepts(.started, environment: nil))
        let prod = NotificationSink(kind: .slack, url: "http://x", events: [.failed], environments: ["production"])
        #expect(prod.accepts(.failed, environment: "production"))
        #expect(!prod.accepts(.failed, environment: "staging"))
        #expect(!prod.accepts(.failed, environment: nil))
        #expect(!prod.accepts(.started, environment: "production"))
    }

    @Test func secretReferencesExpandAtSendTime() {
        let lookup: (String) -> String? = { ["HOOK": "s3cret", "HOST": "example.org"][$0] }
        #expect(SecretReference.expand("https://${HOST}/x?k=${HOOK}", lookup: lookup) == .success("https://example.org/x?k=s3cret"))
        #expect(SecretReference.expand("plain", lookup: lookup) == .success("plain"))
        guard case .failure(let error) = SecretReference.expand("${NOPE}", lookup: lookup) else { Issue.record("expected a failure"); return }
        #expect(error.message.contains("${NOPE}"))
        #expect(SecretReference.names(in: "a${B}c${D_1}") == .success(["B", "D_1"]))
        if case .success = SecretReference.names(in: "${1X}") { Issue.record("a digit cannot start a name") }
        if case .success = SecretReference.names(in: "${OPEN") { Issue.record("an unclosed reference is an error") }
    }

    @Test func specsWithoutNotificationsEncodeAsBefore() throws {
        let spec = ServiceSpec(name: "web", run: ["x"])
        let text = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(!text.contains("notifications"))
        var with = spec
        with.notifications = [NotificationSink(kind: .webhook, url: "http://127.0.0.1:1/", secret: "${S}", events: [.failed])]
        with.alerts = [AlertRule(name: "e", metric: .errorRate, max: 0.05, for: .seconds(60), severity: .critical)]
        let decoded = try JSONDecoder().decode(ServiceSpec.self, from: JSONEncoder().encode(with))
        #expect(decoded == with)
    }
}
