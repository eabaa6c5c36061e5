import Foundation
import Logging
import SlipwayConfig
import SlipwayCore
import SlipwayStore
import SlipwayTargets

/// The control plane's brain: turns commands (apply, deploy, rollback) and observations
/// (router health, process exits, time) into rollout-machine inputs, performs the
/// machine's actions, and persists every transition. One actor; the router's hot path
/// never waits on it.
public actor Controller {
    let store: Store
    let stateDirectory: StateDirectory
    let dataPlane: DataPlane
    let clock: any WallClock
    /// The same clock: steady within a tick; the run loop adopts steps of the wall clock.
    let steadyClock: SteadyClock
    let logger: Logger
    /// Where bare `run[0]` names are looked up before PATH (the slipway binary's folder).
    let searchDirectories: [String]
    let inherited: [String: String]
    /// Where new instances get their `PORT` (`--instance-ports`).
    let instancePorts: PortAllocator
    /// Where instances run: local processes, containers. The only place that knows a target.
    let drivers: InstanceDrivers
    /// The fleet servers of services with `servers:`, each with its router and driver.
    public nonisolated let fleet: Fleet
    /// Releases being made ready (artifacts hashed, images pulled) before their rollout begins.
    var prepareTasks: [Int64: Task<Void, Never>] = [:]
    /// When a driver last could not be asked about its instances (logged once a minute).
    var lastObserveWarning: [String: Double] = [:]
    /// Opens the secrets; replaced by `rotateMasterKey`.
    var masterKey: MasterKey
    /// See `redaction`.
    var redactionCache: RedactionCache?
    var routerHealth: [String: EndpointHealth] = [:]
    /// This build as installed on fleet servers (`hostBundle()`).
    var cachedHostBundle: HostBundle?
    /// The release each fleet server's router serves for each service ("SERVICE SERVER"),
    /// as last pushed (see `servingVersion`).
    var fleetServing: [String: String] = [:]
    var lastRotation: Double = 0
    /// Set by `slipway down`: the loop stops acting (it would otherwise start the stable
    /// release's instances again as they are stopped, or reconcile a server to them).
    var stoppingEverything = false
    /// A tick of the run loop is under way (it may be starting an instance across an await).
    var tickRunning = false
    /// Parsed certificate expiries by file, with the file's modification time.
    var certificateExpiries: [String: (modified: Date, status: CertificateStatus)] = [:]
    /// Crash counts when a rollout or a newly stable release was first looked at (`crashesSince`).
    var crashBaselines: [String: (version: String, crashes: Int)] = [:]
    var routerGenerationFloor: UInt64 = 0
    /// Each unit's backend groups as last applied to the router (weights for `/metrics`).
    var routedGroups: [String: [BackendGroup]] = [:]
    /// The control plane's own instruments (loop timings, …), emitted on `/metrics`.
    public let metrics = ControlPlaneMetrics()
    /// How many times each rollout's state was persisted by `step`, so a step that awaited
    /// something slow (an analysis) can tell whether another step moved the rollout meanwhile.
    var rolloutWrites: [Int64: UInt64] = [:]
    /// Rollouts whose `step` is performing the actions of a persisted state. The controller
    /// is an actor: while an action awaits (a route push to a slow router), the loop's tick
    /// must not step the same rollout from the persisted state — it would drain and run
    /// post_deploy before the switch reached the router.
    var performingActions: [Int64: Int] = [:]
    /// Rollouts whose `step` is applying an action (a route push, instances starting or
    /// stopping) right now; not while it waits for an analysis. A person's command waits
    /// for them (`waitForAppliedActions`): it acts on the state those actions establish,
    /// not on one they are still carrying out.
    var applyingActions: [Int64: Int] = [:]
    /// Fault injection for tests (`SLIPWAY_FAULT_PUSH_DELAY_MS=N`): every route push waits N
    /// ms first, as a router slow to apply its table does on a loaded machine.
    let faultPushDelay: Duration? = ProcessInfo.processInfo.environment["SLIPWAY_FAULT_PUSH_DELAY_MS"].flatMap { Int64($0) }.map { .milliseconds($0) }
    /// Fault injection for tests (`SLIPWAY_FAULT_START_DELAY_MS=N`): every instance start
    /// waits N ms first, as a container engine slow to create containers does.
    let faultStartDelay: Duration? = ProcessInfo.processInfo.environment["SLIPWAY_FAULT_START_DELAY_MS"].flatMap { Int64($0) }.map { .milliseconds($0) }
    /// Fault injection for the crash-walk tests (`SLIPWAY_FAULT_KILL_AT=N`): the control plane
    /// SIGKILLs itself at its Nth crash point. Nil (the default): never.
    let faultKillAt: Int? = ProcessInfo.processInfo.environment["SLIPWAY_FAULT_KILL_AT"].flatMap { Int($0) }
    /// Crash points passed since start (counted only with `faultKillAt`).
    var crashPoints = 0
    /// The hook each rollout is running (`hooks:`); cancelling one kills its process group.
    var hookTasks: [Int64: Task<Void, Never>] = [:]
    /// Post-deploy checks (`verify:`) running now, by id.
    var verificationTasks: [Int64: Task<Void, Never>] = [:]
    /// When the loop last looked for due post-deploy checks.
    var lastVerificationCheck: Double = 0
    /// Units whose database is being restored (`backup:`); no rollout starts on them meanwhile.
    var databaseRestores: Set<String> = []
    /// A trace per rollout (`--otlp-endpoint`); without a tracer nothing is recorded.
    var traces = RolloutTraces(tracer: nil)
    /// Where routers send request spans (`trace_requests`); nil: they trace nothing.
    var requestTracesURL: String?
    /// Headers of the routers' exports (`RouteTable.tracesHeaders`); nil when none.
    var requestTracesHeaders: [String: String]?
    /// When each rollout's running hook started (its span's start).
    var hookStarts: [Int64: Double] = [:]
    /// Wakes the notifier when `recordEvent` queued notifications.
    public nonisolated let outbox = OutboxSignal()
    /// Alert rules' state machines by unit and rule name.
    var alertEvaluators: [String: [String: AlertEvaluator]] = [:]
    /// States stored before a restart, taken over by the first evaluation.
    var loadedAlertStates: [String: [String: AlertState]] = [:]
    var alertStatesLoaded = false
    var lastAlertCheck: Double = 0

    public init(store: Store, stateDirectory: StateDirectory, dataPlane: DataPlane, masterKey: MasterKey, clock: any WallClock = SystemWallClock(), logger: Logger, searchDirectories: [String] = [SelfExecutable.directory],
                instancePorts: PortAllocator = PortAllocator(),
                engine: EngineEndpoint = EngineEndpoint(socketPath: Defaults.dockerSocket, source: "the default"),
                sshConfig: String? = nil) throws {
        self.store = store
        let environment = ProcessInfo.processInfo.environment
        let local = LocalProcessDriver(artifacts: ArtifactStore(root: stateDirectory.artifactsDirectory), searchDirectories: searchDirectories, path: environment["PATH"])
        let drivers = InstanceDrivers(local: local, container: ContainerDriver(engine: EngineClient(endpoint: engine), owner: try store.ownerID()))
        self.drivers = drivers
        self.fleet = Fleet(options: SSHConnection.Options(configFile: sshConfig, socketDirectory: SSHConnection.Options.socketDirectory(stateDirectory: stateDirectory.path)), drivers: drivers)
        self.instancePorts = instancePorts
        self.stateDirectory = stateDirectory
        self.dataPlane = dataPlane
        let steady = SteadyClock(base: clock)
        self.steadyClock = steady
        self.clock = steady
        self.logger = logger
        self.searchDirectories = searchDirectories
        self.masterKey = masterKey
        // Commands the control plane runs (analysis providers) inherit this; never the key.
        self.inherited = ProcessInfo.processInfo.environment.filter { $0.key != MasterKey.environmentVariable }
    }

    var router: RouterClient { dataPlane.client }

    /// The driver of an instance: its fleet server's, or its target's on this machine.
    nonisolated func driver(for instance: InstanceRecord) -> any InstanceDriver {
        if let id = instance.server, let driver = fleet.driver(id) { return driver }
        return drivers(instance.target)
    }

    // MARK: services

    public struct ApplyResult: Codable, Sendable {
        public var service: String
        public var configVersion: Int
        public var changed: Bool
    }

    /// Registers or updates a service from a validated spec.
    public func apply(_ spec: ServiceSpec, source: String) async throws -> ApplyResult {
        let now = clock.now()
        for other in try store.serviceNames() where other != spec.name {
            guard let o = try store.service(other) else { continue }
            if o.spec.listen.port == spec.listen.port, Set(o.spec.hosts).intersection(spec.hosts).count > 0 || (o.spec.hosts.isEmpty && spec.hosts.isEmpty) {
                throw ControllerError(.conflict, "service \(other) already answers \(o.spec.hosts.isEmpty ? "every host" : o.spec.hosts.joined(separator: ", ")) on port \(spec.listen.port); give one of them distinct `hosts:` or another `listen:` port")
            }
            if o.spec.listen == spec.listen, o.spec.tls != spec.tls {
                func describe(_ tls: TLSSpec?) -> String { tls.map { "tls cert \($0.cert), key \($0.key)" } ?? "no tls" }
                throw ControllerError(.conflict, "service \(other) on \(spec.listen) has \(describe(o.spec.tls)) but \(spec.name) asks for \(describe(spec.tls)); services on one listen address share its certificate: name the same tls files or use another `listen:` port")
            }
        }
        let current = try await router.routes()
        let bound = current.listenAddresses.contains { $0.port == spec.listen.port }
        // A fleet service listens on its servers, not here.
        if spec.servers.isEmpty, !bound, spec.listen.port != 0, let error = PortHolder.tryBind(host: spec.listen.host, port: spec.listen.port) {
            let holder = PortHolder.describe(port: spec.listen.port).map { "; it is held by \($0)" } ?? ""
            throw ControllerError(.conflict, "listen address \(spec.listen) for service \(spec.name) is not available: \(error)\(holder)")
        }
        let (version, changed) = try store.apply(spec, source: source, now: now)
        if changed {
            try recordEvent(service: spec.name, rolloutID: nil, kind: "config_applied", message: "config version \(version) applied from \(source)", time: now)
        }
        let failures = try await pushRoutes().listenFailures
        if let failure = failures.first(where: { $0.service == spec.name }) {
            throw ControllerError(.conflict, failure.message)
        }
        return ApplyResult(service: spec.name, configVersion: version, changed: changed)
    }

    func requireService(_ name: String) throws -> StoredService {
        guard let service = try store.service(name) else { throw try unknownUnit(name) }
        return service
    }

    // MARK: deploy and rollback

    /// Starts a blue-green rollout of `version`. Returns at once with the rollout record;
    /// the rollout goes on in the controller loop. `image` (`deploy --image`) names the
    /// image of a new release of a container service instead of its config's `image:`.
    public func deploy(service name: String, version: String, extraEnv: [String: String], image: String? = nil, principal: Principal = .system, overrideFreeze: String? = nil) async throws -> RolloutRecord {
        let service = try requireService(name)
        guard Self.isValidVersion(version) else {
            throw ControllerError(.invalid, "version \(version.debugDescription) is not a valid label: use 1-64 letters, digits, '.', '_', '-' or '+'")
        }
        if let image {
            guard service.spec.container != nil else {
                throw ControllerError(.invalid, "\(name) runs local processes (`run:`); --image is for services with `image:`")
            }
            if let problem = ImageReference.problem(image) { throw ControllerError(.invalid, "--image: \(problem)") }
        } else if let container = service.spec.container, try store.release(service: name, version: version, creatingWith: nil, now: clock.now()) == nil,
                  let problem = ImageReference.versionProblem(image: container.image, version: version) {
            throw ControllerError(.invalid, problem)
        }
        if let active = try store.activeRollout(service: name) {
            throw ControllerError(.conflict, "rollout \(active.id) of \(name) (to \(active.toVersion)) is still running; wait for it to end or roll back", rolloutID: active.id)
        }
        if service.stableVersion == version {
            throw ControllerError(.conflict, "\(version) is already the stable release of \(name)")
        }
        let secretNames = Set(try secretInfos(unit: service.spec).map(\.name))
        if let clash = extraEnv.keys.sorted().first(where: secretNames.contains) {
            throw ControllerError(.invalid, "\(clash) is a secret of \(name); --set-env would store a value for it in clear text in the release. Set it with `slipway secrets set \(name) \(clash)` instead")
        }
        // A secret that does not open fails the deploy now, before anything starts.
        _ = try secretEnvironment(service: name)
        // Freeze windows and gates of the environment, before anything is recorded.
        let gates = try await admit(service: service, version: version, principal: principal, overrideFreeze: overrideFreeze)
        let now = clock.now()
        if let existing = try store.release(service: name, version: version, creatingWith: nil, now: now) {
            if !extraEnv.isEmpty, existing.extraEnv != extraEnv {
                throw ControllerError(.conflict, "release \(version) of \(name) already exists with other --set-env values; releases are immutable, use a new version label")
            }
            if let image, existing.imageReference != image {
                throw ControllerError(.conflict, "release \(version) of \(name) already exists with image \(existing.imageReference ?? "none"); releases are immutable, use a new version label for \(image)")
            }
        }
        guard let release = try store.release(service: name, version: version, creatingWith: extraEnv, image: image, now: now) else {
            throw ControllerError(.notFound, "cannot create release \(version)")
        }
        let kind: RolloutKind = service.stableVersion == nil ? .initial : .deploy
        return try await begin(kind: kind, service: service, release: release, requestedBy: principal.name, gates: gates)
    }

    /// Puts traffic back on the previous release (or `to`): at once when it is warm,
    /// otherwise by starting it and waiting for health checks.
    public func rollback(service name: String, to: String?) async throws -> RolloutRecord {
        var service = try requireService(name)
        let now = clock.now()
        if let running = try store.activeRollout(service: name) {
            await waitForAppliedActions(of: running.id)
        }
        if let active = try store.activeRollout(service: name) {
            let switched = try store.activeRollouts().first { $0.id == active.id }?.state.switchedAt != nil
            try await abort(rolloutID: active.id, reason: "aborted by a rollback request")
            service = try requireService(name)
            if to == nil || to == service.stableVersion, let aborted = try store.rollout(id: active.id) {
                // Traffic never left the stable release (still starting, or a canary that
                // the abort just took back to 0 %): the abort is the rollback.
                if [.awaitingApproval, .waitingHealthy, .previewing, .progressing, .paused].contains(active.phase) { return aborted }
                if active.phase == .runningHook, !switched { return aborted }
            }
        }
        guard let target = to ?? service.previousVersion else {
            throw ControllerError(.conflict, "\(name) has no previous release to roll back to; name one with --to")
        }
        if target == service.stableVersion {
            throw ControllerError(.conflict, "\(target) is already the stable release of \(name)")
        }
        guard let release = try store.release(service: name, version: target, creatingWith: nil, now: now) else {
            let known = try store.releases(service: name).map(\.version)
            throw ControllerError(.notFound, "\(name) has no release \(target); releases: \(known.joined(separator: ", "))")
        }
        // A release that is not running any more must still have its exact bytes: otherwise
        // the rollback is refused rather than run other code under the old label.
        let running = try store.liveInstances(service: name, version: target).contains { $0.state == .running }
        if !running, let problem = await drivers(release.spec.target).unavailable(release) {
            throw ControllerError(.conflict, "cannot roll \(name) back to \(target): \(problem)")
        }
        return try await begin(kind: .rollback, service: service, release: release)
    }

    /// The machine state a rollout of `release` starts from (strategy, warm or not).
    func prepareState(kind: RolloutKind, service: StoredService, release: ReleaseRecord) async throws -> BlueGreenState {
        let name = service.spec.name
        await refreshHealth()
        let live = try store.liveInstances(service: name, version: release.version).filter { $0.state == .running }
        let warm = live.contains { routerHealth[$0.id]?.healthy == true }
        if !warm, !live.isEmpty {
            // Running but not healthy: start clean.
            try await stopInstances(service: name, version: release.version)
        }
        // The release's own config decides the strategy (it is what is being rolled out).
        let spec = release.spec
        var state = BlueGreenState(kind: kind, targetVersion: release.version, fromVersion: service.stableVersion,
                                   replicas: spec.totalReplicas, warm: warm, spec: spec.strategy.blueGreen, now: clock.now())
        if kind == .deploy, service.stableVersion != nil, let canary = spec.strategy.canary {
            let background = canary.analysis ?? "default"
            var policies = spec.analysis
            if policies["default"] == nil { policies["default"] = .default }
            state.canary = CanaryProgress(spec: canary, policies: policies, backgroundPolicy: background)
        } else if service.stableVersion != nil, let rolling = spec.strategy.rolling,
                  kind == .deploy || (kind == .rollback && !warm && rolling.rollback == .batches) {
            var policies = spec.analysis
            if policies["default"] == nil { policies["default"] = .default }
            state.rolling = RollingProgress(spec: rolling, replicas: spec.totalReplicas, policies: policies)
        } else if kind == .deploy, service.stableVersion != nil, !warm, case .blueGreen(let bg) = spec.strategy, BlueGreenGate.wanted(bg) {
            var policies = spec.analysis
            if policies["default"] == nil { policies["default"] = .default }
            state.gate = BlueGreenGate(spec: bg, policies: policies)
        }
        if !spec.servers.isEmpty, case .blueGreen = spec.strategy {
            // A fleet switches by waves of servers (one wave unless `waves:` says more; a
            // rollback always in one), pausing for a server that does not answer.
            var policies = spec.analysis
            if policies["default"] == nil { policies["default"] = .default }
            let waves = kind == .deploy ? (spec.waves ?? WavesSpec()) : WavesSpec()
            state.waves = WavesProgress(spec: waves, servers: spec.servers, perServer: spec.instancesPerServer,
                                        maxFailedServers: spec.maxFailedHosts, policies: policies)
        }
        state.hooks = try hookProgress(kind: kind, service: service, release: release)
        return state
    }

    func begin(kind: RolloutKind, service: StoredService, release: ReleaseRecord, retriedBy by: String? = nil, retriedFrom: Int64? = nil,
               requestedBy: String? = nil, gates: [GateResult]? = nil) async throws -> RolloutRecord {
        let name = service.spec.name
        if databaseRestores.contains(name) {
            throw ControllerError(.conflict, "the database of \(name) is being restored from a backup; try again when `slipway backups list` shows it restored")
        }
        if release.spec.target == .container {
            // Nothing can start without the engine: say so now instead of failing the rollout later.
            do {
                _ = try await drivers.container.ping()
            } catch {
                throw ControllerError(.unavailable, error.message)
            }
        }
        var state = try await prepareState(kind: kind, service: service, release: release)
        // Environments with approvals: a deploy waits (nothing starts) until approved.
        if kind != .rollback, let policy = service.spec.environment, policy.approvals > 0 {
            let now = clock.now()
            state.phase = .awaitingApproval
            state.approval = ApprovalState(needed: policy.approvals, fourEyes: policy.fourEyes, requestedBy: requestedBy ?? by ?? "slipway",
                                           requestedAt: now, expiresAt: now + policy.approvalTimeout.seconds)
        }
        let id: Int64
        switch Result(catching: { () throws(StoreError) -> Int64 in try store.createRollout(service: name, state: state, requestedBy: requestedBy ?? by, gates: gates) }) {
        case .success(let created):
            id = created
            crashPoint("rollout \(created) created")
        case .failure(let error):
            if error.code == .conflict { throw ControllerError(.conflict, error.message, rolloutID: error.rolloutID) }
            throw error
        }
        logger.info("rollout started", metadata: ["slipway.service": "\(name)", "slipway.rollout": "\(id)", "slipway.version": "\(release.version)", "slipway.kind": "\(kind.rawValue)"])
        var how = state.canary == nil ? "" : " as a canary (\(state.canary!.steps.map(\.label).joined(separator: ", ")))"
        if let rolling = state.rolling { how = " as a rolling update (max_surge \(rolling.surge), max_unavailable \(rolling.unavailable))" }
        if let waves = state.waves, waves.plan.count > 1 { how = " in \(waves.plan.count) waves of servers (\(waves.plan.map(String.init).joined(separator: ", ")) of \(waves.servers.count) switched after each)" }
        try recordEvent(service: name, rolloutID: id, kind: "started",
                              message: "\(kind.rawValue) of \(release.version) started\(how)" + (service.stableVersion.map { " (stable: \($0))" } ?? ""), time: clock.now())
        if let by {
            try store.appendDecision(service: name, rolloutID: id, draft: DecisionDraft(kind: .retried, actor: by, summary: "\(by) retried \(release.version) after rollout \(retriedFrom.map(String.init) ?? "?") failed"), time: clock.now())
        }
        if let approval = state.approval, state.phase == .awaitingApproval {
            try recordEvent(service: name, rolloutID: id, kind: "awaiting_approval",
                                  message: "waiting for \(approval.needed) approval(s)\(approval.fourEyes ? " (four eyes: not from \(approval.requestedBy))" : "") until \(Timestamps.format(approval.expiresAt)): slipway approve \(service.spec.serviceName)" + (service.spec.environmentName.map { " --env \($0)" } ?? ""),
                                  time: clock.now())
        } else {
            try await beginRollout(id: id, unit: name, state: state)
        }
        return try storedRollout(id)
    }

    /// Aborts a running rollout: before the switch the new instances are stopped and
    /// traffic never moves (a canary goes back to 0 % at once); after it, the rollout ends
    /// and a rollback takes over. Recorded as a decision of `by`.
    public func abort(rolloutID: Int64, reason: String, by: String = "system") async throws {
        guard let active = try store.activeRollouts().first(where: { $0.id == rolloutID }) else {
            throw ControllerError(.conflict, "rollout \(rolloutID) is not running")
        }
        if active.state.phase == .awaitingApproval {
            try endUnapproved(id: active.id, service: active.service, state: active.state, reason: reason, actor: by)
            return
        }
        let weight = active.state.canary?.weight
        let back = active.state.fromVersion.map { "all traffic on \($0)" } ?? "nothing switched"
        try store.appendDecision(service: active.service, rolloutID: active.id,
                                 draft: DecisionDraft(kind: .aborted, actor: by, summary: "\(reason)" + (weight.map { " (canary at \($0) %)" } ?? "") + "; \(back)", weight: weight.map { _ in 0 }),
                                 time: clock.now())
        var machine = RolloutMachine(state: active.state)
        try await step(id: active.id, service: active.service, machine: &machine, input: .abort(reason: reason))
    }

    static func isValidVersion(_ v: String) -> Bool {
        !v.isEmpty && v.count <= 64 && v.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-+".contains($0)) }
    }
}
