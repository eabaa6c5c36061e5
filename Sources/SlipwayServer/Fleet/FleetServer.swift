import Foundation
import NIOCore
import SlipwayCore
import SlipwayTargets

/// One server of a fleet as the control plane sees it: the SSH link, Slipway's directory
/// there, and its data plane (router) reached through a forwarded unix socket, so that the
/// same `RouterClient` that talks to this machine's router talks to every server's.
///
/// Layout on the server, under `dir` (absolute once resolved):
///   bundles/ID/slipway, bundles/ID/lib/*.so   what `setup` installed (content-addressed)
///   state/                                     the router's state directory (socket,
///                                              last route table, logs, artifacts)
public actor FleetServer {
    public nonisolated let server: ServerSpec
    public nonisolated let connection: SSHConnection
    /// The absolute directory on the server (resolved on first contact).
    var directory: String?
    public private(set) var lastContact: Double?
    public private(set) var lastError: String?

    public init(server: ServerSpec, options: SSHConnection.Options) {
        self.server = server
        self.connection = SSHConnection(server: server, options: options)
    }

    /// The router's socket, forwarded to this machine.
    public nonisolated var localRouterSocket: String { connection.localSocket("router") }
    public nonisolated var router: RouterClient { RouterClient(socketPath: localRouterSocket, counter: routerCalls) }
    /// Calls to the server's router (tables, health, numbers, the agent) so far.
    public nonisolated let routerCalls = CallCounter()
    /// ssh and scp processes started for the server so far.
    public var sshCommands: Int { get async { await connection.commands } }

    func stateDirectory(_ dir: String) -> String { dir + "/state" }
    func bundleDirectory(_ dir: String, _ bundle: HostBundle) -> String { dir + "/bundles/" + bundle.shortID }

    /// What the server is: its machine, C library and the absolute directory (made if missing).
    struct Facts {
        var machine: String
        var glibc: String
        var directory: String
    }

    func facts() async throws(FleetError) -> Facts {
        let dir = SSHConnection.shellQuote(server.directory)
        let output = try await connection.check(["sh", "-c", "uname -m; getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}'; mkdir -p \(dir) && cd \(dir) && pwd -P"])
        let lines = output.split(separator: "\n").map(String.init)
        guard lines.count >= 3 else {
            throw FleetError(.failed, server: server.id, "unexpected answer from \(server.id) about its machine: \(output.debugDescription)")
        }
        directory = lines[2]
        touch()
        return Facts(machine: lines[0], glibc: lines[1].isEmpty ? "unknown" : lines[1], directory: lines[2])
    }

    /// The absolute directory on the server: known since the first contact, else asked for.
    func resolvedDirectory() async throws(FleetError) -> String {
        if let directory { return directory }
        return try await facts().directory
    }

    /// The server answered: it counts as reachable again.
    func touch() {
        lastContact = Date().timeIntervalSince1970
        lastError = nil
        unreachable = nil
    }

    /// Records a failure (for `servers status`) and passes it on.
    func failed(_ error: FleetError) -> FleetError {
        lastError = error.message
        return error
    }

    // MARK: setup

    public struct SetupReport: Sendable, Codable, Equatable {
        public var server: String
        /// What happened: "installed bundle …", "already current", "router started" …
        public var steps: [String]
        public var build: String
        public var routerPID: Int32
    }

    /// Installs `bundle` on the server (unless it is there) and makes its router run it:
    /// a router of another build hands its listening sockets to the new one and drains
    /// (one too old to hand over is stopped first).
    public func setup(bundle: HostBundle) async throws(FleetError) -> SetupReport {
        do {
            return try await performSetup(bundle: bundle)
        } catch {
            throw failed(error)
        }
    }

    func performSetup(bundle: HostBundle) async throws(FleetError) -> SetupReport {
        var steps: [String] = []
        let facts = try await facts()
        guard facts.machine == bundle.machine else {
            throw FleetError(.versionSkew, server: server.id, "\(server.id) is a \(facts.machine) machine; this slipway is built for \(bundle.machine), so it cannot run there")
        }
        guard facts.glibc == "unknown" || HostBundle.glibc(facts.glibc, satisfies: bundle.glibc) else {
            throw FleetError(.versionSkew, server: server.id, "\(server.id) has the C library \(facts.glibc); this slipway needs \(bundle.glibc) or newer (upgrade the server's OS, or build slipway on an older one)")
        }
        let bundleDir = bundleDirectory(facts.directory, bundle)
        let q = SSHConnection.shellQuote
        let complete = try await connection.run(["test", "-f", bundleDir + "/.complete"])
        if complete.exit == .status(0) {
            steps.append("bundle \(bundle.shortID) already installed")
        } else {
            // Parts are kept by content (DIR/parts/HEX) and hard-linked into each bundle, so
            // a new build copies only what changed (usually the slipway binary alone).
            let parts = facts.directory + "/parts"
            let hexes = bundle.parts.map { String($0.digest.dropFirst("sha256:".count)) }
            try await connection.check(["mkdir", "-p", parts, bundleDir + "/lib", stateDirectory(facts.directory) + "/logs"])
            let listing = try await connection.check(["sh", "-c", "cd \(q(parts)) && for h in \(hexes.joined(separator: " ")); do [ -f \"$h\" ] || echo \"$h\"; done"])
            let missing = Set(listing.split(separator: "\n").map(String.init))
            let copy = bundle.parts.filter { missing.contains(String($0.digest.dropFirst("sha256:".count))) }
            for part in copy {
                try await connection.upload(part.path, to: "\(parts)/\(part.digest.dropFirst("sha256:".count)).part")
            }
            if !copy.isEmpty {
                // Every copied part checked on the server before it counts.
                let sums = try await connection.check(["sha256sum"] + copy.map { "\(parts)/\($0.digest.dropFirst("sha256:".count)).part" })
                for part in copy {
                    let hex = part.digest.dropFirst("sha256:".count)
                    guard sums.contains("\(hex)  \(parts)/\(hex).part") else {
                        throw FleetError(.failed, server: server.id, "\(part.name) arrived damaged on \(server.id) (SHA-256 differs from \(part.digest)); run setup again")
                    }
                }
                let moves = copy.map { "mv -f \(q("\(parts)/\($0.digest.dropFirst("sha256:".count)).part")) \(q("\(parts)/\($0.digest.dropFirst("sha256:".count))"))" }.joined(separator: " && ")
                try await connection.check(["sh", "-c", moves])
            }
            let links = bundle.parts.map { "ln -f \(q("\(parts)/\($0.digest.dropFirst("sha256:".count))")) \(q("\(bundleDir)/\($0.name)"))" }.joined(separator: " && ")
            try await connection.check(["sh", "-c", "\(links) && chmod 0755 \(q(bundleDir + "/slipway")) && touch \(q(bundleDir + "/.complete"))"])
            let copiedBytes = copy.reduce(Int64(0)) { $0 + $1.bytes }
            steps.append("installed bundle \(bundle.shortID) (\(bundle.parts.count) files; copied \(copy.count), \(ByteCount.format(copiedBytes)))")
        }
        let identity = try await ensureRouter(bundle: bundle, directory: facts.directory, steps: &steps)
        touch()
        return SetupReport(server: server.id, steps: steps, build: bundle.id, routerPID: identity.pid)
    }

    /// Stops the server's router (SIGTERM, SIGKILL after 10 s), as `slipway down` does;
    /// returns its pid, nil when none ran.
    public func stopRouter() async throws(FleetError) -> Int32? {
        let dir = try await resolvedDirectory()
        guard let identity = try? await identity(directory: dir) else { return nil }
        try await killRouter(identity.pid)
        try? FileManager.default.removeItem(atPath: localRouterSocket)
        return identity.pid
    }

    func killRouter(_ pid: Int32) async throws(FleetError) {
        try await connection.check(["sh", "-c", "kill \(pid) 2>/dev/null; for i in $(seq 100); do kill -0 \(pid) 2>/dev/null || exit 0; sleep 0.1; done; kill -9 \(pid) 2>/dev/null; exit 0"])
    }

    /// The router runs `bundle`: left alone when it does, otherwise (re)started.
    func ensureRouter(bundle: HostBundle, directory: String, steps: inout [String]) async throws(FleetError) -> RouterClient.Identity {
        let state = stateDirectory(directory)
        try await connection.check(["mkdir", "-p", state + "/logs"])
        var handingOver: RouterClient.Identity?
        if let identity = try? await identity(directory: directory) {
            if identity.build == bundle.id {
                steps.append("router \(identity.pid) already runs this build")
                return identity
            }
            let described = "build \(identity.build.map { String($0.dropFirst(7).prefix(16)) } ?? "unknown"), version \(identity.version ?? "unknown")"
            let canHandOver = try await connection.run(["test", "-S", state + "/router-handover.sock"]).exit == .status(0)
            if canHandOver {
                // The new router takes the listening sockets over; the old one drains and
                // exits (see HandOver): no gap on this server.
                handingOver = identity
                steps.append("router \(identity.pid) (\(described)) hands its listeners over")
            } else {
                // A router from before the hand-over: stop it (the new router reloads the
                // last route table at start).
                try await killRouter(identity.pid)
                steps.append("stopped router \(identity.pid) (\(described))")
            }
        }
        let bundleDir = bundleDirectory(directory, bundle)
        let q = SSHConnection.shellQuote
        let start = "cd \(q(state)) && LD_LIBRARY_PATH=\(q(bundleDir + "/lib")) SLIPWAY_ROLE=router setsid \(q(bundleDir + "/slipway")) router --state-dir \(q(state)) --agent --build \(q(bundle.id)) </dev/null >>\(q(state + "/logs/router.log")) 2>&1 &"
        try await connection.check(["sh", "-c", start])
        let deadline = ContinuousClock.now + .seconds(20)
        var last = ""
        while ContinuousClock.now < deadline {
            do {
                let identity = try await self.identity(directory: directory)
                if identity.build == bundle.id {
                    steps.append(handingOver.map { "started router \(identity.pid), which took over from router \($0.pid)" } ?? "started router \(identity.pid)")
                    return identity
                }
                last = "it answers with build \(identity.build ?? "none")"
            } catch {
                last = error.message
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let tail = (try? await connection.check(["tail", "-n", "15", state + "/logs/router.log"])) ?? ""
        throw FleetError(.failed, server: server.id, "the router on \(server.id) did not come up within 20s (\(last)); its log ends with:\n\(tail)")
    }

    /// Forwards the router's socket (if needed) and asks it who it is.
    func identity(directory: String) async throws(FleetError) -> RouterClient.Identity {
        let remote = stateDirectory(directory) + "/router.sock"
        if !FileManager.default.fileExists(atPath: localRouterSocket) {
            try await connection.forward(local: localRouterSocket, remote: remote)
        }
        do {
            return try await router.identity(timeout: .seconds(3))
        } catch {
            // A stale forward (the master restarted): forward again once.
            try await connection.forward(local: localRouterSocket, remote: remote)
            do {
                return try await router.identity(timeout: .seconds(3))
            } catch {
                throw FleetError(.failed, server: server.id, "no router answers on \(server.id) at \(remote): \(error)")
            }
        }
    }

    /// Connects (SSH, forward) and returns the router's identity.
    public func connect() async throws(FleetError) -> RouterClient.Identity {
        do {
            let identity = try await identity(directory: try await resolvedDirectory())
            routerGeneration = max(routerGeneration, identity.generation)
            touch()
            return identity
        } catch {
            throw failed(error)
        }
    }

    // MARK: status

    public struct Status: Sendable, Codable, Equatable {
        public var server: String
        public var url: String
        public var roles: [String]
        public var reachable: Bool
        public var routerPID: Int32?
        public var version: String?
        public var build: String?
        /// Whether the router runs the control plane's own bundle.
        public var current: Bool
        /// Why not, in words (skew, unreachable, no router).
        public var problem: String?
        public var healthy: Int
        public var endpoints: Int
        public var lastContact: Double?
        /// Requests the server's router finished over the last minute, and how many were 5xx.
        public var requests: UInt64?
        public var errors: UInt64?
        /// The server's wall clock minus the control plane's, in seconds, measured over one
        /// call to its router (nil: not measured); `clockUncertainty` is half that call's
        /// round trip, the most the measurement can be off by.
        public var clockSkew: Double?
        public var clockUncertainty: Double?
    }

    public func status(expectedBuild: String?) async -> Status {
        var status = Status(server: server.id, url: server.url, roles: server.roles, reachable: false, current: false, healthy: 0, endpoints: 0)
        do {
            let identity = try await connect()
            status.reachable = true
            status.routerPID = identity.pid
            status.version = identity.version
            status.build = identity.build
            status.current = expectedBuild != nil && identity.build == expectedBuild
            if !status.current {
                status.problem = "version skew: the router runs \(identity.version ?? "an unknown version") build \(identity.build.map { String($0.dropFirst(7).prefix(16)) } ?? "unknown"), the control plane \(SlipwayVersion.current) build \(expectedBuild.map { String($0.dropFirst(7).prefix(16)) } ?? "unknown"); run `slipway servers setup`"
            }
            // The clock: one more call, timed, after the connection is up (its set-up would
            // widen the round trip).
            let sent = Date().timeIntervalSince1970
            if let answer = try? await router.identity(timeout: .seconds(3)), let time = answer.time {
                let received = Date().timeIntervalSince1970
                status.clockSkew = time - (sent + received) / 2
                status.clockUncertainty = (received - sent) / 2
            }
            if let health = try? await router.health() {
                status.endpoints = health.count
                status.healthy = health.filter(\.healthy).count
            }
        } catch {
            status.reachable = error.code != .unreachable && error.code != .hostKeyUnknown && error.code != .hostKeyChanged && error.code != .authentication
            status.problem = error.message
        }
        status.lastContact = lastContact
        return status
    }

    // MARK: route tables

    /// Why the server could not be reached last time (nil: it answered). While set, calls
    /// do not wait for it: tables are kept for it and a background task delivers the latest
    /// one as soon as it answers again.
    public private(set) var unreachable: String?
    var pendingTable: RouteTable?
    var reconnecting: Task<Void, Never>?
    /// The newest table generation the server's router confirmed it applied.
    public private(set) var acknowledgedGeneration: UInt64 = 0

    /// Waits until the server's router confirmed a table of `generation` or newer (true),
    /// for at most `limit` (false: it has not; the background reconnect still delivers it).
    public func acknowledges(_ generation: UInt64, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while acknowledgedGeneration < generation {
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    func acknowledge(_ generation: UInt64) {
        acknowledgedGeneration = max(acknowledgedGeneration, generation)
    }

    /// The newest table generation the server's router said it runs (its identity, its
    /// answers to pushes): the control plane allocates generations above it, since a
    /// router ignores tables older than the one it runs.
    public private(set) var routerGeneration: UInt64 = 0
    /// The newest generation this control plane sent to the server.
    var sentGeneration: UInt64 = 0
    /// Set when the router answered a push with a generation this control plane never
    /// sent, newer than the table it was given: the router ignored that table (it ran one
    /// of another control plane, or of this one before its state was restored from an
    /// older backup). `pushRoutes` sends the table again above it.
    public private(set) var newerForeignGeneration: UInt64?

    /// Takes a router's answer to a push of `table`: nil when the router runs `table` or a
    /// newer table of this control plane (acknowledged), else what went wrong.
    func took(_ table: RouteTable, answer generation: UInt64) -> String? {
        routerGeneration = max(routerGeneration, generation)
        if generation > sentGeneration {
            newerForeignGeneration = generation
            return "server \(server.id): its router runs route table generation \(generation), newer than any this control plane sent (\(table.generation)), and ignored the new table: another control plane drove it, or this one's state is older than the router's; the table is sent again above it"
        }
        newerForeignGeneration = nil
        acknowledge(generation)
        return nil
    }

    /// Sends `table` to the server's router. Returns nil when it applied it, else what went
    /// wrong; an unreachable server is not waited for (see `unreachable`).
    public func push(_ table: RouteTable) async -> String? {
        if let problem = await stage(table) { return problem }
        return await commit(table.generation)
    }

    /// The table staged on the server, waiting for `commit`.
    var stagedTable: RouteTable?

    /// The prepare step of a switch: the server's router receives and decodes `table`
    /// without applying it. Returns nil when staged, else what went wrong (then the table
    /// waits in `pendingTable` for the server to answer again).
    public func stage(_ table: RouteTable) async -> String? {
        sentGeneration = max(sentGeneration, table.generation)
        if let unreachable, reconnecting != nil {
            keepPending(table)
            startReconnecting()
            return "server \(server.id) is unreachable (\(unreachable)); it gets the current route table when it answers again"
        }
        do {
            if (try? await router.stage(table)) == nil {
                // No forward yet, or a stale one: connect (and forward) again, then retry once.
                _ = try await connect()
                try await router.stage(table)
            }
            // Pushes overlap (the controller's calls interleave at every await): an older
            // table whose prepare finished last must not replace a newer one.
            if table.generation > stagedTable?.generation ?? 0 { stagedTable = table }
            return nil
        } catch {
            return failed(table, error)
        }
    }

    /// The commit step: returns nil once the server's router confirmed a table of
    /// `generation` or newer, else what went wrong. It applies the newest staged table —
    /// this push's, or a newer push's that was prepared meanwhile (it holds every change of
    /// the older one) — or waits for a commit already under way that covers `generation`.
    /// Should the commit not arrive (the router restarted since the prepare, or a newer
    /// prepare replaced the router's staged table), the table is sent whole.
    public func commit(_ generation: UInt64) async -> String? {
        while acknowledgedGeneration < generation {
            if let inFlight = committing {
                let problem = await inFlight.task.value
                if inFlight.generation >= generation { return problem }
                continue
            }
            guard let table = stagedTable, table.generation >= generation else {
                return "server \(server.id): no route table of generation \(generation) was staged"
            }
            stagedTable = nil
            let task = Task {
                let problem = await self.apply(staged: table)
                self.committing = nil
                return problem
            }
            committing = (table.generation, task)
            return await task.value
        }
        return nil
    }

    /// The commit under way (at most one at a time: a commit starts only when none is),
    /// with the generation it applies; cleared by the commit itself when it ends.
    var committing: (generation: UInt64, task: Task<String?, Never>)?

    func apply(staged table: RouteTable) async -> String? {
        do {
            let reply: (generation: UInt64, failures: [ListenFailure])
            if let committed = try? await router.commit(generation: table.generation) {
                reply = committed
            } else if let applied = try? await router.apply(table) {
                reply = applied
            } else {
                // The forward may be stale (or the answer slow on a busy server): connect
                // (and forward) again, then send the table whole once more.
                _ = try await connect()
                reply = try await router.apply(table)
            }
            touch()
            if let ignored = took(table, answer: reply.generation) { return ignored }
            return reply.failures.first.map { "server \(server.id) cannot listen for \($0.service): \($0.message)" }
        } catch {
            return failed(table, error)
        }
    }

    /// Artifacts (digests) the server's store is known to hold.
    var heldArtifacts: Set<String> = []

    /// Health reads in a row that failed.
    var failedHealthReads = 0

    /// The controller's health read of the server's router: nil when it failed. Two failures
    /// in a row (one can be a slow answer on a busy machine) count the server unreachable.
    public func readHealth() async -> [EndpointHealth]? {
        do {
            let health = try await router.health()
            failedHealthReads = 0
            return health
        } catch {
            // No forward yet (the server was not connected since the control plane started):
            // not a sign of an outage; the next push connects it.
            guard FileManager.default.fileExists(atPath: localRouterSocket) else { return nil }
            failedHealthReads += 1
            if failedHealthReads >= 2 { markUnreachable("\(error)") }
            return nil
        }
    }

    /// Counts the server unreachable (a call over SSH failed) until it answers again.
    public func markUnreachable(_ why: String) {
        unreachable = why
        lastError = why
        startReconnecting()
    }

    /// Counts the server unreachable and keeps `table` for it until it answers again.
    func failed(_ table: RouteTable, _ error: any Error) -> String {
        unreachable = "\(error)"
        lastError = "\(error)"
        keepPending(table)
        startReconnecting()
        return "server \(server.id): \(error)"
    }

    /// Keeps `table` for the background reconnect unless a newer one waits already.
    func keepPending(_ table: RouteTable) {
        if table.generation > pendingTable?.generation ?? 0 { pendingTable = table }
    }

    func startReconnecting() {
        guard reconnecting == nil else { return }
        reconnecting = Task { await self.reconnect() }
    }

    /// Until the server answers: connect, deliver the newest pending table, then count it
    /// reachable again. Backs off from 0.5 s to 5 s.
    func reconnect() async {
        var delay = Duration.milliseconds(500)
        while !Task.isCancelled {
            do {
                _ = try await connect()
                while let table = pendingTable {
                    let answer = try await router.apply(table).generation
                    if let ignored = took(table, answer: answer) { lastError = ignored }
                    if pendingTable?.generation == table.generation { pendingTable = nil }
                }
                unreachable = nil
                failedHealthReads = 0
                reconnecting = nil
                return
            } catch {
                lastError = "\(error)"
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        reconnecting = nil
    }

    public func close() async {
        reconnecting?.cancel()
        reconnecting = nil
        await connection.close()
        try? FileManager.default.removeItem(atPath: localRouterSocket)
    }
}
