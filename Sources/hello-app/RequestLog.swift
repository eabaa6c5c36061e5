import NIOCore
import Synchronization

/// Counts requests across all event loops and logs a line per 1000 requests, at most
/// one line a second.
final class RequestLog: Sendable {
    private let version: String
    private let count = Atomic<Int>(0)
    private let lastLineUptimeNanos = Atomic<UInt64>(0)

    init(version: String) {
        self.version = version
    }

    func served() {
        let total = count.wrappingAdd(1, ordering: .relaxed).newValue
        guard total % 1000 == 0 else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        let last = lastLineUptimeNanos.load(ordering: .relaxed)
        guard last == 0 || now - last >= 1_000_000_000,
              lastLineUptimeNanos.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        Output.line("hello-app \(version) served \(total) requests")
    }
}
