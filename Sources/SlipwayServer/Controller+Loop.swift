import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import SlipwayTargets

extension Controller {
    /// Runs after a (re)start, before the API opens: finds or starts the data plane,
    /// adopts instances that are still running (no duplicates: they are matched by pid
    /// and kernel start time), marks the dead ones crashed (they restart), resends the
    /// route table, and re-establishes what each in-flight rollout's persisted state implies.
    public func recover() async throws {
        routerGenerationFloor = try await dataPlane.ensureRunning()
        // A router left running from another build (this control plane was upgraded in
        // place): hand it over to this build's router, without a gap.
        if let stale = await dataPlane.staleRouter() {
            logger.info("the data plane runs another build; replacing it without a gap", metadata: [
                "slipway.pid": "\(stale.pid)", "slipway.version": "\(stale.version ?? "?")",
            ])
            do {
                _ = try await dataPlane.upgrade()
            } catch {
                logger.error("data plane upgrade failed; the running one serves on", metadata: ["slipway.error": "\(error)"])
            }
        }
        let now = clock.now()
        var adopted = 0
        let live = try store.liveInstances()
        fleet.sync(try store.serviceNames().compactMap { try store.service($0)?.spec })
        // Servers that run instances but no service lists any more (taken out of `servers:`
        // before the restart) are reached as their instances' releases knew them.
        try syncFleet(withReleasesOf: live, now: now)
        for (key, running) in Dictionary(grouping: live.filter { $0.state == .running }, by: { $0.server.map { "server \($0)" } ?? $0.target.rawValue }).sorted(by: { $0.key < $1.key }) {
            let seen: [String: InstanceObservation]
            do {
                seen = try await driver(for: running[0]).observe(running)
            } catch {
                // The target cannot be asked (the engine is down, the server unreachable):
                // nothing is concluded; the loop looks again, and the routers' health checks
                // tell meanwhile.
                logger.warning("cannot check instances on adoption", metadata: ["slipway.target": "\(key)", "slipway.error": "\(error)"])
                continue
            }
            for instance in running {
                if case .exited(let how) = seen[instance.id] ?? .exited("unknown to its driver") {
                    try recordCrash(instance, how: "was not running when the control plane started (\(how))", now: now)
                } else {
                    adopted += 1
                }
            }
        }
        for instance in live where instance.state == .stopping {
            finishStop(instance)
        }
        if adopted > 0 {
            logger.info("adopted running instances", metadata: ["slipway.count": "\(adopted)"])
        }
        try recordInterruptedSwitches(now: now)
        try await removeOrphanedInstances(live: Set(live.map(\.id)), now: now)
        for active in try store.activeRollouts() {
            try recordEvent(service: active.service, rolloutID: active.id, kind: "resumed",
                                  message: "control plane restarted; rollout resumed in phase \(active.state.phase.rawValue)", time: now)
            switch active.state.phase {
            case .waitingHealthy where active.state.healthyDeadline == nil:
                // Not begun: its release was still being prepared (a pull) or not yet started.
                try await beginRollout(id: active.id, unit: active.service, state: active.state)
            case .progressing where active.state.rolling != nil:
                try await ensureInstances(service: active.service, version: active.state.targetVersion, count: active.state.rolling!.newWanted, rolloutID: active.id)
            case let phase where [.waitingHealthy, .progressing, .paused].contains(phase) && active.state.healthyDeadline != nil
                && active.state.waves != nil && active.state.switchedAt == nil:
                // A fleet's waves: only the servers the waves so far cover.
                try await ensureInstances(service: active.service, version: active.state.targetVersion, count: active.state.waves!.wantedInstances, rolloutID: active.id)
            case .waitingHealthy, .previewing, .progressing, .paused:
                try await ensureInstances(service: active.service, version: active.state.targetVersion, count: active.state.replicas, rolloutID: active.id)
            case .runningHook:
                // The hook's process belonged to the control plane that died: whether it
                // finished (a migration applied or not) is unknown, so it is never run again
                // on its own. It counts as failed: before the switch the rollout fails with
                // the stable release serving; after it, as a failed post_deploy/on_rollback
                // (the on_rollback of a failed deploy: it ends failed with its own reason).
                if let stage = active.state.hooks?.running {
                    var machine = RolloutMachine(state: active.state)
                    // It may still run (its own session outlives us): stop it before deciding.
                    let killed = killOrphanedHook(rolloutID: active.id)
                    let outcome = HookOutcome(stage: stage, passed: false,
                                              exit: "interrupted: the control plane stopped while it ran" + (killed.map { "; its process group (pid \($0)) was still running and was killed" } ?? "")
                                                + "; it was not run again (check whether it completed before deploying again)")
                    try await step(id: active.id, service: active.service, machine: &machine, input: .hookResult(outcome))
                }
            case .draining, .watching:
                if let s = try store.service(active.service), s.stableVersion != active.state.targetVersion {
                    try store.setReleases(service: active.service, stable: active.state.targetVersion, previous: active.state.fromVersion, previousRetireAt: nil, now: now)
                }
            case .awaitingApproval, .succeeded, .failed:
                break
            }
        }
        try await pushRoutesAtStart()
        await refreshHealth()
        try recoverVerifications()
    }

