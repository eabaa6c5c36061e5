import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SlipwayCore
import SlipwayRouter
import Synchronization

/// `slipway router`: the data-plane process. It runs the router and answers the control
/// plane on a Unix socket in the state directory (mode 0600 folder):
///
/// - `GET /ping` → `{"pid":…,"generation":…}`
/// - `PUT /routes` (RouteTable JSON) → `{"failures":[ListenFailure]}`
/// - `PUT /routes/staged` (RouteTable JSON) → `{"generation":…}`: keeps the table without
///   applying it (the prepare step of a fleet switch); `POST /routes/commit?generation=G`
///   applies the staged table of generation G (`ApplyReply`), 409 when none is staged.
/// - `GET /routes`, `GET /health`, `GET /stats?window=SECONDS[&latency=buckets]`
/// - `GET /totals` → cumulative per-version counters (`VersionTotals`) and per-service edge
///   refusals (`EdgeTotals`: 429, 403) for `GET /metrics`
///
/// It persists each applied table to `router-table.json` so that, restarted on its own,
/// it serves the last routes again before any control plane talks to it.
///
/// A router started while another one runs on the same state directory takes over that
/// one's listening sockets (`HandOver`, on `router-handover.sock`): the old router keeps
/// accepting until the new one serves, then stops accepting, drains its connections and
/// exits — no connection is refused and no request fails (`slipway router upgrade`).
public enum DataPlaneServer {
    /// - Parameter build: the host bundle this router runs from on a fleet server
    ///   (`slipway servers setup` passes it), reported by `/ping` for skew detection.
    /// - Parameter agent: on a fleet server, also answer `/agent/…` (instances of this server).
    public static func run(stateDirectory: StateDirectory, logger: Logger, build: String? = nil, agent: Bool = false) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        logger.info("router starting", metadata: ["slipway.event_loops": "\(group.makeIterator().reduce(0) { count, _ in count + 1 })"])
        let router = SlipwayRouter.Router(eventLoopGroup: group, logger: logger)
        let executable = ExecutableIdentity.ofRunningProcess()

        // A running router hands its listening sockets over; it serves until we confirm.
        let taken: HandOver.Taken?
        do {
            taken = try HandOver.take(from: stateDirectory.routerHandOverSocket)
        } catch {
            logger.warning("could not take over from the running router; binding anew", metadata: ["slipway.error": "\(error)"])
            taken = nil
        }
        if let taken {
            router.inherit(taken.sockets)
            logger.info("taking over from the running router", metadata: ["slipway.pid": "\(taken.offer.pid)", "slipway.sockets": "\(taken.sockets.count)"])
        }

        if let data = FileManager.default.contents(atPath: stateDirectory.routerTable),
           let table = try? JSONDecoder().decode(RouteTable.self, from: data) {
            let failures = await router.apply(table)
            logger.info("restored route table", metadata: ["slipway.generation": "\(table.generation)", "slipway.failures": "\(failures.count)"])
        }

