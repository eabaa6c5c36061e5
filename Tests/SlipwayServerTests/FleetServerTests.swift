import Foundation
import SlipwayCore
import SlipwayServer
import SlipwayTargets
import SlipwayTesting
import Testing

/// Installing Slipway's data plane on fleet servers (network namespaces with real sshd's,
/// scripts/test-hosts.sh): the bundle (the built `slipway` and the libraries it links)
/// copied and checked, the router started inside the server's namespace with its build,
/// left alone when current, replaced when not, and skew named by `status`.
@Suite(.serialized) struct FleetServerTests {
    let hosts: TestHosts
    let dir: TemporaryDirectory

    init() throws {
        hosts = try TestHosts.make()
        dir = try TemporaryDirectory(prefix: "fleet-setup")
    }

    func fleetServer(_ index: Int) -> FleetServer {
        FleetServer(server: hosts.server(index, base: dir.path), options: .init(configFile: hosts.sshConfig, socketDirectory: dir.file("s")))
    }

    /// Runs `body`, then kills what it started on the servers (routers run in their own
    /// session) and closes the SSH masters, whether it passed or not.
    func withCleanup(_ servers: [FleetServer], _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await cleanUp(servers)
            throw error
        }
        await cleanUp(servers)
    }

    func cleanUp(_ servers: [FleetServer]) async {
        for server in servers { await server.close() }
        stopRouters()
        dir.remove()
    }

    func stopRouters() {
        for index in 0..<2 {
            if let pid = try? String(contentsOfFile: dir.file("host\(index + 1)/state/router.pid"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
               let value = Int32(pid) {
                kill(value, SIGKILL)
            }
        }
    }

    @Test func setupInstallsTheBundleAndStartsTheRouterOnTheServer() async throws {
        let servers = [fleetServer(0), fleetServer(1)]
        try await withCleanup(servers) {
            let bundle = try await HostBundle.make(executable: try BuiltProducts.path("slipway"))
            #expect(bundle.libraries.contains { $0.name == "lib/libswiftCore.so" }, "the Swift runtime ships with the binary")
            #expect(!bundle.libraries.contains { $0.name == "lib/libc.so.6" }, "the C library does not")

            for index in 0..<2 {
                let server = servers[index]
                let report = try await server.setup(bundle: bundle)
                #expect(report.steps.first?.hasPrefix("installed bundle \(bundle.shortID)") == true, "\(report.steps)")
                #expect(report.steps.last == "started router \(report.routerPID)")
                // The router runs inside the server's namespace, from the installed bundle.
                let namespace = try await runCommand("/usr/sbin/ip", ["netns", "identify", "\(report.routerPID)"])
                #expect(namespace.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == hosts.namespaces[index])
                let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(report.routerPID)/exe")
                #expect(exe == dir.file("host\(index + 1)/bundles/\(bundle.shortID)/slipway"))
                #expect(try ArtifactStore.digest(file: exe).digest == bundle.binary.digest)

                // Again: nothing to copy, nothing to restart.
                let again = try await server.setup(bundle: bundle)
                #expect(again.steps == ["bundle \(bundle.shortID) already installed", "router \(report.routerPID) already runs this build"])

                let status = await server.status(expectedBuild: bundle.id)
                #expect(status.reachable && status.current && status.problem == nil, "\(status)")
                #expect(status.routerPID == report.routerPID && status.version == SlipwayVersion.current && status.build == bundle.id)
                // The server's clock, measured over a call to its router: the namespaces share
                // this machine's clock, so the skew is within the measurement's uncertainty
                // plus a little scheduling slack.
                let skew = try #require(status.clockSkew), uncertainty = try #require(status.clockUncertainty)
                #expect(uncertainty >= 0 && uncertainty < 3 && abs(skew) <= uncertainty + 0.05, "skew \(skew) ± \(uncertainty)")

                // The router outlives the control plane's connection.
                await server.close()
                #expect(kill(report.routerPID, 0) == 0)
                let back = try await server.connect()
                #expect(back.pid == report.routerPID)
                await server.close()
            }
        }
    }

    @Test func skewIsNamedAndSetupReplacesTheRouter() async throws {
        let server = fleetServer(0)
        try await withCleanup([server]) {
            let bundle = try await HostBundle.make(executable: try BuiltProducts.path("slipway"))
            let first = try await server.setup(bundle: bundle)

            // A control plane of another build sees the skew…
            var other = bundle
            other.id = "sha256:" + String(repeating: "e", count: 64)
            let skewed = await server.status(expectedBuild: other.id)
            #expect(skewed.reachable && !skewed.current)
            #expect(skewed.problem?.contains("version skew") == true && skewed.problem?.contains("slipway servers setup") == true, "\(skewed.problem ?? "")")

            // …and its setup installs its bundle and replaces the router.
            let replaced = try await server.setup(bundle: other)
            // The old router hands its listeners to the new one, then drains and exits.
            #expect(replaced.steps.contains { $0.hasPrefix("router \(first.routerPID) (") && $0.hasSuffix("hands its listeners over") }, "\(replaced.steps)")
            #expect(replaced.steps.last == "started router \(replaced.routerPID), which took over from router \(first.routerPID)", "\(replaced.steps)")
            // Its parts are the same files: nothing is copied again, only linked.
            #expect(replaced.steps.first == "installed bundle \(other.shortID) (\(bundle.parts.count) files; copied 0, 0 B)", "\(replaced.steps)")
            #expect(replaced.routerPID != first.routerPID)
            _ = try await eventually("the old router to drain and exit", timeout: .seconds(60)) { kill(first.routerPID, 0) != 0 ? true : nil }
            #expect(await server.status(expectedBuild: other.id).current)
        }
    }

    @Test func aServerOfAnotherMachineKindIsRefused() async throws {
        let server = fleetServer(1)
        try await withCleanup([server]) {
            var bundle = try await HostBundle.make(executable: try BuiltProducts.path("slipway"))
            bundle.machine = "riscv64"
            let error = await #expect(throws: FleetError.self) { try await server.setup(bundle: bundle) }
            #expect(error?.message.contains("this slipway is built for riscv64") == true, "\(error?.message ?? "")")
            #expect(HostBundle.glibc("2.36", satisfies: "2.31") && !HostBundle.glibc("2.31", satisfies: "2.36") && HostBundle.glibc("2.36", satisfies: "2.36"))
        }
    }

    /// Installs this build on the server, starts its router and returns the generation of
    /// the table it serves.
    func setUpRouter(on server: FleetServer) async throws -> UInt64 {
        let bundle = try await HostBundle.make(executable: try BuiltProducts.path("slipway"))
        _ = try await server.setup(bundle: bundle)
        return try await server.router.routes().generation
    }

    @Test func aStagedTableIsAppliedOnlyByItsCommit() async throws {
        let server = fleetServer(0)
        try await withCleanup([server]) {
            let before = try await setUpRouter(on: server)

            // Prepare: the router has the table but does not serve it.
            #expect(await server.stage(RouteTable(generation: before + 10)) == nil)
            #expect(try await server.router.routes().generation == before)
            // Commit: now it does.
            #expect(await server.commit(before + 10) == nil)
            #expect(try await server.router.routes().generation == before + 10)

            // A newer prepare overtakes an older commit: that commit applies the newer table
            // (it holds the older one's changes) and returns only once the router runs it;
            // the newer table's own commit then finds it done.
            #expect(await server.stage(RouteTable(generation: before + 20)) == nil)
            #expect(await server.commit(before + 15) == nil)
            #expect(try await server.router.routes().generation == before + 20, "a commit that returned is served")
            #expect(await server.commit(before + 20) == nil)
            #expect(try await server.router.routes().generation == before + 20)

            // The router refuses a commit of a table it does not hold.
            let error = await #expect(throws: RouterClient.Failure.self) { _ = try await server.router.commit(generation: before + 30) }
            #expect(error?.description.contains("409") == true, "\(error?.description ?? "")")
        }
    }

    /// Pushes overlap: the controller's calls interleave at every await, so a prepare or a
    /// commit of another push can come between a push's prepare and its commit. Whatever
    /// the order, a commit returns only once the router serves its table or a newer one,
    /// and an older table never replaces a newer one.
    @Test func overlappingPushesNeverLeaveTheRouterOnAnOlderTable() async throws {
        let server = fleetServer(0)
        try await withCleanup([server]) {
            let before = try await setUpRouter(on: server)

            // The older prepare finishes last: the newer table stays staged (the router's
            // staged slot holds the older one, so the commit sends the newer table whole).
            #expect(await server.stage(RouteTable(generation: before + 20)) == nil)
            #expect(await server.stage(RouteTable(generation: before + 10)) == nil)
            #expect(await server.commit(before + 20) == nil)
            #expect(try await server.router.routes().generation == before + 20)
            #expect(await server.commit(before + 10) == nil, "a newer table is served already")
            #expect(try await server.router.routes().generation == before + 20)

            // Commits of two pushes at once, the newer one prepared before the older one
            // commits: both return once the router runs the newer table, whichever applies it.
            #expect(await server.stage(RouteTable(generation: before + 30)) == nil)
            #expect(await server.stage(RouteTable(generation: before + 40)) == nil)
            async let older = server.commit(before + 30)
            async let newer = server.commit(before + 40)
            let problems = await [older, newer]
            #expect(problems == [nil, nil])
            #expect(await server.acknowledgedGeneration == before + 40)
            #expect(try await server.router.routes().generation == before + 40)

            // Many pushes interleaved (prepare and commit each, in parallel): every commit
            // that returned nil is confirmed by the router, and the last table wins.
            let generations = (1...12).map { before + 100 + UInt64($0) }
            let results = await withTaskGroup(of: (UInt64, String?, UInt64).self) { group in
                for generation in generations {
                    group.addTask {
                        if let problem = await server.stage(RouteTable(generation: generation)) { return (generation, problem, 0) }
                        let problem = await server.commit(generation)
                        // What the router serves the moment the commit returned.
                        let serving = (try? await server.router.routes().generation) ?? 0
                        return (generation, problem, serving)
                    }
                }
                var all: [(UInt64, String?, UInt64)] = []
                for await result in group { all.append(result) }
                return all
            }
            for (generation, problem, serving) in results {
                #expect(problem == nil, "generation \(generation): \(problem ?? "")")
                #expect(serving >= generation, "the commit of \(generation) returned while the router served \(serving)")
            }
            #expect(try await server.router.routes().generation == generations.last!)
        }
    }

    /// A commit that cannot reach the router over its forward (gone between the prepare and
    /// the commit) forwards again and sends the table whole before it returns: the switch
    /// is confirmed by the server, not left to the background reconnect.
    @Test func aCommitWhoseForwardBrokeIsStillConfirmedBeforeItReturns() async throws {
        let server = fleetServer(0)
        try await withCleanup([server]) {
            let before = try await setUpRouter(on: server)
            #expect(await server.stage(RouteTable(generation: before + 10)) == nil)
            try FileManager.default.removeItem(atPath: server.localRouterSocket)

            #expect(await server.commit(before + 10) == nil)
            #expect(await server.unreachable == nil)
            #expect(await server.acknowledgedGeneration == before + 10)
            #expect(try await server.router.routes().generation == before + 10)
            #expect(await server.acknowledges(before + 10, within: .zero))
            #expect(await server.acknowledges(before + 11, within: .milliseconds(50)) == false)
        }
    }

    /// A router that runs a newer table than this control plane ever sent (another control
    /// plane drove it, or this one's state was restored from an older backup) ignores an
    /// older one: the push says so instead of counting the router's answer as a
    /// confirmation, and the newer generation is known, so that the next table goes above it.
    @Test func aRouterRunningANewerTableOfAnotherControlPlaneIsNotCountedAsHavingTakenOurs() async throws {
        let other = fleetServer(0)
        let ours = fleetServer(0)
        try await withCleanup([other, ours]) {
            let before = try await setUpRouter(on: other)
            #expect(await other.push(RouteTable(generation: before + 50)) == nil)

            let problem = await ours.push(RouteTable(generation: before + 3))
            #expect(problem?.contains("runs route table generation \(before + 50), newer than any this control plane sent (\(before + 3)), and ignored the new table") == true, "\(problem ?? "nil")")
            #expect(await ours.newerForeignGeneration == before + 50)
            #expect(await ours.routerGeneration == before + 50)
            #expect(await ours.acknowledges(before + 3, within: .milliseconds(50)) == false, "an ignored table is not confirmed")
            #expect(try await ours.router.routes().generation == before + 50)

            // Above it, the table is taken and confirmed.
            #expect(await ours.push(RouteTable(generation: before + 51)) == nil)
            #expect(await ours.newerForeignGeneration == nil)
            #expect(await ours.acknowledges(before + 51, within: .zero))
            #expect(try await ours.router.routes().generation == before + 51)
        }
    }
}