    /// A rollout persisted as succeeded whose switch this control plane did not live to
    /// record (a rolling update's switch is the action after its last transition): its
    /// target is made the stable release before the orphan sweep, which would otherwise stop
    /// the new release's instances as having no role (found by the crash-walk test).
    func recordInterruptedSwitches(now: Double) throws {
        for name in try store.serviceNames() {
            guard let service = try store.service(name), let latest = try store.rollouts(service: name, limit: 1).first,
                  latest.phase == .succeeded, service.stableVersion != latest.toVersion else { continue }
            try store.setReleases(service: name, stable: latest.toVersion, previous: latest.fromVersion, previousRetireAt: nil, now: now)
            try recordEvent(service: name, rolloutID: latest.id, kind: "resumed",
                            message: "rollout \(latest.id) succeeded but the control plane stopped before recording \(latest.toVersion) as the stable release; recorded now", time: now)
        }
    }

    /// The first table after a start. A router that answers its ping but is slow to apply
    /// (a machine busy starting many processes) is given time: the table is sent again, up
    /// to three times, while the router process lives, before the start fails.
    func pushRoutesAtStart() async throws {
        var attempt = 1
        while true {
            do {
                try await pushRoutes()
                return
            } catch where attempt < 3 {
                if let how = await dataPlane.checkChild() { throw ControllerError(.unavailable, "the data plane exited during start-up: \(how)") }
                logger.warning("the data plane did not take the route table; sending it again", metadata: ["slipway.attempt": "\(attempt)", "slipway.error": "\(error)"])
                attempt += 1
            }
        }
    }

    /// Runs the loop until the task is cancelled: every `busy` while a rollout is running
    /// or an instance waits for its restart, every `idle` otherwise (commands do not wait
    /// for a tick: deploy and rollback act at once).
    public func run(busy: Duration = .milliseconds(100), idle: Duration = .milliseconds(500)) async {
        var failures = TickFailures()
        while !Task.isCancelled {
            var interval = idle
            let started = ContinuousClock.now
            // Between ticks: a step of the wall clock moves the timers, then the controller's
            // clock takes the new frame (no tick sees both).
            let drift = steadyClock.drift()
            if abs(drift) >= Defaults.clockStepTolerance {
                clockStepped(by: drift)
                steadyClock.adopt(drift)
            }
            do {
                tickRunning = true
                defer { tickRunning = false }
                try await tick()
                if let recovered = failures.succeeded() {
                    logger.notice("controller ticks succeed again", metadata: ["slipway.failed_ticks": "\(recovered)"])
                }
                let crashed = try store.liveInstances().contains { $0.state == .crashed }
                // A rollout awaiting approval only needs its deadline checked: no quick ticks.
                let rolling = try store.activeRollouts().contains { $0.state.phase != .awaitingApproval }
                if crashed || rolling { interval = busy }
            } catch {
                // The same failure every 100 ms (a full disk, an engine down) is logged once
                // and then every 30 s with how often it repeated, not ten times a second.
                if let repeated = failures.failed("\(error)", now: started) {
                    logger.error("controller tick failed", metadata: ["slipway.error": "\(error)", "slipway.repeated": "\(repeated)"])
                }
                metrics.tickErrors.increment()
                interval = busy
            }
            metrics.tickDuration.record(ContinuousClock.now - started)
            try? await Task.sleep(for: interval)
        }
    }

