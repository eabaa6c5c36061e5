import Foundation
import SlipwayCore
import SlipwayTLS
import SlipwayStore
import SlipwayTargets

extension Controller {
    public func status(service name: String) async throws -> ServiceStatus {
        await refreshHealth()
        return try status(of: name)
    }

    /// The unit's status with the health last read from the router.
    func status(of name: String) throws -> ServiceStatus {
        let service = try requireService(name)
        var instances = try store.liveInstances(service: name)
        for i in instances.indices {
            let h = routerHealth[instances[i].id]
            instances[i].healthy = h?.healthy
            instances[i].lastHealthError = h?.lastError
            instances[i].inflight = h?.inflight
            instances[i].tunnels = h?.tunnels
        }
        instances.sort { ($0.version, $0.id) < ($1.version, $1.id) }
        let listen = service.spec.listen
        let host = listen.host == "0.0.0.0" || listen.host == "::" ? "127.0.0.1" : listen.host
        let shown = ListenAddress(host: host, port: listen.port)
        let active = try store.activeRollout(service: name).map(withArtifacts)
        var status = ServiceStatus(service: name, configVersion: service.configVersion, listen: listen,
                                   stableVersion: service.stableVersion, previousVersion: service.previousVersion,
                                   previousRetireAt: service.previousRetireAt,
                                   activeRollout: active,
                                   instances: instances, serviceURL: "http://\(shown)/")
        status.target = service.spec.target
        var artifacts: [String: [ReleaseArtifact]] = [:]
        for version in [service.stableVersion, service.previousVersion, active?.toVersion].compactMap({ $0 }) {
            if let release = try store.release(service: name, version: version, creatingWith: nil, now: clock.now()), !release.artifacts.isEmpty {
                artifacts[version] = release.artifacts
            }
        }
        status.artifacts = artifacts
        if let tls = service.spec.tls {
            status.certificate = certificateStatus(tls.cert)
        }
        let checks = try store.verifications(service: name, limit: 50)
        if let latest = checks.first?.rolloutID {
            status.verifications = checks.filter { $0.rolloutID == latest }
        }
        return status
    }

    /// The certificate file's expiry, parsed again only when the file changed.
    func certificateStatus(_ path: String) -> CertificateStatus {
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
        if let modified, let cached = certificateExpiries[path], cached.modified == modified { return cached.status }
        let status: CertificateStatus
        do {
            status = CertificateStatus(path: path, expiresAt: try TLSFiles.expiry(ofCertificate: path))
        } catch {
            status = CertificateStatus(path: path, expiresAt: nil, error: error.description)
        }
        if let modified { certificateExpiries[path] = (modified, status) }
        return status
    }

    /// The rollout with the artifacts of the release it rolls out to.
    func withArtifacts(_ rollout: RolloutRecord) throws -> RolloutRecord {
        var record = rollout
        record.artifacts = try store.release(service: rollout.service, version: rollout.toVersion, creatingWith: nil, now: clock.now())?.artifacts
        if performingActions[rollout.id] != nil { record.settling = true }
        return record
    }

    public func statuses() async throws -> [ServiceStatus] {
        await refreshHealth()
        return try store.serviceNames().map { try status(of: $0) }
    }

    /// Weights, phases, health and ended rollouts in the Prometheus text format, then the
    /// control plane's own instruments (for `GET /metrics`).
    public func prometheusText(dashboardStreams: Int) async throws -> String {
        let units = try await statuses()
        return ControlPlaneExposition.render(statuses: units, groups: routedGroups, rolloutTotals: try store.rolloutTotals(), build: SlipwayVersion.current,
                                             notifications: try store.notificationCounts(), dashboardStreams: dashboardStreams)
            + metrics.render()
    }

    public func history(service name: String, limit: Int) throws -> [RolloutRecord] {
        _ = try requireService(name)
        return try store.rollouts(service: name, limit: limit).map(withArtifacts)
    }

    public func rollout(id: Int64) throws -> RolloutRecord {
        guard let record = try store.rollout(id: id) else {
            throw ControllerError(.notFound, "no rollout \(id)")
        }
        return try withArtifacts(record)
    }

    public func events(service name: String, limit: Int) throws -> [RolloutEventRecord] {
        _ = try requireService(name)
        return try store.events(service: name, limit: limit)
    }

    /// The output of the service's instances (most recent first), optionally of one
    /// version, each as its driver reads it (a log file, the engine's logs).
    func logSources(service name: String, version: String?, tail: Int, follow: Bool) throws -> [LogStream.Source] {
        try logInstances(service: name, version: version).map { instance in
            LogStream.Source(instance: instance.id, lines: driver(for: instance).logs(instance, tail: tail, follow: follow && instance.state != .stopped))
        }
    }

    /// The instances whose logs are shown: the live ones, else the latest stopped ones; with
    /// a version, all of its (stopped included, so a failed release's logs can be read).
    func logInstances(service name: String, version: String?) throws -> [InstanceRecord] {
        _ = try requireService(name)
        let all = try store.instances(service: name, version: version, includeStopped: true, limit: 50)
        let chosen: [InstanceRecord]
        if version == nil {
            let live = all.filter { $0.state != .stopped }
            chosen = live.isEmpty ? Array(all.prefix(4)) : live
        } else {
            chosen = all
        }
        return chosen
    }

