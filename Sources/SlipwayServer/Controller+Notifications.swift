import Foundation
import Logging
import SlipwayCore
import SlipwayStore

extension Controller {
    /// Appends an entry to the unit's event log and, when it is an event sinks want,
    /// queues one notification per matching sink in the same transaction; then wakes the
    /// notifier. Every event-log write of the controller goes through here.
    func recordEvent(service: String, rolloutID: Int64?, kind: String, message: String, time: Double,
                     version: String? = nil, alert: (name: String, severity: AlertSeverity, startedAt: Double)? = nil) throws {
        if let rolloutID, traces.isEnabled { traces.event(rollout: rolloutID, kind: kind, message: redaction.redact(message), time: time) }
        var rollout: RolloutRecord?
        if let rolloutID, kind == "succeeded" || NotificationEvent.of(eventKind: kind) != nil {
            rollout = try store.rollout(id: rolloutID, withEvents: false)
        }
        guard let event = NotificationEvent.of(eventKind: kind, rollback: rollout?.kind == .rollback),
              let unit = try store.service(service), !unit.spec.notifications.isEmpty else {
            try store.appendEvent(service: service, rolloutID: rolloutID, kind: kind, message: message, time: time)
            return
        }
        let environment = unit.spec.environmentName
        let sinks = unit.spec.notifications.filter { $0.accepts(event, environment: environment) }
        let payload = NotificationPayload(
            event: event, service: service, environment: environment,
            version: version ?? rollout?.toVersion ?? unit.stableVersion, fromVersion: rollout?.fromVersion, rollout: rolloutID,
            message: redaction.redact(message), severity: alert?.severity, time: time, alert: alert?.name, alertStartedAt: alert?.startedAt)
        try store.appendEvent(service: service, rolloutID: rolloutID, kind: kind, message: message, time: time,
                              notifications: sinks.map { ($0, payload) })
        if !sinks.isEmpty { outbox.wake() }
    }

    /// What `${NAME}` in a unit's sinks may name: the server's environment, overridden by
    /// the unit's secrets (service-wide, then its environment's scope).
    func notificationLookup(service: String) -> [String: String] {
        var values = inherited
        if let secrets = try? secretEnvironment(service: service) {
            values.merge(secrets) { _, secret in secret }
        }
        return values
    }

    // MARK: alerts

    /// Judges every unit's alert rules on the router's live numbers and the instances'
    /// health, at most once a second. Firing and resolving are events (and notifications).
    func evaluateAlerts(now: Double) async throws {
        guard now - lastAlertCheck >= 1 else { return }
        lastAlertCheck = now
        if !alertStatesLoaded {
            for (unit, states) in try store.alertStates() {
                for (name, state) in states { loadedAlertStates[unit, default: [:]][name] = state }
            }
            alertStatesLoaded = true
        }
        // nil: the router did not answer; rules on its numbers keep their state this round
        // (an unreachable router must not resolve a firing alert).
        var statsByWindow: [Duration: [VersionStats]?] = [:]
        var seenUnits: Set<String> = []
        for name in try store.serviceNames() {
            guard let unit = try store.service(name) else { continue }
            seenUnits.insert(name)
            var evaluators = alertEvaluators[name] ?? [:]
            // Rules removed from the config: a firing one is resolved, the rest forgotten.
            for (ruleName, evaluator) in evaluators where !unit.spec.alerts.contains(where: { $0.name == ruleName }) {
                if evaluator.state.phase == .firing {
                    try recordEvent(service: name, rolloutID: nil, kind: "alert_resolved", message: "alert \(ruleName) resolved: the rule was removed from the config", time: now,
                                    alert: (ruleName, evaluator.rule.severity, evaluator.state.firingSince ?? now))
                }
                evaluators[ruleName] = nil
                try store.saveAlertState(service: name, name: ruleName, state: nil)
            }
            for rule in unit.spec.alerts {
                var evaluator = evaluators[rule.name].flatMap { $0.rule == rule ? $0 : AlertEvaluator(rule: rule, state: $0.state) }
                    ?? AlertEvaluator(rule: rule, state: loadedAlertStates[name]?[rule.name] ?? AlertState())
                let value: Double?
                if rule.metric == .instanceDown {
                    value = try instancesDown(unit)
                } else {
                    if statsByWindow[rule.window] == nil {
                        statsByWindow[rule.window] = .some(try? await fleetStats(window: rule.window, latencyBuckets: true))
                    }
                    guard let stats = statsByWindow[rule.window] ?? nil else { continue }
                    value = Self.reading(rule, stats: stats.filter { $0.service == name })
                }
                let before = evaluator.state.phase
                let transition = evaluator.observe(value, now: now)
                evaluators[rule.name] = evaluator
                if before != evaluator.state.phase {
                    try store.saveAlertState(service: name, name: rule.name, state: evaluator.state)
                }
                switch transition {
                case .fired(let value, let since)?:
                    let held = DurationText.format(.milliseconds(Int64((now - since) * 1000)))
                    logger.warning("alert firing", metadata: ["slipway.service": "\(name)", "slipway.alert": "\(rule.name)", "slipway.severity": "\(rule.severity.rawValue)"])
                    try recordEvent(service: name, rolloutID: nil, kind: "alert_firing",
                                    message: "alert \(rule.name) (\(rule.severity.rawValue)) firing: \(rule.describe(value)) for \(held)", time: now,
                                    version: unit.stableVersion, alert: (rule.name, rule.severity, now))
                case .resolved(let value, let firedAt)?:
                    logger.info("alert resolved", metadata: ["slipway.service": "\(name)", "slipway.alert": "\(rule.name)"])
                    try recordEvent(service: name, rolloutID: nil, kind: "alert_resolved",
                                    message: "alert \(rule.name) resolved: \(rule.describe(value))", time: now,
                                    version: unit.stableVersion, alert: (rule.name, rule.severity, firedAt))
                case nil:
                    break
                }
            }
            alertEvaluators[name] = evaluators
        }
        for gone in Set(alertEvaluators.keys).subtracting(seenUnits) { alertEvaluators[gone] = nil }
    }

