import Foundation
import SlipwayCore

/// Builds the stream's snapshots. Every open stream asks about once a second; a snapshot
/// younger than `reuse` (or one being built) is shared, so ten open dashboards cost the
/// controller and the router what one does.
actor DashboardFeed {
    let controller: Controller
    /// The live numbers (rates, error rate, latency percentiles) are over this window.
    let window: Duration
    let reuse: Duration
    private var sequence: UInt64 = 0
    private var last: (at: ContinuousClock.Instant, snapshot: DashboardSnapshot)?
    private var building: Task<DashboardSnapshot, Never>?

    init(controller: Controller, window: Duration = .seconds(5), reuse: Duration = .milliseconds(800)) {
        self.controller = controller
        self.window = window
        self.reuse = reuse
    }

    func snapshot() async -> DashboardSnapshot {
        if let last, ContinuousClock.now - last.at < reuse { return last.snapshot }
        if let building { return await building.value }
        sequence += 1
        let task = Task { [controller, window, sequence] in await Self.build(controller: controller, window: window, sequence: sequence) }
        building = task
        let snapshot = await task.value
        building = nil
        last = (ContinuousClock.now, snapshot)
        return snapshot
    }

    static func build(controller: Controller, window: Duration, sequence: UInt64) async -> DashboardSnapshot {
        var errors: [String] = []
        let statuses: [ServiceStatus]
        do {
            statuses = try await controller.statuses()
        } catch {
            statuses = []
            errors.append("the services could not be read: \(APIError.from(error).body.error.message)")
        }
        var latest: [String: RolloutRecord] = [:]
        for s in statuses {
            latest[s.service] = try? controller.store.rollouts(service: s.service, limit: 1).first
        }
        var groups: [String: [BackendGroup]] = [:]
        var stats: [VersionStats] = []
        if !statuses.isEmpty {
            let router = controller.dataPlane.client
            do {
                // This machine's table, and what the fleet servers' routers were sent.
                groups = await controller.routedGroups
                for route in try await router.routes().services { groups[route.service] = route.groups }
            } catch {
                errors.append("the data plane's routes could not be read: \(error)")
            }
            do {
                // Fleet services' numbers are the sum over their servers.
                stats = try await controller.fleetStats(window: window, latencyBuckets: false)
            } catch {
                errors.append("the routers' numbers could not be read: \(error)")
                stats = (try? await router.stats(window: window)) ?? []
            }
        }
        return DashboardSnapshot.make(sequence: sequence, time: Date().timeIntervalSince1970, windowSeconds: window.seconds,
                                      statuses: statuses, latest: latest, groups: groups, stats: stats, errors: errors)
    }
}