    /// Per-version numbers over `window` from this machine's router and every fleet
    /// server's, added up (a fleet service's numbers are the sum over its servers). A
    /// server that does not answer makes it fail, naming the server: a partial sum would
    /// understate what a fleet does.
    func fleetStats(window: Duration, latencyBuckets: Bool) async throws -> [VersionStats] {
        let local = try await router.stats(window: window, latencyBuckets: latencyBuckets)
        let remote = await serverStats(window: window, latencyBuckets: latencyBuckets)
        guard !remote.isEmpty else { return local }
        var parts = [local]
        for (_, result) in remote { parts.append(try result.get()) }
        return VersionStats.merged(parts)
    }

    /// Each fleet server's cumulative per-version counters (labelled with the server) for
    /// `GET /metrics`; a server that does not answer has none and `up` false.
    public func serverTotals() async -> [(server: PrometheusExposition.ServerLine, totals: [VersionTotals])] {
        await fleet.each(fleet.servers.map(\.server.id)) { server -> (PrometheusExposition.ServerLine, [VersionTotals]) in
            let totals = await server.unreachable == nil ? try? await server.router.totals() : nil
            let line = PrometheusExposition.ServerLine(id: server.server.id, up: totals != nil, sshCommands: await server.sshCommands, routerCalls: server.routerCalls.count)
            return (line, (totals ?? []).map { var t = $0; t.server = server.server.id; return t })
        }.map { (server: $0.1.0, totals: $0.1.1) }
    }

    /// Each fleet server's own per-version numbers over `window`, in server order.
    func serverStats(window: Duration, latencyBuckets: Bool) async -> [(String, Result<[VersionStats], RouterClient.Failure>)] {
        await fleet.each(fleet.servers.map(\.server.id)) { server -> Result<[VersionStats], RouterClient.Failure> in
            if let why = await server.unreachable {
                return .failure(RouterClient.Failure(description: "server \(server.server.id) is unreachable: \(why)"))
            }
            do {
                return .success(try await server.router.stats(window: window, latencyBuckets: latencyBuckets))
            } catch {
                return .failure(RouterClient.Failure(description: "server \(server.server.id): \(error)"))
            }
        }
    }

    public func stats(service name: String, window: Duration) async throws -> [VersionStats] {
        _ = try requireService(name)
        return try await fleetStats(window: window, latencyBuckets: false).filter { $0.service == name }
    }

    /// Stops every instance and the data plane (`slipway down`).
    public func stopEverything() async throws {
        stoppingEverything = true
        // A tick already under way may be starting an instance (on a server that takes
        // seconds); it records it when done. Wait for it, so nothing starts after the stop.
        let deadline = ContinuousClock.now + .seconds(120)
        while tickRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        // Stop what is live; a start that was in flight all the same is caught by the next pass.
        for _ in 0..<3 {
            let live = try store.liveInstances()
            if live.isEmpty { break }
            for var instance in live {
                instance.state = .stopping
                try store.saveInstance(instance)
            }
            for instance in live {
                await driver(for: instance).stop(instance, grace: Defaults.stopGrace)
                markStopped(instance)
            }
        }
        // Every fleet server's router too (its instances stopped above through its agent).
        let stopped = await fleet.each(fleet.servers.map(\.server.id)) { server -> String? in
            do {
                return try await server.stopRouter().map { "stopped router \($0) on \(server.server.id)" }
            } catch {
                return "could not stop the router on \(server.server.id): \(error)"
            }
        }
        for case (_, let line?) in stopped { logger.info("\(line)") }
        await dataPlane.stop()
    }
}


extension Controller {
    /// DORA metrics and success numbers over `[since, now]`, for every unit or those of one
    /// environment and/or service.
    public func report(environment: String?, service: String?, since seconds: Double) throws -> DeliveryReport {
        guard seconds > 0 else { throw ControllerError(.invalid, "since: must be a positive duration such as 30d") }
        let names = try store.serviceNames()
        if let service { try requireServiceName(service) }
        if let environment, !names.contains(where: { UnitName.split($0).environment == environment }) {
            let known = Set(names.compactMap { UnitName.split($0).environment }).sorted()
            throw ControllerError(.notFound, "no environment \(environment)" + (known.isEmpty ? "; no service has environments" : "; environments: \(known.joined(separator: ", "))"))
        }
        let now = clock.now()
        let rollouts = try store.reportRollouts().filter { r in
            let unit = UnitName.split(r.unit)
            return (environment == nil || unit.environment == environment) && (service == nil || unit.service == service)
        }
        return DeliveryReport.compute(rollouts, since: now - seconds, until: now, environment: environment, service: service)
    }
}

extension Controller {
    /// A backup of the live state database, read into memory (for `GET /v1/backup`).
    public func stateSnapshot() throws -> (Data, BackupSummary) {
        try FileManager.default.createDirectory(atPath: stateDirectory.backupsDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = stateDirectory.backupsDirectory + "/.download-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let summary = try store.backup(to: path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ControllerError(.unavailable, "the backup at \(path) could not be read back")
        }
        return (data, summary)
    }
}
