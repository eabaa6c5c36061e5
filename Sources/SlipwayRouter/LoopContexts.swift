import Logging
import NIOCore

/// One `LoopContext` per event loop of the router's group, found by the loop's identity.
final class LoopContexts: Sendable {
    private let byLoop: [ObjectIdentifier: LoopOwned]
    let all: [LoopOwned]
    let tunnels = TunnelRegistry()

    init(group: any EventLoopGroup, connector: any UpstreamConnector, logger: Logger) {
        var byLoop: [ObjectIdentifier: LoopOwned] = [:]
        var all: [LoopOwned] = []
        for (index, loop) in group.makeIterator().enumerated() {
            let bound = LoopOwned(LoopContext(loop: loop, index: index, connector: connector, logger: logger, tunnels: tunnels))
            byLoop[ObjectIdentifier(loop)] = bound
            all.append(bound)
        }
        self.byLoop = byLoop
        self.all = all
    }

    var count: Int { all.count }

    /// The context of `loop`; must be called on `loop`.
    func context(for loop: any EventLoop) -> LoopContext {
        if let bound = byLoop[ObjectIdentifier(loop)] { return bound.value }
        // A loop outside the group (should not happen): give it a private context.
        return LoopContext(loop: loop, index: 0, connector: PosixUpstreamConnector(), logger: Logger(label: "slipway.router"))
    }

    /// Installs `snapshot` on every loop; returns when all have it.
    func install(_ snapshot: RoutingSnapshot) async {
        await withTaskGroup(of: Void.self) { group in
            for bound in all {
                group.addTask {
                    try? await bound.eventLoop.submit { bound.value.install(snapshot) }.get()
                }
            }
        }
    }

    /// Connections open on all loops.
    func connectionCount() async -> Int {
        var total = 0
        for bound in all {
            total += (try? await bound.eventLoop.submit { bound.value.connections.count }.get()) ?? 0
        }
        return total
    }

    func quiesceConnections() async {
        for bound in all {
            try? await bound.eventLoop.submit { bound.value.quiesceConnections() }.get()
        }
    }

    func closeConnections() async {
        for bound in all {
            try? await bound.eventLoop.submit { bound.value.closeConnections() }.get()
        }
    }

    func closePools() async {
        for bound in all {
            try? await bound.eventLoop.submit {
                bound.value.pool.closeAll()
                bound.value.http2Pool.closeAll()
            }.get()
        }
    }
}

/// A `LoopContext` handed between threads but only ever used on its own loop
/// (every access goes through `value`, which checks that in debug builds).
struct LoopOwned: @unchecked Sendable {
    private let context: LoopContext
    let eventLoop: any EventLoop

    init(_ context: LoopContext) {
        self.context = context
        self.eventLoop = context.loop
    }

    var value: LoopContext {
        eventLoop.assertInEventLoop()
        return context
    }
}
