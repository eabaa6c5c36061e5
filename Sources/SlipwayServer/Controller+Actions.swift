import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import SlipwayTargets

extension Controller {
    /// Feeds one input to a rollout's machine, persists the new state, then performs the
    /// actions in order. Persisting first means a crash between the two is repaired on
    /// restart by `recover()`, which re-establishes what the persisted state implies.
    /// An `analyze` action runs the analysis at once and feeds its verdict back in.
    func step(id: Int64, service: String, machine: inout RolloutMachine, input: RolloutInput) async throws {
        var inputs = [input]
        while !inputs.isEmpty {
            let input = inputs.removeFirst()
            let before = machine.state
            let actions = machine.handle(input, now: clock.now())
            guard machine.state != before || !actions.isEmpty else { continue }
            var details: String?
            let batchWasStarting = before.rolling?.wait == .healthy && before.phase == .progressing
            if machine.state.phase == .failed, before.phase != .failed, !machine.state.warm, before.phase == .waitingHealthy || batchWasStarting {
                details = await failureDetails(service: service, version: machine.state.targetVersion)
            }
            try store.updateRollout(id: id, state: machine.state, details: details)
            crashPoint("rollout \(id) persisted in phase \(machine.state.phase.rawValue)")
            traces.observe(rollout: id, service: service, state: machine.state, now: clock.now())
            if machine.state.phase.isTerminal {
                rolloutWrites[id] = nil
                // An abort while a hook runs: the hook and its process group are killed; while
                // the release is prepared: the pull stops.
                hookTasks.removeValue(forKey: id)?.cancel()
                prepareTasks.removeValue(forKey: id)?.cancel()
            } else {
                rolloutWrites[id, default: 0] &+= 1
            }
            performingActions[id, default: 0] += 1
            defer {
                performingActions[id, default: 1] -= 1
                if performingActions[id] == 0 { performingActions[id] = nil }
            }
            for action in actions {
                if case .analyze(let policy, let purpose) = action {
                    let writes = rolloutWrites[id]
                    let started = clock.now()
                    let verdict = await runAnalysis(policy: policy, state: machine.state, service: service)
                    traces.analysis(rollout: id, policy: policy, purpose: purpose.rawValue, verdict: verdict, started: started, ended: clock.now())
                    // Providers may take seconds to answer, and a command (abort, promote…) may
                    // have stepped the rollout meanwhile: a verdict about a state that is no
                    // longer the stored one is dropped rather than written over it.
                    guard rolloutWrites[id] == writes else {
                        logger.info("analysis result dropped: the rollout changed while it ran", metadata: ["slipway.service": "\(service)", "slipway.rollout": "\(id)"])
                        return
                    }
                    inputs.append(.analysisResult(purpose: purpose, verdict: verdict))
                } else if case .runHook(let stage) = action {
                    launchHook(stage, rolloutID: id, service: service, state: machine.state)
                } else {
                    applyingActions[id, default: 0] += 1
                    do {
                        try await perform(action, rolloutID: id, service: service)
                    } catch {
                        appliedAction(of: id)
                        throw error
                    }
                    appliedAction(of: id)
                    crashPoint("rollout \(id) performed \(String(describing: action).prefix { $0 != "(" })")
                }
            }
            if machine.state.phase.isTerminal, !before.phase.isTerminal {
                logger.info("rollout ended", metadata: ["slipway.service": "\(service)", "slipway.rollout": "\(id)", "slipway.phase": "\(machine.state.phase.rawValue)"])
                try auditRolloutEnd(id: id, service: service, state: machine.state)
                restoreAfterRollout(id: id, service: service, state: machine.state)
                try scheduleVerifications(rolloutID: id, service: service, kind: machine.state.kind, phase: machine.state.phase,
                                          version: machine.state.targetVersion, fromVersion: machine.state.fromVersion, endedAt: machine.state.endedAt)
            }
        }
    }

    func appliedAction(of id: Int64) {
        applyingActions[id, default: 1] -= 1
        if applyingActions[id] == 0 { applyingActions[id] = nil }
    }

    /// Waits until no step of rollout `id` is applying an action (a route push to a slow
    /// router, instances starting), at most 30 s, so that a command steps the rollout from
    /// the state those actions established. An analysis in progress is not waited for: its
    /// verdict is dropped when a command moved the rollout meanwhile.
    func waitForAppliedActions(of id: Int64) async {
        let deadline = ContinuousClock.now + .seconds(30)
        while applyingActions[id] != nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// A point where a crash must leave everything recoverable: after a rollout's state was
    /// persisted, and after each action it implied. With `SLIPWAY_FAULT_KILL_AT=N` (tests
    /// only) the control plane SIGKILLs itself at the Nth one, so that a test can walk every
    /// point of a rollout in turn.
    func crashPoint(_ what: @autoclosure () -> String) {
        guard let faultKillAt else { return }
        crashPoints += 1
        guard crashPoints == faultKillAt else { return }
        logger.critical("fault injection: SIGKILL at crash point \(crashPoints): \(what())")
        kill(getpid(), SIGKILL)
    }

    /// How a rollout ended is the control plane's own decision: into the audit chain.
    func auditRolloutEnd(id: Int64, service: String, state: BlueGreenState) throws {
        var details = ["rollout": String(id), "kind": state.kind.rawValue, "to": state.targetVersion]
        details["from"] = state.fromVersion
        details["reason"] = state.failureReason
        try store.appendAudit(AuditDraft(principal: "slipway", action: "rollout.\(state.phase.rawValue)", target: "service/\(service)", details: details), time: clock.now())
    }

    func perform(_ action: RolloutAction, rolloutID: Int64, service: String) async throws {
        let now = clock.now()
        switch action {
        case .record(let kind, let message):
            try recordEvent(service: service, rolloutID: rolloutID, kind: kind, message: message, time: now)

        case .decide(let draft):
            try store.appendDecision(service: service, rolloutID: rolloutID, draft: draft, time: now)
            try recordEvent(service: service, rolloutID: rolloutID, kind: "decision_" + draft.kind.rawValue, message: draft.summary, time: now)
            logger.info("decision", metadata: ["slipway.service": "\(service)", "slipway.rollout": "\(rolloutID)", "slipway.decision": "\(draft.kind.rawValue)", "slipway.actor": "\(draft.actor)", "slipway.summary": "\(draft.summary)"])

        case .updateRoutes:
            let push = try await pushRoutes(acknowledgedWithin: Defaults.fleetSwitchAcknowledgement)
            try recordUnacknowledgedSwitch(push.unconfirmed, service: service, rolloutID: rolloutID, change: try routeChange(rolloutID: rolloutID), now: now)

        case .analyze, .runHook:
            break // handled by step()

        case .startInstances(let version, let count):
            try await ensureInstances(service: service, version: version, count: count, rolloutID: rolloutID)

        case .switchTraffic(let to, let from):
            guard let current = try store.service(service) else { return }
            // The release that was kept warm before this switch (if any, and not involved
            // now) loses its place: it is stopped.
            if let older = current.previousVersion, older != to, older != from {
                try await stopInstances(service: service, version: older)
            }
            try store.setReleases(service: service, stable: to, previous: from, previousRetireAt: nil, now: now)
            let push = try await pushRoutes(acknowledgedWithin: Defaults.fleetSwitchAcknowledgement)
            try recordUnacknowledgedSwitch(push.unconfirmed, service: service, rolloutID: rolloutID, change: "switched to \(to)", now: now)

        case .stopInstances(let version):
            try await stopInstances(service: service, version: version)

        case .stopExtraInstances(let version, let keep):
            try await stopInstances(service: service, version: version, keeping: keep)

        case .keepWarm(let version, let until):
            guard let current = try store.service(service) else { return }
            try store.setReleases(service: service, stable: current.stableVersion, previous: version, previousRetireAt: until, now: now)
        }
    }

    /// After a switch or a step's other route change (a canary weight, a wave switched
    /// back): fleet servers that still have not confirmed the new table are named in the
    /// rollout's events (they serve what they served before until their background
    /// reconnect delivers it).
    /// Only the service's own servers count: a push carries every service's table, and a
    /// server of another service that did not answer changed nothing for this one.
    /// - Parameter unconfirmed: the push's servers that did not confirm, by id (`RoutePush`).
    /// - Parameter change: what changed, in words (read only when a server is named).
    func recordUnacknowledgedSwitch(_ unconfirmed: [String: String], service: String, rolloutID: Int64, change: @autoclosure () throws -> String, now: Double) throws {
        guard !unconfirmed.isEmpty, let servers = try store.service(service)?.spec.servers.map(\.id) else { return }
        let problems = unconfirmed.filter { servers.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value)
        guard !problems.isEmpty else { return }
        try recordEvent(service: service, rolloutID: rolloutID, kind: "switch_unacknowledged",
                        message: "\(try change()), but not every server confirmed its route table yet (they get it as soon as they answer): " + problems.joined(separator: "; "),
                        time: now)
    }

    /// What a step's route update changed, in words (its phase is stored before it runs).
    func routeChange(rolloutID: Int64) throws -> String {
        guard let rollout = try store.rollout(id: rolloutID, withEvents: false) else { return "routes changed" }
        if let canary = rollout.canary {
            return "canary \(rollout.toVersion) set to \(canary.weight) % of requests"
        }
        if rollout.phase == .failed || rollout.phase == .runningHook, let from = rollout.fromVersion {
            return "traffic sent back to \(from)"
        }
        return "routes of the rollout to \(rollout.toVersion) changed"
    }

    /// Makes sure `count` live instances of `service`@`version` exist, starting the missing ones.
    /// On a fleet, `servers` limits where (default: the servers of the current wave of the
    /// version's rollout, else every server of the release) and `count` counts there only.
    func ensureInstances(service: String, version: String, count: Int, rolloutID: Int64?, servers only: [String]? = nil) async throws {
        guard let release = try store.release(service: service, version: version, creatingWith: nil, now: clock.now()) else {
            throw ControllerError(.notFound, "release \(version) of \(service) is not recorded")
        }
        var servers = release.spec.servers.map(\.id)
        if let only {
            // A server the service's config added since the release was made runs it as well.
            let listed = (try store.service(service)?.spec.servers.map(\.id)) ?? []
            servers = only.filter { servers.contains($0) || listed.contains($0) }
        } else if let active = try store.activeRollouts().first(where: { $0.service == service }), active.state.targetVersion == version,
                  let waves = active.state.waves, active.state.switchedAt == nil {
            servers = servers.filter(waves.coveredServers.contains)
        }
        let live = try store.liveInstances(service: service, version: version).filter { $0.state != .stopping && ($0.server == nil || servers.contains($0.server!)) }
        guard live.count < count else { return }
        // On a fleet each server gets its share: the servers with the fewest live
        // instances of the version first.
        var perServer: [String: Int] = [:]
        for server in servers { perServer[server] = live.filter { $0.server == server }.count }
        var planned: [InstanceRecord] = []
        for _ in live.count..<count {
            let server = servers.min { (perServer[$0] ?? 0, $0) < (perServer[$1] ?? 0, $1) }
            if let server { perServer[server, default: 0] += 1 }
            let id = "\(service)-\(version)-\(Self.randomSuffix())"
            guard let port = instancePorts.port() else {
                throw ControllerError(.unavailable, "no free TCP port on 127.0.0.1 in \(instancePorts.range.lowerBound)-\(instancePorts.range.upperBound) for a new instance; widen --instance-ports")
            }
            let logPath = stateDirectory.instanceLog(service: service, instanceID: id)
            var record = InstanceRecord(id: id, service: service, version: version, port: port, pid: 0, pidStartTime: 0,
                                        state: .crashed, startedAt: clock.now(), logPath: logPath)
            record.target = release.spec.target
            record.server = server
            planned.append(record)
        }
        // Servers start their instances at the same time (one after another on each, as
        // on one machine): a fleet's deploy takes as long as its slowest server, not the sum.
        let byServer = Dictionary(grouping: planned, by: { $0.server ?? "" })
        try await withThrowingTaskGroup(of: [(InstanceRecord, Result<StartedInstance, any Error>)].self) { group in
            for (_, records) in byServer {
                group.addTask {
                    var results: [(InstanceRecord, Result<StartedInstance, any Error>)] = []
                    for record in records {
                        do {
                            results.append((record, .success(try await self.start(release: release, instanceID: record.id, port: record.port, logPath: record.logPath, replacing: nil, server: record.server))))
                        } catch {
                            results.append((record, .failure(error)))
                        }
                    }
                    return results
                }
            }
            for try await results in group {
                for (planned, result) in results {
                    var record = planned
                    switch result {
                    case .success(let started):
                        record.apply(started)
                        record.state = .running
                        try store.saveInstance(record)
                        try recordEvent(service: service, rolloutID: rolloutID, kind: "instance_started",
                                        message: "instance \(record.id) of \(version) started (\(started.summary), port \(record.port))", time: clock.now())
                    case .failure(let error):
                        let reason = redaction.redact("\(error)")
                        record.lastExit = reason
                        record.restartAt = clock.now() + Defaults.restartBackoffBase.seconds
                        try store.saveInstance(record)
                        try recordEvent(service: service, rolloutID: rolloutID, kind: "instance_failed_to_start",
                                        message: "instance \(record.id) of \(version) could not start: \(reason)", time: clock.now())
                    }
                }
            }
        }
        _ = try await pushRoutes()
    }

    /// Starts one instance of `release` through its target's driver, with the service's
    /// secrets in its environment. A secret that does not open fails the start with a
    /// message naming it.
    func start(release: ReleaseRecord, instanceID: String, port: Int, logPath: String, replacing: InstanceRecord?, server: String? = nil) async throws -> StartedInstance {
        if let faultStartDelay { try? await Task.sleep(for: faultStartDelay) }
        let secrets = try secretEnvironment(service: release.service)
        let launch = InstanceLaunch.make(release: release, instanceID: instanceID, port: port, logPath: logPath, inherited: inherited, secrets: secrets)
        if let server {
            fleet.sync([release.spec])
            guard let driver = fleet.driver(server) else { throw ControllerError(.notFound, "server \(server) is not in the fleet of \(release.service)") }
            return try await driver.start(launch, replacing: replacing)
        }
        return try await drivers(release.spec.target).start(launch, replacing: replacing)
    }

    /// Takes every live instance of the version out of the route table, then stops them
    /// (SIGTERM, SIGKILL after the grace period) in the background.
    /// With `keeping`, the first `keeping` instances by id stay (a rolling rollout's
    /// retired instances are the ones after them; see `RouteTableBuilder`).
    func stopInstances(service: String, version: String, keeping: Int = 0) async throws {
        // A fleet server whose router still serves this version (it has no healthy
        // instance of the stable one yet) keeps its instances until it is reconciled.
        let victims = Array(try store.liveInstances(service: service, version: version).filter { $0.state != .stopping }
            .sorted { $0.id < $1.id }.dropFirst(keeping)).filter { !servesOnItsServer($0) }
        guard !victims.isEmpty else { return }
        for var instance in victims {
            instance.state = .stopping
            try store.saveInstance(instance)
        }
        _ = try await pushRoutes()
        let websocketDrain = try store.service(service)?.spec.websocketDrain ?? Defaults.websocketDrain
        for instance in victims {
            // Upgraded connections (WebSocket…) stay until the router closes them,
            // websocket_drain after the instance left its table: the instance is stopped
            // only then, never under them.
            let tunnels = routerHealth[instance.id]?.tunnels ?? 0
            let hold: Duration = tunnels > 0 ? websocketDrain + .seconds(1) : .zero
            try recordEvent(service: service, rolloutID: nil, kind: "instance_stopping",
                                  message: "stopping instance \(instance.id) of \(version)" + (tunnels > 0 ? " once its \(tunnels) upgraded connection(s) are closed (websocket_drain \(DurationText.format(websocketDrain)))" : ""), time: clock.now())
            finishStop(instance, after: hold)
        }
    }

    nonisolated func finishStop(_ instance: InstanceRecord, after hold: Duration = .zero) {
        let driver = driver(for: instance)
        Task {
            if hold > .zero { try? await Task.sleep(for: hold) }
            await driver.stop(instance, grace: Defaults.stopGrace)
            await self.markStopped(instance)
        }
    }

    func markStopped(_ instance: InstanceRecord) {
        var stopped = instance
        stopped.state = .stopped
        stopped.stoppedAt = clock.now()
        stopped.restartAt = nil
        try? store.saveInstance(stopped)
    }

    /// `slipway router upgrade`: a new router from this control plane's binary takes over
    /// the listening sockets; the old one drains and exits. The table is sent again after
    /// (anything applied to the old one meanwhile reaches the new one).
    public func upgradeRouter() async throws -> RouterUpgrade {
        let result: RouterUpgrade
        do {
            result = try await dataPlane.upgrade()
        } catch let failure as RouterClient.Failure {
            throw APIError(.badGateway, "router upgrade failed: \(failure.description)")
        }
        // A pooled connection may still reach the old router once (it refuses and closes it).
        for attempt in 1...3 {
            do {
                try await pushRoutes()
                break
            } catch where attempt < 3 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return result
    }

    /// Sends the table the store implies. Generations come from the store, above anything
    /// the router has seen, so the newest state always wins.
    /// - Parameter acknowledgedWithin: for a switch: how long to wait for fleet servers
    ///   whose prepare or commit failed although they answered before to confirm the table
    ///   (their background reconnect delivers it); `RoutePush.unconfirmed` names the ones
    ///   that did not.
    @discardableResult
    func pushRoutes(acknowledgedWithin: Duration? = nil) async throws -> RoutePush {
        if let faultPushDelay { try? await Task.sleep(for: faultPushDelay) }
        let push = try await pushRoutesOnce(acknowledgedWithin: acknowledgedWithin)
        let ahead = await fleetRoutersAhead()
        guard !ahead.isEmpty else { return push }
        // The next push numbers its tables above those routers' (`pushRoutesOnce`).
        warnRoutersAhead(ahead)
        return try await pushRoutesOnce(acknowledgedWithin: acknowledgedWithin)
    }

    /// Fleet servers whose router answered a push with a table this control plane never
    /// sent, newer than the one it was given, so it ignored ours (routers apply only newer
    /// generations): another control plane drove it, or this one's state was restored from
    /// an older backup. Found by a push or by a server's background reconnect.
    func fleetRoutersAhead() async -> [(server: String, generation: UInt64)] {
        var ahead: [(server: String, generation: UInt64)] = []
        for server in fleet.servers {
            if let generation = await server.newerForeignGeneration { ahead.append((server.server.id, generation)) }
        }
        return ahead
    }

    func warnRoutersAhead(_ ahead: [(server: String, generation: UInt64)]) {
        logger.warning("a fleet server's router runs a newer route table than this control plane sent; sending the tables again above it", metadata: [
            "slipway.servers": "\(ahead.map { "\($0.server) at generation \($0.generation)" }.joined(separator: ", "))",
        ])
    }

    private func pushRoutesOnce(acknowledgedWithin: Duration?) async throws -> RoutePush {
        // Above every router's generation: this machine's (read at start) and each fleet
        // server's (read when it was connected and from its answers).
        var floor = routerGenerationFloor
        for server in fleet.servers { floor = max(floor, await server.routerGeneration) }
        let generation = try store.nextRouteGeneration(atLeast: floor)
        var inputs: [RouteTableBuilder.ServiceInput] = []
        let active = try store.activeRollouts()
        for name in try store.serviceNames() {
            guard let s = try store.service(name) else { continue }
            var input = RouteTableBuilder.ServiceInput(spec: s.spec, stableVersion: s.stableVersion, instances: try store.liveInstances(service: name))
            if let rollout = active.first(where: { $0.service == name }), let progress = rollout.state.canary,
               [.progressing, .paused].contains(rollout.state.phase) {
                input.canary = .init(version: rollout.state.targetVersion, weight: progress.weight, scope: "r\(rollout.id)", sticky: progress.sticky)
            }
            // While a hook runs the counts hold too: before the first batch takes traffic
            // (its instances at weight 0, reachable with the pin header), and after the end.
            if let rollout = active.first(where: { $0.service == name }), let progress = rollout.state.rolling,
               [.progressing, .runningHook].contains(rollout.state.phase), let from = rollout.state.fromVersion {
                input.rolling = .init(version: rollout.state.targetVersion, ready: progress.newReady, previous: from, routable: progress.oldRoutable)
            }
            inputs.append(input)
        }
        let affinityKey = try store.secret(named: "affinity")
        // This machine's router gets the services without `servers:`; each fleet server's
        // router the services it is a server of, with its own instances only.
        let localInputs = inputs.filter { $0.spec.servers.isEmpty }
        let healthy = Set(routerHealth.values.filter(\.healthy).map(\.id))
        var built = RouteTableBuilder.build(generation: generation, services: localInputs, affinityKey: affinityKey, healthy: healthy)
        built.tracesURL = requestTracesURL
        built.tracesHeaders = requestTracesHeaders
        let table = built
        let fleetInputs = inputs.filter { !$0.spec.servers.isEmpty }
        fleet.sync(fleetInputs.map(\.spec))
        // Servers no service lists any more still get a table (without the services they
        // left) until their router is stopped (`stopRoutersOfRemovedServers`).
        let serverIDs = Array(Set(fleetInputs.flatMap { $0.spec.servers.map(\.id) } + fleet.servers.map(\.server.id))).sorted()
        var serving: [String: String] = [:]
        var tables: [String: RouteTable] = [:]
        for id in serverIDs {
            let mine = try fleetInputs.filter { $0.spec.servers.contains { $0.id == id } }.map { input in
                var input = input
                input.instances = input.instances.filter { $0.server == id }
                input.stableVersion = try servingVersion(of: input, on: id, active: active)
                serving["\(input.spec.name) \(id)"] = input.stableVersion
                return input
            }
            tables[id] = RouteTableBuilder.build(generation: generation, services: mine, affinityKey: affinityKey, healthy: healthy)
            tables[id]?.tracesURL = requestTracesURL
            tables[id]?.tracesHeaders = requestTracesHeaders
        }
        fleetServing = serving
        let remoteTables = tables
        do {
            // Prepare, then commit: every fleet server first receives its table, then all
            // routers (this machine's too) apply theirs at once on a message of a few bytes,
            // so servers disagree only for as long as the slowest commit takes.
            let answering = Set(await fleet.each(serverIDs) { await $0.unreachable == nil }.filter(\.1).map(\.0))
            let staged = await fleet.each(serverIDs) { server -> String? in
                await server.stage(remoteTables[server.server.id]!)
            }
            async let localReply = router.apply(table)
            let committed = await fleet.each(staged.filter { $0.1 == nil }.map(\.0)) { server -> String? in
                await server.commit(generation)
            }
            var remote = staged.filter { $0.1 != nil } + committed
            if let wait = acknowledgedWithin {
                // A server that answered before this push but whose prepare or commit failed
                // (a slow answer, a stale forward) gets the table from its background
                // reconnect: a switch waits for that, so that it is reported once every
                // server that could be reached serves it.
                let late = remote.filter { $0.1 != nil && answering.contains($0.0) }.map(\.0)
                let delivered = Set(await fleet.each(late) { await $0.acknowledges(generation, within: wait) }.filter(\.1).map(\.0))
                remote.removeAll { delivered.contains($0.0) }
            }
            let reply = try await localReply
            var groups = Dictionary(table.services.map { ($0.service, $0.groups) }, uniquingKeysWith: { a, _ in a })
            for (_, serverTable) in tables {
                for route in serverTable.services where groups[route.service] == nil { groups[route.service] = route.groups }
            }
            routedGroups = groups
            for failure in reply.failures {
                logger.error("router cannot listen", metadata: ["slipway.service": "\(failure.service)", "slipway.error": "\(failure.message)"])
            }
            var problems: [String: String] = [:]
            for case (let server, let problem?) in remote {
                problems[server] = problem
                logger.error("fleet server did not take the route table", metadata: ["slipway.error": "\(problem)"])
            }
            return RoutePush(listenFailures: reply.failures, unconfirmed: problems)
        } catch {
            throw ControllerError(.unavailable, "\(error)")
        }
    }

    /// Whether the instance's fleet server serves its version (as last pushed).
    func servesOnItsServer(_ instance: InstanceRecord) -> Bool {
        guard let server = instance.server else { return false }
        return fleetServing["\(instance.service) \(server)"] == instance.version
    }

    /// Fleet servers that lack instances of the stable release (left out of a rollout, or
    /// back after being cut off) get them. Once they are healthy the server's router serves
    /// the stable release (the table is sent again) and the previous release's instances
    /// there retire as everywhere else.
    func reconcileFleet(now: Double) async throws {
        let active = try store.activeRollouts()
        var resend = false
        for name in try store.serviceNames() {
            guard let service = try store.service(name), !active.contains(where: { $0.service == name }) else { continue }
            if try await stopInstancesOnRemovedServers(service: service, now: now) { resend = true }
            guard let stable = service.stableVersion,
                  let release = try store.release(service: name, version: stable, creatingWith: nil, now: now), !release.spec.servers.isEmpty else { continue }
            let wanted = release.spec.instancesPerServer
            let live = try store.liveInstances(service: name, version: stable).filter { $0.state != .stopping }
            // The servers the config lists now: one added since the release was made gets it too.
            for server in service.spec.servers.map(\.id) {
                if let serving = fleetServing["\(name) \(server)"], serving != stable,
                   live.contains(where: { $0.server == server && $0.state == .running && routerHealth[$0.id]?.healthy == true }) {
                    resend = true
                }
                let have = live.filter { $0.server == server }.count
                guard have < wanted, let fleetServer = fleet.server(server), await fleetServer.unreachable == nil else { continue }
                try recordEvent(service: name, rolloutID: nil, kind: "server_reconciled",
                                message: "server \(server) runs \(have) of \(wanted) instance(s) of \(stable), the fleet's release; starting \(wanted - have) there (it serves \(fleetServing["\(name) \(server)"] ?? "nothing") until they are healthy)", time: now)
                try await ensureInstances(service: name, version: stable, count: wanted, rolloutID: nil, servers: [server])
            }
        }
        if resend { try await pushRoutes() }
        await stopRoutersOfRemovedServers(now: now)
    }

    /// A server taken out of a service's `servers:` (and applied) stops serving it: once no
    /// rollout of the service runs, the service's instances there (every version) are
    /// stopped, and the server's router gets a table without the service. Returns whether
    /// any instance was stopped.
    func stopInstancesOnRemovedServers(service: StoredService, now: Double) async throws -> Bool {
        let listed = Set(service.spec.servers.map(\.id))
        let stray = try store.liveInstances(service: service.spec.name).filter { instance in
            guard let server = instance.server else { return false }
            return !listed.contains(server) && instance.state != .stopping
        }
        guard !stray.isEmpty else { return false }
        for (server, instances) in Dictionary(grouping: stray, by: { $0.server ?? "" }).sorted(by: { $0.key < $1.key }) {
            // The server is reached the way its instances' release knew it (user, dir, engine).
            try syncFleet(withReleasesOf: instances, now: now)
            guard fleet.driver(server) != nil else { continue }
            try recordEvent(service: service.spec.name, rolloutID: nil, kind: "server_removed",
                            message: "server \(server) is no longer among the servers of \(service.spec.name): stopping its \(instances.count) instance(s) there (\(Set(instances.map(\.version)).sorted().joined(separator: ", ")))",
                            time: now)
            for var instance in instances {
                instance.state = .stopping
                try store.saveInstance(instance)
                finishStop(instance)
            }
        }
        return true
    }

    /// Makes the fleet know the servers of these instances' releases (a server the config no
    /// longer lists is still reached with the user, directory and engine its release had).
    func syncFleet(withReleasesOf instances: [InstanceRecord], now: Double) throws {
        for (service, versions) in Dictionary(grouping: instances.filter { $0.server != nil }, by: \.service) {
            for version in Set(versions.map(\.version)) {
                if let release = try store.release(service: service, version: version, creatingWith: nil, now: now) { fleet.sync([release.spec]) }
            }
        }
    }

    /// Servers no service lists any more and that run no instance: their router is stopped
    /// and the control plane forgets them (`servers status` no longer shows them).
    func stopRoutersOfRemovedServers(now: Double) async {
        guard let specs = try? store.serviceNames().compactMap({ try store.service($0)?.spec }),
              let live = try? store.liveInstances() else { return }
        // A running rollout's release may still list a server the config dropped meanwhile.
        let rolling = ((try? store.activeRollouts()) ?? []).compactMap { try? store.release(service: $0.service, version: $0.state.targetVersion, creatingWith: nil, now: now)?.spec }
        let listed = Set((specs + rolling).flatMap { $0.servers.map(\.id) })
        let busy = Set(live.compactMap(\.server))
        for server in fleet.servers where !listed.contains(server.server.id) && !busy.contains(server.server.id) {
            // One that does not answer is tried again once the background reconnect reaches it.
            guard await server.unreachable == nil else { continue }
            do {
                let pid = try await server.stopRouter()
                logger.info("server removed from the fleet", metadata: ["slipway.server": "\(server.server.id)", "slipway.router_pid": "\(pid.map(String.init) ?? "none")"])
                try? store.appendAudit(AuditDraft(principal: "slipway", action: "server.removed", target: "server \(server.server.id)",
                                                  details: ["detail": "no service lists \(server.server.id) any more; " + (pid.map { "stopped its router \($0)" } ?? "no router ran there")]), time: now)
                await fleet.remove(server.server.id)
            } catch {
                logger.warning("cannot stop the router of a removed server", metadata: ["slipway.server": "\(server.server.id)", "slipway.error": "\(error)"])
            }
        }
    }

    /// The release a fleet server's router serves for `input` (whose instances are the
    /// server's own): the target of a wave rollout once the server's wave switched; else
    /// the stable release, unless the server has no healthy instance of it yet (left out of
    /// a rollout, or just back) while it still runs the previous one, which it then keeps
    /// serving until it is reconciled.
    func servingVersion(of input: RouteTableBuilder.ServiceInput, on server: String, active: [(id: Int64, service: String, state: BlueGreenState)]) throws -> String? {
        let name = input.spec.name
        if let rollout = active.first(where: { $0.service == name }), let waves = rollout.state.waves,
           rollout.state.switchedAt == nil, waves.switched.contains(server) {
            return rollout.state.targetVersion
        }
        guard let stable = input.stableVersion else { return nil }
        let healthy = { (version: String) in
            input.instances.contains { $0.version == version && $0.state == .running && self.routerHealth[$0.id]?.healthy == true }
        }
        if healthy(stable) { return stable }
        let candidates = [try store.service(name)?.previousVersion, active.first(where: { $0.service == name })?.state.fromVersion]
        for case let previous? in candidates where previous != stable && healthy(previous) {
            return previous
        }
        return stable
    }

    /// The last health-check error of each instance of a failed release and its log tail.
    /// Instances may print their environment: known secret values are redacted.
    func failureDetails(service: String, version: String) async -> String {
        var lines: [String] = []
        let instances = (try? store.liveInstances(service: service, version: version)) ?? []
        for instance in instances {
            let health = routerHealth[instance.id]
            lines.append("instance \(instance.id) (\(instance.where), port \(instance.port)): last health check: \(health?.lastError ?? (health?.healthy == true ? "passing" : "no result yet"))")
            if let exit = instance.lastExit { lines.append("  last exit: \(exit)") }
            var tail: [String] = []
            do {
                for try await line in driver(for: instance).logs(instance, tail: 15, follow: false) { tail.append(line) }
            } catch {
                lines.append("  its output cannot be read: \(error)")
            }
            let source = instance.target == .local ? instance.logPath : "container \(instance.containerID.map { String($0.prefix(12)) } ?? "?")"
            if tail.isEmpty {
                lines.append("  \(source): no output")
            } else {
                lines.append("  last lines of \(source):")
                lines += tail.map { "    " + $0 }
            }
        }
        return redaction.redact(lines.joined(separator: "\n"))
    }

    static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<6).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }
}

/// What one route-table push did: this machine's router's listen failures, and the fleet
/// servers that did not confirm their table (by server id, with the problem), which a
/// switch or a step's route change names in a `switch_unacknowledged` event.
struct RoutePush {
    var listenFailures: [ListenFailure]
    var unconfirmed: [String: String]
}
