import Foundation
import NIOCore
import SlipwayCore
import SlipwayTargets
import Synchronization

/// The fleet servers the control plane knows (every `servers:` entry of every service),
/// each with its SSH link, its router and its driver. Looked up without awaiting, so the
/// controller's non-isolated paths (a background stop) reach a server's driver too.
public final class Fleet: Sendable {
    public let options: SSHConnection.Options
    let drivers: InstanceDrivers
    let entries = Mutex<[String: (server: FleetServer, driver: ServerDriver)]>([:])

    public init(options: SSHConnection.Options, drivers: InstanceDrivers) {
        self.options = options
        self.drivers = drivers
    }

    /// Adds the servers of these specs that are not known yet.
    public func sync(_ specs: [ServiceSpec]) {
        entries.withLock { entries in
            for server in specs.flatMap(\.servers) where entries[server.id] == nil {
                let fleetServer = FleetServer(server: server, options: options)
                entries[server.id] = (fleetServer, ServerDriver(server: fleetServer, drivers: drivers))
            }
        }
    }

    /// Forgets a server (no service lists it any more) and closes its SSH link.
    public func remove(_ id: String) async {
        let removed = entries.withLock { $0.removeValue(forKey: id) }
        await removed?.server.close()
    }

    public func server(_ id: String) -> FleetServer? { entries.withLock { $0[id]?.server } }
    public func driver(_ id: String) -> ServerDriver? { entries.withLock { $0[id]?.driver } }
    public var servers: [FleetServer] { entries.withLock { $0.values.map(\.server) }.sorted { $0.server.id < $1.server.id } }

    /// Runs `body` for every server at once; results in server order.
    public func each<T: Sendable>(_ ids: [String], _ body: @escaping @Sendable (FleetServer) async -> T) async -> [(String, T)] {
        let targets = ids.compactMap { id in server(id).map { (id, $0) } }
        return await withTaskGroup(of: (Int, String, T).self) { group in
            for (index, (id, server)) in targets.enumerated() {
                group.addTask { (index, id, await body(server)) }
            }
            var results: [(Int, String, T)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map { ($0.1, $0.2) }
        }
    }

    public func closeAll() async {
        for server in servers { await server.close() }
    }
}