        let admin = Hummingbird.Router()
        // After a hand-over the successor answers the control plane; calls that still reach
        // this router on an old connection are refused, and the connection closed.
        let handOff = HandOffState()
        admin.add(middleware: HandedOverGate(state: handOff))
        admin.get("/ping") { _, _ in
            PingReply(pid: getpid(), generation: router.currentTable.generation, version: SlipwayVersion.current, build: build, executable: executable,
                      time: Date().timeIntervalSince1970)
        }
        admin.get("/routes") { _, _ in router.currentTable }
        let persisted = PersistedHealth()
        @Sendable func apply(_ table: RouteTable) async -> ApplyReply {
            let failures = await router.apply(table)
            let applied = router.currentTable
            if applied.generation == table.generation {
                persisted.write(applied, health: router.health(), to: stateDirectory.routerTable)
            }
            return ApplyReply(generation: applied.generation, failures: failures)
        }
        // The saved table carries every endpoint's health as it changes, so that a router
        // restarted for any reason (a crash, SIGKILL, an upgrade) serves at once from it.
        let healthSaver = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                persisted.writeIfChanged(router.currentTable, health: router.health(), to: stateDirectory.routerTable)
            }
        }
        defer { healthSaver.cancel() }
        admin.put("/routes") { request, context -> ApplyReply in
            await apply(try await request.decode(as: RouteTable.self, context: context))
        }
        // Prepare/commit: the table travels (and is decoded) first; the commit that makes
        // every server switch together is a few bytes.
        let staged = StagedTable()
        admin.put("/routes/staged") { request, context -> StageReply in
            let table = try await request.decode(as: RouteTable.self, context: context)
            staged.table.withLock { $0 = table }
            return StageReply(generation: table.generation)
        }
        admin.post("/routes/commit") { request, _ -> ApplyReply in
            guard let wanted = request.uri.queryParameters.get("generation").flatMap(UInt64.init) else {
                throw HTTPError(.badRequest, message: "generation=G is required")
            }
            let table = staged.table.withLock { table -> RouteTable? in
                guard table?.generation == wanted else { return nil }
                defer { table = nil }
                return table
            }
            guard let table else {
                throw HTTPError(.conflict, message: "no staged route table of generation \(wanted)")
            }
            return await apply(table)
        }
        admin.get("/health") { _, _ in HealthReply(endpoints: router.health()) }
        admin.get("/stats") { request, _ in
            let seconds = request.uri.queryParameters.get("window").flatMap(Double.init) ?? Defaults.statsWindow.seconds
            // Clamped (a NaN or an infinite window would trap in the conversion to milliseconds).
            let window = seconds.isFinite ? min(max(1, seconds), 3600) : 1
            return StatsReply(versions: router.stats(window: .milliseconds(Int64(window * 1000)), latencyBuckets: request.uri.queryParameters.get("latency") == "buckets"))
        }
        admin.get("/totals") { _, _ in TotalsReply(versions: router.totals(), edge: router.edgeTotals()) }
        if agent { HostAgent(stateDirectory: stateDirectory).register(on: admin) }

        try? FileManager.default.removeItem(atPath: stateDirectory.routerSocket)
        let app = Application(
            router: admin,
            configuration: .init(address: .unixDomainSocket(path: stateDirectory.routerSocket), serverName: "slipway-router"),
            onServerRunning: { _ in
                chmod(stateDirectory.routerSocket, 0o600)
                try? "\(getpid())\n".write(toFile: stateDirectory.routerPIDFile, atomically: true, encoding: .utf8)
                if let taken {
                    do {
                        try taken.confirm()
                        logger.info("took over the listening sockets", metadata: ["slipway.pid": "\(taken.offer.pid)"])
                    } catch {
                        logger.error("hand-over not confirmed", metadata: ["slipway.error": "\(error)"])
                    }
                }
                do {
                    try HandOver.Listener(path: stateDirectory.routerHandOverSocket, logger: logger, sockets: { router.listeningSockets }) { successor in
                        // A successor serves from our sockets now: stop writing the shared
                        // table file, stop answering the control plane, finish what is open.
                        persisted.stop()
                        healthSaver.cancel()
                        handOff.successor.store(successor, ordering: .relaxed)
                        let deadline = router.currentTable.services.map(\.websocketDrain).max() ?? Defaults.websocketDrain
                        logger.info("handed over; draining", metadata: ["slipway.successor": "\(successor)", "slipway.deadline": "\(deadline)"])
                        let drain = Task {
                            let closed = await router.drainAfterHandOver(deadline: max(deadline, SlipwayRouter.Router.drainIdleGrace + .seconds(1)))
                            logger.info("drained after the hand-over; exiting", metadata: ["slipway.closed_at_deadline": "\(closed)"])
                            // Not held by admin calls that never end (a fleet agent's log stream).
                            exit(0)
                        }
                        handOff.drain.withLock { $0 = drain }
                    }.start()
                } catch {
                    logger.error("cannot accept hand-overs", metadata: ["slipway.error": "\(error)"])
                }
                logger.info("data plane ready", metadata: ["slipway.socket": "\(stateDirectory.routerSocket)"])
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        // The admin server is not shut down after a hand-over: its socket path belongs to the
        // successor now (a server closing would remove it). The drain ends the process.
        try await app.runService()
        if let drain = handOff.drain.withLock({ $0 }) {
            _ = await drain.value
            return
        }
        await router.shutdown()
    }
}

