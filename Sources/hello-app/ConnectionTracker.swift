import NIOCore
import Synchronization

/// Remembers open connections so shutdown can ask each to finish its current request
/// and close, then wait until they have.
final class ConnectionTracker: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    var count: Int { open.withLock { $0.count } }

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        open.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = open.withLock { $0.removeValue(forKey: id) }
        }
    }

    /// Idle connections close at once; busy ones answer their in-flight request with
    /// `connection: close` and then close (NIO's pipelining handler does this).
    func quiesce() {
        for channel in open.withLock({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    func closeAll() {
        for channel in open.withLock({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}
