import Foundation
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
public enum DataPlaneServer {
    /// - Parameter build: the host bundle this router runs from on a fleet server
    ///   (`slipway servers setup` passes it), reported by `/ping` for skew detection.
    /// - Parameter agent: on a fleet server, also answer `/agent/…` (instances of this server).
    public static func run(stateDirectory: StateDirectory, logger: Logger, build: String? = nil, agent: Bool = false) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let router = SlipwayRouter.Router(eventLoopGroup: group, logger: logger)

        if let data = FileManager.default.contents(atPath: stateDirectory.routerTable),
           let table = try? JSONDecoder().decode(RouteTable.self, from: data) {
            let failures = await router.apply(table)
            logger.info("restored route table", metadata: ["slipway.generation": "\(table.generation)", "slipway.failures": "\(failures.count)"])
        }

        let admin = Hummingbird.Router()
        admin.get("/ping") { _, _ in
            PingReply(pid: getpid(), generation: router.currentTable.generation, version: SlipwayVersion.current, build: build)
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
            return StatsReply(versions: router.stats(window: .milliseconds(Int64(max(1, seconds) * 1000)), latencyBuckets: request.uri.queryParameters.get("latency") == "buckets"))
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
                logger.info("data plane ready", metadata: ["slipway.socket": "\(stateDirectory.routerSocket)"])
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        try await app.runService()
        await router.shutdown()
    }
}

struct PingReply: Codable, ResponseEncodable {
    var pid: Int32
    var generation: UInt64
    /// Slipway's version and, on fleet servers, the host bundle's id (nil from older routers).
    var version: String?
    var build: String?
}

/// Writes the applied table to `router-table.json` with each endpoint's current health as
/// its hint, again whenever the set of healthy endpoints changes.
final class PersistedHealth: Sendable {
    /// Generation and healthy endpoint ids of the last write.
    let last = Mutex<(UInt64, Set<String>)?>(nil)

    func write(_ table: RouteTable, health: [EndpointHealth], to path: String) {
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