    /// The wall clock stepped by `step` seconds: every running rollout's times, warm
    /// releases' retire times and pending notifications' next attempts move with it, so
    /// each timer keeps the time it had left (a pause is not cut short by a jump forward
    /// nor stretched by a jump back). Recorded on each running rollout.
    func clockStepped(by step: Double) {
        let text = (step > 0 ? "+" : "") + String(format: "%.1f", step) + " s"
        logger.warning("the wall clock stepped; rollout timers keep the time they had left", metadata: ["slipway.step": "\(text)"])
        do {
            for active in try store.activeRollouts() {
                var state = active.state
                state.shiftTimes(by: step)
                try store.updateRollout(id: active.id, state: state)
                _ = try store.appendEvent(service: active.service, rolloutID: active.id, kind: "clock_stepped",
                                          message: "the wall clock stepped by \(text); this rollout's timers moved with it and keep the time they had left",
                                          time: clock.now())
            }
            try store.shiftPendingTimes(by: step)
        } catch {
            logger.error("could not move the timers after a step of the wall clock", metadata: ["slipway.error": "\(error)"])
        }
    }

    /// Reads every instance's health from the router; false when the router did not answer.
    @discardableResult
    func refreshHealth() async -> Bool {
        guard let health = try? await router.health() else { return false }
        var merged = Dictionary(health.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // Each fleet server's router checks its own instances; a server that does not
        // answer keeps its last known health until it does.
        let remote = await fleet.each(fleet.servers.map(\.server.id)) { server -> [EndpointHealth]? in
            guard await server.unreachable == nil else { return nil }
            // Two failed reads in a row count it unreachable (rollouts pause for it) until
            // the background reconnect reaches its router again.
            return await server.readHealth()
        }
        let serverOf = remote.contains { $0.1 == nil }
            ? Dictionary(((try? store.liveInstances()) ?? []).map { ($0.id, $0.server) }, uniquingKeysWith: { a, _ in a }) : [:]
        for (id, endpoints) in remote {
            if let endpoints {
                for endpoint in endpoints { merged[endpoint.id] = endpoint }
            } else {
                for (key, value) in routerHealth where merged[key] == nil && serverOf[key] == id {
                    merged[key] = value
                }
            }
        }
        routerHealth = merged
        return true
    }

    /// One pass: data plane alive, instance exits and restarts, rollout inputs, warm
    /// releases past their time, log rotation.
    public func tick() async throws {
        guard !stoppingEverything else { return }
        if let how = await dataPlane.checkChild() {
            logger.error("data plane exited; restarting it", metadata: ["slipway.exit": "\(how)"])
        }
        if !(await refreshHealth()) {
            // The data plane does not answer: find or restart it, then resend the table.
            routerGenerationFloor = try await dataPlane.ensureRunning()
            try await pushRoutes()
            await refreshHealth()
        }
        let ahead = await fleetRoutersAhead()
        if !ahead.isEmpty {
            warnRoutersAhead(ahead)
            try await pushRoutes()
        }
        let now = clock.now()
        try await superviseInstances(now: now)
        try await restartDue(now: now)
        try await advanceRollouts()
        try await reconcileFleet(now: now)
        try await rollBackCrashLoops(now: now)
        try await retireWarm(now: now)
        try runDueVerifications(now: now)
        do {
            try await evaluateAlerts(now: now)
        } catch {
            logger.error("alert evaluation failed", metadata: ["slipway.error": "\(error)"])
        }
        if now - lastRotation >= 2 {
            lastRotation = now
            for instance in try store.liveInstances() {
                LogFiles.rotateIfNeeded(path: instance.logPath, maxBytes: Defaults.logMaxBytes, keep: Defaults.logKeepFiles)
            }
            LogFiles.rotateIfNeeded(path: stateDirectory.routerLog, maxBytes: Defaults.logMaxBytes, keep: Defaults.logKeepFiles)
        }
    }

    /// Asks each target which of its running instances exited, and records the crashes.
    func superviseInstances(now: Double) async throws {
        let running = try store.liveInstances().filter { $0.state == .running }
        for (key, instances) in Dictionary(grouping: running, by: { $0.server.map { "server \($0)" } ?? $0.target.rawValue }).sorted(by: { $0.key < $1.key }) {
            let kind = instances[0].target
            do {
                let seen = try await driver(for: instances[0]).observe(instances)
                for instance in instances {
                    // Only a record that is still the one observed: a stop may have begun meanwhile.
                    guard case .exited(let how) = seen[instance.id],
                          let current = try store.liveInstances(service: instance.service, version: instance.version).first(where: { $0.id == instance.id }),
                          current.state == .running, current.containerID == instance.containerID, current.pid == instance.pid else { continue }
                    try recordCrash(current, how: how, now: now)
                }
            } catch {
                if now - (lastObserveWarning[key] ?? 0) >= 60 {
                    lastObserveWarning[key] = now
                    logger.warning("cannot check instances", metadata: ["slipway.target": "\(key)", "slipway.kind": "\(kind.rawValue)", "slipway.error": "\(error)"])
                }
            }
        }
    }

    /// Removes what a target holds that no live instance record claims (a container
    /// created just before the control plane died, one whose stop was cut short), and
    /// records each removal. Only at start-up: instances are being started otherwise.
    func removeOrphanedInstances(live: Set<String>, now: Double) async throws {
        // Containers on fleet servers: each server's agent sweeps its engine.
        let fleetSpecs = try store.serviceNames().compactMap { try store.service($0)?.spec }.filter { $0.target == .container && !$0.servers.isEmpty }
        fleet.sync(fleetSpecs)
        for id in Set(fleetSpecs.flatMap { $0.servers.map(\.id) }).sorted() {
            guard let driver = fleet.driver(id) else { continue }
            do {
                for line in try await driver.removeOrphans(live: live) {
                    logger.info("removed orphan", metadata: ["slipway.detail": "\(line)"])
                    try store.appendAudit(AuditDraft(principal: "slipway", action: "instance.orphan_removed", target: "server \(id)", details: ["detail": line]), time: now)
                }
            } catch {
                logger.warning("cannot look for orphaned containers", metadata: ["slipway.server": "\(id)", "slipway.error": "\(error)"])
            }
        }
        let containerServices = try store.serviceNames().contains { try store.service($0)?.spec.target == .container && (try store.service($0)?.spec.servers.isEmpty ?? true) }
        let containerInstances = try store.instances(service: nil, version: nil, includeStopped: true, limit: 1).contains { $0.target == .container && $0.server == nil }
        guard containerServices || containerInstances else { return }
        do {
            for line in try await drivers.container.removeOrphans(live: live) {
                logger.info("removed orphan", metadata: ["slipway.detail": "\(line)"])
                try store.appendAudit(AuditDraft(principal: "slipway", action: "instance.orphan_removed", target: "engine", details: ["detail": line]), time: now)
            }
        } catch {
            logger.warning("cannot look for orphaned containers", metadata: ["slipway.error": "\(error)"])
        }
    }

    func recordCrash(_ instance: InstanceRecord, how: String, now: Double) throws {
        var crashed = instance
        crashed.state = .crashed
        crashed.lastExit = how
        let exponent = min(instance.restarts, 10)
        let delay = min(Defaults.restartBackoffBase.seconds * pow(2, Double(exponent)), Defaults.restartBackoffMax.seconds)
        crashed.restartAt = now + delay
        try store.saveInstance(crashed)
        let rollout = try store.activeRollout(service: instance.service)?.id
        try recordEvent(service: instance.service, rolloutID: rollout, kind: "instance_crashed",
                              message: "instance \(instance.id) of \(instance.version) \(how); restarting in \(DurationText.format(.milliseconds(Int64(delay * 1000))))",
                              time: now, version: instance.version)
        logger.warning("instance crashed", metadata: ["slipway.service": "\(instance.service)", "slipway.instance": "\(instance.id)", "slipway.exit": "\(how)"])
    }

    func restartDue(now: Double) async throws {
        var restarted = false
        for instance in try store.liveInstances() where instance.state == .crashed {
            guard let at = instance.restartAt, at <= now else { continue }
            // An instance on a server that does not answer waits for it (no attempt, no
            // backoff, no blocked tick) and restarts as soon as the server answers again.
            if let server = instance.server, await fleet.server(server)?.unreachable != nil { continue }
            guard let release = try store.release(service: instance.service, version: instance.version, creatingWith: nil, now: now) else { continue }
            var record = instance
            record.restarts += 1
            record.startedAt = now
            // The port is in use: another process took it (the instance may have died because
            // it could not bind it), or the dead instance's connections are still closing
            // (TIME_WAIT, which stops a server that binds without SO_REUSEADDR). A restart on
            // it could only crash again, so the instance moves.
            // The engine's docker-proxy binds a published port with SO_REUSEADDR.
            let proxied = release.spec.container?.network == .bridge
            // (A fleet instance's port is on its server, not here: it restarts on the same one.)
            if instance.server == nil, !PortAllocator.binds(host: "127.0.0.1", port: instance.port, reuseAddress: proxied), let port = instancePorts.port() {
                record.port = port
                try recordEvent(service: instance.service, rolloutID: nil, kind: "instance_port_moved",
                                message: "port \(instance.port) of instance \(instance.id) is in use (another process, or the dead instance's connections still closing); it restarts on port \(port)", time: now,
                                version: instance.version)
            }
            do {
                let started = try await start(release: release, instanceID: instance.id, port: record.port, logPath: instance.logPath, replacing: instance, server: instance.server)
                record.apply(started)
                record.state = .running
                record.restartAt = nil
                try store.saveInstance(record)
                try recordEvent(service: instance.service, rolloutID: nil, kind: "instance_restarted",
                                      message: "instance \(instance.id) of \(instance.version) restarted (restart \(record.restarts), \(started.summary), port \(record.port))", time: now)
                restarted = true
            } catch {
                record.lastExit = redaction.redact("\(error)")
                // Its server did not answer: retried as soon as it does (see above).
                let away = (error as? DriverError)?.code == .unreachable && instance.server != nil
                record.restartAt = away ? now : now + Defaults.restartBackoffMax.seconds
                try store.saveInstance(record)
            }
        }
        if restarted { try await pushRoutes() }
    }

    func advanceRollouts() async throws {
        let rollouts = try store.activeRollouts()
        let current = Set(rollouts.map { "rollout \($0.id)" })
        crashBaselines = crashBaselines.filter { !$0.key.hasPrefix("rollout ") || current.contains($0.key) }
        // A rollout whose step is still performing its actions (awaiting a route push) moves
        // on when they are done, not from this tick.
        for active in rollouts where performingActions[active.id] == nil {
            var machine = RolloutMachine(state: active.state)
            let state = active.state
            let target = try store.liveInstances(service: active.service, version: state.targetVersion)
            switch state.phase {
            case .awaitingApproval:
                // Nothing runs yet; only the approval deadline can move it.
                if let approval = state.approval, clock.now() >= approval.expiresAt {
                    try endUnapproved(id: active.id, service: active.service, state: state,
                                      reason: "no decision within approval_timeout \(DurationText.format(.milliseconds(Int64((approval.expiresAt - approval.requestedAt) * 1000)))) (\(approval.approvals) of \(approval.needed) approvals)",
                                      actor: "timer")
                }
                continue
            case _ where state.waves != nil && [.waitingHealthy, .progressing, .paused].contains(state.phase) && state.switchedAt == nil:
                // A fleet's waves: which servers do not answer, and each server's healthy instances.
                var down: [String: String] = [:]
                for id in state.waves!.servers {
                    if let why = await fleet.server(id)?.unreachable { down[id] = why }
                }
                try await step(id: active.id, service: active.service, machine: &machine, input: .serversUnreachable(down))
                if machine.state.phase == .waitingHealthy {
                    var healthy: [String: Int] = [:]
                    for instance in target where instance.state == .running && routerHealth[instance.id]?.healthy == true {
                        if let server = instance.server { healthy[server, default: 0] += 1 }
                    }
                    try await step(id: active.id, service: active.service, machine: &machine, input: .serverHealth(healthy))
                }
            case .waitingHealthy:
                let running = target.filter { $0.state == .running }
                let healthy = running.filter { routerHealth[$0.id]?.healthy == true }.count
                // A crash loop fails the rollout before its deadline (every strategy).
                try await step(id: active.id, service: active.service, machine: &machine, input: .targetRestarts(crashesSince("rollout \(active.id)", version: state.targetVersion, target)))
                guard !machine.state.phase.isTerminal else { continue }
                try await step(id: active.id, service: active.service, machine: &machine, input: .targetHealth(healthy: healthy))
            case .progressing where state.rolling != nil:
                try await step(id: active.id, service: active.service, machine: &machine, input: .targetRestarts(crashesSince("rollout \(active.id)", version: state.targetVersion, target)))
                guard !machine.state.phase.isTerminal else { continue }
                let healthy = target.filter { $0.state == .running && routerHealth[$0.id]?.healthy == true }.count
                try await step(id: active.id, service: active.service, machine: &machine, input: .targetHealth(healthy: healthy))
                // Only a drain that began before this tick's health reading: a reading taken
                // before the retired instances left the route table proves nothing.
                if let from = state.fromVersion, let progress = machine.state.rolling, progress.wait == .drain, state.rolling?.wait == .drain {
                    // The retired instances: those after the first `oldRoutable` by id (RouteTableBuilder).
                    let retired = Set(try store.liveInstances(service: active.service, version: from).filter { $0.state != .stopping }
                        .sorted { $0.id < $1.id }.dropFirst(progress.oldRoutable).map(\.id))
                    let inflight = routerHealth.values.filter { retired.contains($0.id) }.reduce(0) { $0 + $1.inflight }
                    try await step(id: active.id, service: active.service, machine: &machine, input: .previousInflight(inflight))
                }
            case .progressing, .paused:
                if state.canary != nil {
                    try await pauseCanaryForServers(id: active.id, service: active.service, machine: &machine)
                }
                try await step(id: active.id, service: active.service, machine: &machine, input: .targetRestarts(crashesSince("rollout \(active.id)", version: state.targetVersion, target)))
            case .watching:
                // Traffic is on the target: a crash loop switches back to the warm release.
                try await step(id: active.id, service: active.service, machine: &machine, input: .targetRestarts(crashesSince("rollout \(active.id)", version: state.targetVersion, target)))
            case .previewing, .runningHook:
                break
            case .draining:
                try await step(id: active.id, service: active.service, machine: &machine, input: .targetRestarts(crashesSince("rollout \(active.id)", version: state.targetVersion, target)))
                guard !machine.state.phase.isTerminal else { continue }
                if let from = state.fromVersion {
                    let ids = Set(try store.liveInstances(service: active.service, version: from).map(\.id))
                    let inflight = routerHealth.values.filter { ids.contains($0.id) }.reduce(0) { $0 + $1.inflight }
                    try await step(id: active.id, service: active.service, machine: &machine, input: .previousInflight(inflight))
                }
            case .succeeded, .failed:
                continue
            }
            if !machine.state.phase.isTerminal {
                try await step(id: active.id, service: active.service, machine: &machine, input: .tick)
            }
        }
    }

    /// A canary on a fleet pauses while one of its servers does not answer (its numbers
    /// cannot be read, its router not be told) and resumes by itself when all answer again.
    func pauseCanaryForServers(id: Int64, service: String, machine: inout RolloutMachine) async throws {
        guard let spec = try store.service(service)?.spec, !spec.servers.isEmpty, let progress = machine.state.canary else { return }
        var down: [String] = []
        for server in spec.servers {
            if let why = await fleet.server(server.id)?.unreachable { down.append("server \(server.id) does not answer (\(why))") }
        }
        let fleetPause = progress.pauseReason?.hasPrefix("paused by fleet: ") == true
        if !down.isEmpty, machine.state.phase == .progressing {
            try await step(id: id, service: service, machine: &machine, input: .command(.pause, by: "fleet: " + down.joined(separator: "; ")))
        } else if down.isEmpty, machine.state.phase == .paused, fleetPause {
            try await step(id: id, service: service, machine: &machine, input: .command(.resume, by: "fleet"))
        }
    }

    /// How many times the instances crashed (each restart counts, and a crash waiting for its restart).
    static func crashes(_ instances: [InstanceRecord]) -> Int {
        instances.reduce(0) { $0 + $1.restarts + ($1.state == .crashed ? 1 : 0) }
    }

    /// Crashes of `version`'s instances since `key` (a rollout, or a release that became
    /// stable) was first looked at: a warm release's old restarts never count against it.
    /// Kept in memory; a restarted control plane counts from its first look.
    func crashesSince(_ key: String, version: String, _ instances: [InstanceRecord]) -> Int {
        let now = Self.crashes(instances)
        guard let baseline = crashBaselines[key], baseline.version == version else {
            crashBaselines[key] = (version, now)
            return 0
        }
        return max(0, now - baseline.crashes)
    }

    /// A release that crash-loops after its rollout succeeded (blue-green, rolling, canary)
    /// is rolled back to the previous release while that one is still warm (keep_previous):
    /// `max_restarts` crashes of its instances since it became stable.
    func rollBackCrashLoops(now: Double) async throws {
        let active = Set(try store.activeRollouts().map(\.service))
        for name in try store.serviceNames() where !active.contains(name) {
            guard let service = try store.service(name), let stable = service.stableVersion, let previous = service.previousVersion,
                  let retireAt = service.previousRetireAt, retireAt > now, service.spec.servers.isEmpty else { continue }
            let limit: Int
            switch service.spec.strategy {
            case .blueGreen(let spec): limit = spec.maxRestarts
            case .rolling(let spec): limit = spec.timing.maxRestarts
            case .canary(let spec): limit = spec.maxRestarts
            }
            let crashes = crashesSince("stable \(name)", version: stable, try store.liveInstances(service: name, version: stable))
            guard crashes >= limit else { continue }
            let warm = try store.liveInstances(service: name, version: previous).filter { $0.state == .running }
            guard !warm.isEmpty else { continue }
            crashBaselines["stable \(name)"] = nil
            try recordEvent(service: name, rolloutID: nil, kind: "crash_loop",
                            message: "instances of \(stable) crashed \(crashes) times since it became stable (max_restarts \(limit)): crash loop; rolling back to \(previous), still warm",
                            time: now, version: stable)
            logger.warning("crash loop after a rollout; rolling back", metadata: ["slipway.service": "\(name)", "slipway.version": "\(stable)", "slipway.previous": "\(previous)"])
            _ = try await rollback(service: name, to: nil)
        }
    }

    /// Stops warm releases whose keep_previous has passed, and instances of releases that
    /// no longer have a role (orphans after a crash in the middle of a switch).
    func retireWarm(now: Double) async throws {
        for name in try store.serviceNames() {
            guard var service = try store.service(name) else { continue }
            if let previous = service.previousVersion, let at = service.previousRetireAt, at <= now {
                try recordEvent(service: name, rolloutID: nil, kind: "retired",
                                      message: "keep_previous elapsed; stopping warm release \(previous)", time: now)
                try await stopInstances(service: name, version: previous)
                try store.setReleases(service: name, stable: service.stableVersion, previous: previous, previousRetireAt: nil, now: now)
                service.previousRetireAt = nil
            }
            let active = try store.activeRollout(service: name)
            var keep: Set<String> = []
            if let stable = service.stableVersion { keep.insert(stable) }
            if let previous = service.previousVersion, service.previousRetireAt != nil { keep.insert(previous) }
            if let active {
                keep.insert(active.toVersion)
                if let from = active.fromVersion { keep.insert(from) }
            }
            let orphans = Set(try store.liveInstances(service: name).filter { $0.state != .stopping && !keep.contains($0.version) && !servesOnItsServer($0) }.map(\.version))
            for version in orphans {
                try recordEvent(service: name, rolloutID: nil, kind: "orphan", message: "instances of \(version) have no role any more; stopping them", time: now)
                try await stopInstances(service: name, version: version)
            }
        }
    }
}

/// Which failed controller ticks to log: a new error at once, the same one again every
/// `every` with the count of repeats since.
struct TickFailures {
    var every: Duration = .seconds(30)
    private var last: String?
    private var loggedAt: ContinuousClock.Instant?
    private var repeats = 0
    private var total = 0

    /// The repeats to report when this failure is to be logged, else nil.
    mutating func failed(_ error: String, now: ContinuousClock.Instant) -> Int? {
        total += 1
        if error == last, let loggedAt, now - loggedAt < every {
            repeats += 1
            return nil
        }
        defer { repeats = 0 }
        last = error
        loggedAt = now
        return repeats
    }

    /// After failures, how many there were in a row (then forgotten); nil when none.
    mutating func succeeded() -> Int? {
        guard total > 0 else { return nil }
        defer { self = TickFailures(every: every) }
        return total
    }
}
