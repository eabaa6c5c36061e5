/// The four DORA metrics and Slipway's own success numbers over a window, from ended
/// rollouts (`slipway report`, `GET /v1/report`, the dashboard).
///
/// Definitions (the README repeats them):
/// - A *deployment* is a `deploy` or `initial` rollout that ended in the window; it *reached
///   traffic* if it succeeded or was rolled back after taking traffic.
/// - *Deployment frequency*: succeeded deployments per day of the window.
/// - *Lead time for changes*: median of commit time (`release create --commit-time`) to the
///   deployment's end, over succeeded deployments whose release has a commit time.
/// - *Change failure rate*: deployments that reached traffic and then failed (rolled back by
///   analysis or a watch, aborted or rolled back by a person while it had traffic, or later
///   undone by `slipway rollback` away from that version) over deployments that reached traffic.
/// - *Time to restore*: median, over those failures, of first traffic on the bad version to
///   traffic back on a good one (the rollback decision, the rollout's end, or the rollback
///   rollout's end).
/// - *Success rate*: succeeded over ended deployments; *rollback rate*: deployments that
///   failed after taking traffic plus `rollback` rollouts, over ended deployments; *median
///   deploy duration*: start to end of succeeded deployments.
public struct DeliveryReport: Codable, Sendable, Equatable {
    /// What the report needs of one ended rollout.
    public struct Rollout: Sendable, Equatable {
        public var id: Int64
        public var unit: String
        public var kind: RolloutKind
        public var fromVersion: String?
        public var toVersion: String
        public var succeeded: Bool
        public var startedAt: Double
        public var endedAt: Double
        /// First time the target version took traffic (a canary weight or the switch).
        public var trafficAt: Double?
        /// When analysis or a watch rolled it back (traffic back on the stable release).
        public var rolledBackAt: Double?
        /// The release's commit time, when `release create` recorded one.
        public var commitTime: Double?

        public init(id: Int64, unit: String, kind: RolloutKind, fromVersion: String?, toVersion: String, succeeded: Bool, startedAt: Double, endedAt: Double,
                    trafficAt: Double? = nil, rolledBackAt: Double? = nil, commitTime: Double? = nil) {
            self.id = id
            self.unit = unit
            self.kind = kind
            self.fromVersion = fromVersion
            self.toVersion = toVersion
            self.succeeded = succeeded
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.trafficAt = trafficAt
            self.rolledBackAt = rolledBackAt
            self.commitTime = commitTime
        }
    }

    public var since: Double
    public var until: Double
    public var environment: String?
    public var service: String?
    public var deployments: Int
    public var succeeded: Int
    public var failed: Int
    public var reachedTraffic: Int
    public var changeFailures: Int
    public var rollbacks: Int
    public var deploymentsPerDay: Double
    /// Seconds; nil when no succeeded deployment had a commit time.
    public var leadTimeMedian: Double?
    public var leadTimeSamples: Int
    public var changeFailureRate: Double?
    /// Seconds; nil when nothing failed.
    public var timeToRestoreMedian: Double?
    public var successRate: Double?
    public var rollbackRate: Double?
    /// Seconds.
    public var deployDurationMedian: Double?

    /// - Parameter rollouts: every ended rollout of the units in scope (also before `since`:
    ///   a rollback in the window may undo a deployment made before it).
    public static func compute(_ rollouts: [Rollout], since: Double, until: Double, environment: String? = nil, service: String? = nil) -> DeliveryReport {
        let inWindow = { (r: Rollout) in r.endedAt >= since && r.endedAt <= until }
        let deploys = rollouts.filter { ($0.kind == .deploy || $0.kind == .initial) && inWindow($0) }
        let good = deploys.filter(\.succeeded)
        // Failed after taking traffic: traffic went back to the stable release.
        let autoRolledBack = deploys.filter { !$0.succeeded && ($0.rolledBackAt != nil || $0.trafficAt != nil) }
        let manualRollbacks = rollouts.filter { $0.kind == .rollback && $0.succeeded && inWindow($0) }

        // A succeeded deployment later undone by `slipway rollback` away from its version.
        var undone: [(deploy: Rollout, restoredAt: Double)] = []
        for rollback in manualRollbacks {
            guard let bad = rollback.fromVersion,
                  let deploy = rollouts.filter({ ($0.kind == .deploy || $0.kind == .initial) && $0.succeeded && $0.unit == rollback.unit && $0.toVersion == bad && $0.endedAt <= rollback.startedAt })
                    .max(by: { $0.endedAt < $1.endedAt }),
                  inWindow(deploy), !undone.contains(where: { $0.deploy.id == deploy.id }) else { continue }
            undone.append((deploy, rollback.endedAt))
        }
        var restoreTimes = autoRolledBack.map { r in (r.rolledBackAt ?? r.endedAt) - (r.trafficAt ?? r.startedAt) }
        restoreTimes += undone.map { $0.restoredAt - ($0.deploy.trafficAt ?? $0.deploy.endedAt) }

        let reached = good.count + autoRolledBack.count
        let failures = autoRolledBack.count + undone.count
        let days = max((until - since) / 86_400, 1.0 / 24)
        let leadTimes = good.compactMap { r in r.commitTime.map { r.endedAt - $0 } }.filter { $0 >= 0 }
        return DeliveryReport(
            since: since, until: until, environment: environment, service: service,
            deployments: deploys.count, succeeded: good.count, failed: deploys.count - good.count, reachedTraffic: reached,
            changeFailures: failures, rollbacks: autoRolledBack.count + manualRollbacks.count,
            deploymentsPerDay: Double(good.count) / days,
            leadTimeMedian: median(leadTimes), leadTimeSamples: leadTimes.count,
            changeFailureRate: reached > 0 ? Double(failures) / Double(reached) : nil,
            timeToRestoreMedian: median(restoreTimes.map { max($0, 0) }),
            successRate: deploys.isEmpty ? nil : Double(good.count) / Double(deploys.count),
            rollbackRate: deploys.isEmpty ? nil : Double(autoRolledBack.count + manualRollbacks.count) / Double(deploys.count),
            deployDurationMedian: median(good.map { $0.endedAt - $0.startedAt }))
    }

    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
