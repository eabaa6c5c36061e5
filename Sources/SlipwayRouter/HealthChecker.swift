import Logging
import NIOCore
import SlipwayCore
import Synchronization

/// Runs active health checks for every endpoint of the current table. Check state lives in
/// each `EndpointState` (keyed by id in the registry), so it survives table swaps; endpoints
/// that leave the table stop being checked.
final class HealthChecker: Sendable {
    private struct Check {
        let endpoint: EndpointState
        let spec: HealthSpec
        let http2: Bool
        let task: RepeatedTask
    }

    private let group: any EventLoopGroup
    private let logger: Logger
    private let now: @Sendable () -> NIODeadline
    private let checks = Mutex<[String: Check]>([:])

    init(group: any EventLoopGroup, logger: Logger, now: @escaping @Sendable () -> NIODeadline = { .now() }) {
        self.group = group
        self.logger = logger
        self.now = now
    }

    /// Starts checks for new endpoints, restarts those whose spec changed, stops the rest.
    func update(_ snapshot: RoutingSnapshot) {
        let wanted = snapshot.endpoints
        checks.withLock { checks in
            var next: [String: Check] = [:]
            for (endpoint, service) in wanted {
                let spec = service.route.health
                let http2 = service.upstreamHTTP2
                if let existing = checks[endpoint.id], existing.endpoint === endpoint, existing.spec == spec, existing.http2 == http2 {
                    next[endpoint.id] = existing
                } else {
                    checks[endpoint.id]?.task.cancel()
                    next[endpoint.id] = Check(endpoint: endpoint, spec: spec, http2: http2, task: start(endpoint, spec, http2: http2))
                }
                checks[endpoint.id] = nil
            }
            for check in checks.values { check.task.cancel() }
            checks = next
        }
    }

    func stopAll() {
        checks.withLock { checks in
            for check in checks.values { check.task.cancel() }
            checks = [:]
        }
    }

    private func start(_ endpoint: EndpointState, _ spec: HealthSpec, http2: Bool) -> RepeatedTask {
        let loop = group.next()
        let timeout = TimeAmount(spec.timeout)
        let interval = TimeAmount(spec.interval)
        let logger = self.logger
        let now = self.now
        return loop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: interval) { _ in
            HealthProbe.run(endpoint: endpoint, spec: spec, http2: http2, timeout: timeout, on: loop).map { outcome in
                let transition = endpoint.recordActive(outcome, at: now())
                switch transition {
                case .becameHealthy:
                    logger.info("instance is healthy", metadata: [
                        "slipway.endpoint": "\(endpoint.id)", "slipway.service": "\(endpoint.service)", "slipway.version": "\(endpoint.version)",
                    ])
                case .becameUnhealthy:
                    logger.warning("instance is unhealthy", metadata: [
                        "slipway.endpoint": "\(endpoint.id)", "slipway.service": "\(endpoint.service)",
                        "slipway.version": "\(endpoint.version)", "slipway.error": "\(endpoint.thresholds.lastError ?? "?")",
                    ])
                case nil:
                    break
                }
            }
        }
    }
}