    /// Instances of the stable release that are crashed or failing health checks.
    func instancesDown(_ unit: StoredService) throws -> Double? {
        guard let stable = unit.stableVersion else { return nil }
        let instances = try store.liveInstances(service: unit.spec.name, version: stable).filter { $0.state != .stopping && $0.state != .stopped }
        return Double(instances.filter { $0.state == .crashed || routerHealth[$0.id]?.healthy != true }.count)
    }

    /// The rule's metric over all versions of the unit together; nil below min_samples.
    static func reading(_ rule: AlertRule, stats: [VersionStats]) -> Double? {
        let requests = stats.reduce(UInt64(0)) { $0 + $1.requests }
        guard requests > 0, requests >= UInt64(rule.minSamples) else { return nil }
        if rule.metric == .errorRate {
            return Double(stats.reduce(UInt64(0)) { $0 + $1.errors }) / Double(requests)
        }
        guard let q = rule.metric.latencyQuantile else { return nil }
        let merged = VersionWindow(version: "*", requests: requests, errors: 0, latency: stats.flatMap { $0.latency ?? [] })
        return merged.latencyMs(quantile: q)
    }

    /// Every rule of every unit with its state (`GET /v1/alerts`).
    func alertStatuses() throws -> [AlertStatus] {
        var result: [AlertStatus] = []
        for name in try store.serviceNames() {
            guard let unit = try store.service(name) else { continue }
            for rule in unit.spec.alerts {
                let state = alertEvaluators[name]?[rule.name]?.state ?? loadedAlertStates[name]?[rule.name] ?? AlertState()
                result.append(AlertStatus(service: name, rule: rule, state: state))
            }
        }
        return result
    }
}

/// One rule and where it stands.
public struct AlertStatus: Codable, Sendable {
    public var service: String
    public var name: String
    public var metric: AlertMetric
    public var max: Double?
    public var forSeconds: Double
    public var severity: AlertSeverity
    public var phase: AlertPhase
    public var since: Double?
    public var firingSince: Double?
    public var value: Double?
    public var evaluatedAt: Double?

    init(service: String, rule: AlertRule, state: AlertState) {
        self.service = service
        name = rule.name
        metric = rule.metric
        max = rule.max
        forSeconds = rule.forDuration.seconds
        severity = rule.severity
        phase = state.phase
        since = state.since
        firingSince = state.firingSince
        value = state.value
        evaluatedAt = state.evaluatedAt
    }
}