/// What the router knows once it handed its listeners to a successor.
final class HandOffState: Sendable {
    /// The successor's pid (0: not handed over).
    let successor = Atomic<Int32>(0)
    /// The drain of this router's connections.
    let drain = Mutex<Task<Void, Never>?>(nil)
}

/// Refuses admin calls after a hand-over (503, `Connection: close`): a control plane's
/// pooled connection to this router then reaches the successor on its next call.
struct HandedOverGate<Context: RequestContext>: RouterMiddleware {
    let state: HandOffState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let successor = state.successor.load(ordering: .relaxed)
        guard successor == 0 else {
            throw RouterClient.handedOverRefusal(successor: successor)
        }
        return try await next(request, context)
    }
}

struct PingReply: Codable, ResponseEncodable {
    var pid: Int32
    var generation: UInt64
    /// Slipway's version and, on fleet servers, the host bundle's id (nil from older routers).
    var version: String?
    var build: String?
    /// SHA-256 of the binary this router runs (nil from older routers): a control plane
    /// whose own binary differs hands the router over to its binary.
    var executable: String?
    /// The router's wall clock when it answered (nil from older routers): the control plane
    /// compares it with its own (`slipway doctor`'s clock check of fleet servers).
    var time: Double?
}

/// Writes the applied table to `router-table.json` with each endpoint's current health as
/// its hint, again whenever the set of healthy endpoints changes.
final class PersistedHealth: Sendable {
    /// Generation and healthy endpoint ids of the last write.
    let last = Mutex<(UInt64, Set<String>)?>(nil)
    private let stopped = Atomic<Bool>(false)

    /// After a hand-over the file belongs to the successor.
    func stop() { stopped.store(true, ordering: .relaxed) }

    func write(_ table: RouteTable, health: [EndpointHealth], to path: String) {
        guard !stopped.load(ordering: .relaxed) else { return }
        let healthy = Set(health.filter(\.healthy).map(\.id))
        var annotated = table
        for s in annotated.services.indices {
            for g in annotated.services[s].groups.indices {
                for e in annotated.services[s].groups[g].endpoints.indices {
                    let id = annotated.services[s].groups[g].endpoints[e].id
                    annotated.services[s].groups[g].endpoints[e].healthy = healthy.contains(id) ? true : nil
                }
            }
        }
        guard let data = try? JSONEncoder().encode(annotated) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
        last.withLock { $0 = (table.generation, healthy) }
    }

    func writeIfChanged(_ table: RouteTable, health: [EndpointHealth], to path: String) {
        let healthy = Set(health.filter(\.healthy).map(\.id))
        guard table.generation > 0 else { return }
        let same = last.withLock { $0.map { $0.0 == table.generation && $0.1 == healthy } ?? false }
        if !same { write(table, health: health, to: path) }
    }
}

/// The table staged by `PUT /routes/staged`, waiting for its commit.
final class StagedTable: Sendable {
    let table = Mutex<RouteTable?>(nil)
}

struct StageReply: Codable, ResponseEncodable {
    var generation: UInt64
}

struct ApplyReply: Codable, ResponseEncodable {
    var generation: UInt64
    var failures: [ListenFailure]
}

struct HealthReply: Codable, ResponseEncodable {
    var endpoints: [EndpointHealth]
}

struct StatsReply: Codable, ResponseEncodable {
    var versions: [VersionStats]
}

struct TotalsReply: Codable, ResponseEncodable {
    var versions: [VersionTotals]
    /// Absent from routers older than the edge rules.
    var edge: [EdgeTotals]?
}

extension RouteTable: ResponseEncodable {}

extension RouterClient {
    /// The answer of a router that handed its listeners over (503, `Connection: close`, the
    /// successor's pid in `handedOverHeader`): `call` retries on that header.
    static func handedOverRefusal(successor: Int32) -> HTTPError {
        HTTPError(.serviceUnavailable, headers: [.connection: "close", HTTPField.Name(handedOverHeader)!: "\(successor)"],
                  message: "this router handed its listeners over to pid \(successor)")
    }
}
