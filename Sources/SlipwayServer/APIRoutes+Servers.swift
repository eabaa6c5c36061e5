import Foundation
import Hummingbird
import SlipwayCore
import SlipwayTargets

extension FleetServer.Status: ResponseEncodable {}
extension FleetServer.SetupReport: ResponseEncodable {}

/// One server's setup: what was done, or why it failed.
public struct ServerSetupResult: Codable, Sendable, ResponseEncodable {
    public var server: String
    public var report: FleetServer.SetupReport?
    public var error: String?
}

extension APIRoutes {
    /// `GET /v1/servers` — every fleet server: router version and build, skew, health, last contact.
    /// `POST /v1/servers/setup` — installs this build on every server (or `?server=ID`).
    static func addServerRoutes(to v1: RouterGroup<APIRequestContext>, controller: Controller) {
        v1.get("/servers") { _, _ -> [FleetServer.Status] in
            try await controller.serverStatuses()
        }
        v1.post("/servers/setup") { request, _ -> [ServerSetupResult] in
            let only = request.uri.queryParameters.get("server").flatMap { $0.isEmpty ? nil : $0 }
            return try await controller.setUpServers(only: only)
        }
    }
}

extension Controller {
    /// This control plane's own build, as installed on servers (computed once).
    func hostBundle() async throws -> HostBundle {
        if let bundle = cachedHostBundle { return bundle }
        let bundle = try await HostBundle.make(executable: SelfExecutable.path)
        cachedHostBundle = bundle
        return bundle
    }

    func knownServers() throws -> [FleetServer] {
        fleet.sync(try store.serviceNames().compactMap { try store.service($0)?.spec })
        return fleet.servers
    }

    public func serverStatuses() async throws -> [FleetServer.Status] {
        let servers = try knownServers()
        let build = try? await hostBundle().id
        return await fleet.each(servers.map(\.server.id)) { server -> FleetServer.Status in
            var status = await server.status(expectedBuild: build)
            // Its own traffic over the last minute (every service it runs).
            if status.reachable, let stats = try? await server.router.stats(window: .seconds(60)) {
                status.requests = stats.reduce(0) { $0 + $1.requests }
                status.errors = stats.reduce(0) { $0 + $1.errors }
            }
            return status
        }.map(\.1)
    }

    public func setUpServers(only: String?) async throws -> [ServerSetupResult] {
        let servers = try knownServers().filter { only == nil || $0.server.id == only }
        if let only, servers.isEmpty {
            throw ControllerError(.notFound, "no service names the server \(only) in `servers:`")
        }
        let bundle = try await hostBundle()
        let results = await fleet.each(servers.map(\.server.id)) { server -> ServerSetupResult in
            do throws(FleetError) {
                return ServerSetupResult(server: server.server.id, report: try await server.setup(bundle: bundle), error: nil)
            } catch {
                return ServerSetupResult(server: server.server.id, report: nil, error: error.message)
            }
        }.map(\.1)
        // The servers' routers start empty (or with an old table): send them theirs now.
        if results.contains(where: { $0.report != nil }) { _ = try? await pushRoutes() }
        return results
    }
}
