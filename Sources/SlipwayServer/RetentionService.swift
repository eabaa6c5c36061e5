import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore

/// `--retention`: deletes events and settled notifications older than the retention period,
/// at start and then every tenth of the period (at most hourly), so the state database's size
/// is bounded by what a period adds instead of growing with every deploy for ever.
struct RetentionService: Service {
    let store: Store
    let retention: Duration
    let logger: Logger

    /// How often the sweep runs for a retention period.
    static func interval(for retention: Duration) -> Duration {
        min(max(retention / 10, .seconds(1)), .seconds(3600))
    }

    func run() async throws {
        let seconds = retention.seconds
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let pruned = try store.pruneHistory(before: Date().timeIntervalSince1970 - seconds)
                    if pruned.events + pruned.notifications > 0 {
                        logger.info("history older than the retention period deleted", metadata: [
                            "slipway.events": "\(pruned.events)", "slipway.notifications": "\(pruned.notifications)",
                            "slipway.retention": "\(DurationText.format(retention))",
                        ])
                    }
                } catch {
                    logger.warning("retention sweep failed (tried again later)", metadata: ["slipway.error": "\(error)"])
                }
                try? await Task.sleep(for: Self.interval(for: retention))
            }
        }
    }
}
