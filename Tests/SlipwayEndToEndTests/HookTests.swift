import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Deploy hooks with the real binary: small shell scripts that record what answered the
/// service's URL when they ran, so the order is checked against real traffic.
@Suite(.serialized) struct HookTests {
    /// The hello service deployed as v1 without hooks, then `hooks` applied (the next
    /// deploy runs them; hooks never ran for v1).
    func withHookedHello(_ hooks: String, replicas: Int = 1, strategy: String? = nil, environment: [String: String]? = nil,
                         _ body: (SlipwayHarness, Int) async throws -> Void) async throws {
        try await withHello(replicas: replicas, strategy: strategy, environment: environment) { h, port in
            let (config, _) = try h.helloConfig(listenPort: port, replicas: replicas, extra: hooks, strategy: strategy)
            let apply = try await h.cli(["apply", "-f", config])
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
            try await body(h, port)
        }
    }

    /// Makes an executable script in the harness directory (the config's directory, where
    /// hooks run by default).
    func script(_ h: SlipwayHarness, _ name: String, _ body: String) throws {
        let path = try h.directory.write(name, "#!/bin/sh\n" + body + "\n")
        #expect(chmod(path, 0o755) == 0)
    }

    /// The `X-Version` that answers URL ($1) with optional header ($2), in shell.
    let versionOf = """
        version_of() { curl -s -o /dev/null -D - ${2:+-H "$2"} "$1" | tr -d '\\r' | sed -n 's/^[Xx]-[Vv]ersion: //p'; }
        """

    /// The messages of the service's events, oldest first.
    func events(_ h: SlipwayHarness, kind: String? = nil) async throws -> [String] {
        let reply = try await h.api("/v1/services/hello/events?limit=1000")
        let list = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]] ?? []
        return list.filter { kind == nil || $0["kind"] as? String == kind }.compactMap { $0["message"] as? String }
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func hooksRunInOrderAgainstTrafficWithTheirEnvironmentAndSecretsRedacted() async throws {
        try await withHookedHello("""
            hooks:
              pre_deploy: { run: ["./pre.sh"], timeout: 20s, env: { HOOK_NOTE: "from-config" } }
              smoke: { run: ["./smoke.sh"], timeout: 20s }
              post_deploy: { run: ["./post.sh"], timeout: 20s }
            """) { h, port in
            let log = h.directory.path + "/order.log"
            let url = "http://127.0.0.1:\(port)/"
            #expect(try await h.cli(["secrets", "set", "hello", "API_KEY"], stdin: "s3cr3t-hook-value").status == 0)
            try script(h, "pre.sh", versionOf + """

                echo "pre_deploy plain=$(version_of \(url)) pinned=$(version_of \(url) "X-Slipway-Version: $SLIPWAY_VERSION") env=$SLIPWAY_SERVICE,$SLIPWAY_ENVIRONMENT,$SLIPWAY_VERSION,$SLIPWAY_FROM_VERSION,$HOOK_NOTE" >> \(log)
                echo "migrating with key $API_KEY"
                """)
            try script(h, "smoke.sh", versionOf + """

                echo "smoke plain=$(version_of \(url)) preview=$(version_of "$SLIPWAY_PREVIEW_URL/" "$SLIPWAY_PREVIEW_HEADER")" >> \(log)
                """)
            try script(h, "post.sh", versionOf + """

                echo "post_deploy plain=$(version_of \(url)) rollout=$SLIPWAY_ROLLOUT" >> \(log)
                curl -s -D - -o /dev/null -w 'curl: %{http_code} %{errormsg}' \(url) > \(log).post 2>&1
                """)

            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let recorded = lines(log)
            #expect(recorded.count == 3, "\(recorded)")
            // pre_deploy: v2 healthy and reachable only with the pin; all traffic on v1.
            #expect(recorded.first == "pre_deploy plain=v1 pinned=v2 env=hello,,v2,v1,from-config")
            #expect(recorded.dropFirst().first == "smoke plain=v1 preview=v2")
            let allEvents = try await events(h)
            #expect(recorded.last?.hasPrefix("post_deploy plain=v2 rollout=") == true, "\(recorded); a second request from the hook: \((try? String(contentsOfFile: log + ".post", encoding: .utf8)) ?? "-"); events: \(allEvents)")
            #expect(try await h.versionAt(port: port) == "v2")

            let all = try await events(h)
            #expect(all.contains { $0.contains("migrating with key [secret API_KEY]") }, "\(all)")
            #expect(!all.contains { $0.contains("s3cr3t-hook-value") })
            let passed = try await events(h, kind: "hook_passed")
            #expect(passed.map { $0.components(separatedBy: " ").first ?? "" } == ["pre_deploy", "smoke", "post_deploy"])
            let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
            #expect(history.first?.phase == .succeeded)
        }
    }

    /// A router slow to take its table (every push held 1.5 s, as on a loaded machine): the
    /// rollout does not drain or run post_deploy until the switch's push returned. The
    /// switch follows the smoke hook, so it is made by the hook's result, outside the loop's
    /// tick; the control plane is an actor, and the tick used to step the rollout from the
    /// persisted `draining` state while the switch's push was still awaited (seen in CI:
    /// post_deploy saw v1, and "traffic switched" was recorded after "rollout succeeded").
    @Test func aSlowRoutePushHoldsTheRolloutUntilTheSwitchIsApplied() async throws {
        try await withHookedHello("""
            hooks:
              smoke: { run: ["./smoke.sh"], timeout: 20s }
              post_deploy: { run: ["./post.sh"], timeout: 20s }
            """, environment: ["SLIPWAY_FAULT_PUSH_DELAY_MS": "1500"]) { h, port in
            let log = h.directory.path + "/order.log"
            try script(h, "smoke.sh", "exit 0")
            try script(h, "post.sh", versionOf + """

                echo "post_deploy plain=$(version_of http://127.0.0.1:\(port)/)" >> \(log)
                """)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"], timeout: .seconds(180))
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let all = try await events(h)
            #expect(lines(log) == ["post_deploy plain=v2"], "\(lines(log)); events: \(all)")
            let switched = all.lastIndex { $0.hasPrefix("traffic switched to v2") }
            let drained = all.lastIndex { $0 == "previous release drained" }
            let post = all.lastIndex { $0.hasPrefix("running the post_deploy hook") }
            let succeeded = all.lastIndex { $0.hasPrefix("rollout to v2 succeeded") }
            #expect(switched != nil && drained != nil && post != nil && succeeded != nil, "\(all)")
            if let switched, let drained, let post, let succeeded {
                #expect(switched < drained && drained < post && post < succeeded, "events out of order: \(all)")
            }
        }
    }

    @Test func aFailingSmokeAbortsWithTheOldReleaseServingAndExplains() async throws {
        try await withHookedHello("""
            hooks:
              smoke: { run: ["./smoke.sh"], timeout: 20s }
            """) { h, port in
            try script(h, "smoke.sh", """
                echo "GET /api/orders"
                echo "expected 200, got 500 from $SLIPWAY_VERSION" >&2
                exit 7
                """)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 1)
            #expect(deploy.stdout.contains("smoke hook failed: exit 7"), "\(deploy.stdout)")
            #expect(deploy.stdout.contains("expected 200, got 500 from v2"), "the output tail is shown: \(deploy.stdout)")
            #expect(try await h.versionAt(port: port) == "v1")
            let why = try await h.cli(["why", "hello"])
            #expect(why.stdout.contains("aborted by hook: not switched to v2: smoke hook failed: exit 7"), "\(why.stdout)")
            let output = try await events(h, kind: "hook_output")
            #expect(output.contains { $0.contains("GET /api/orders") && $0.contains("expected 200, got 500") }, "\(output)")
            _ = try await eventually("the aborted release's instances to stop") {
                let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
                return s.instances.contains { $0.version == "v2" } ? nil : true
            }
        }
    }

    @Test func aHangingHookIsKilledAtItsTimeoutWithItsChildren() async throws {
        try await withHookedHello("""
            hooks:
              pre_deploy: { run: ["./hang.sh"], timeout: 1s }
            """) { h, port in
            let pidFile = h.directory.path + "/child.pid"
            try script(h, "hang.sh", """
                sleep 300 &
                echo $! > \(pidFile)
                echo "waiting for the database lock"
                wait
                """)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 1)
            #expect(deploy.stdout.contains("pre_deploy hook failed: timed out after 1s (timeout); it was killed with its process group"), "\(deploy.stdout)")
            #expect(deploy.stdout.contains("waiting for the database lock"), "\(deploy.stdout)")
            #expect(try await h.versionAt(port: port) == "v1")
            let child = try #require(Int32(lines(pidFile).first ?? ""))
            _ = try await eventually("the hook's child process \(child) to be gone", timeout: .seconds(10)) {
                Self.isGone(child) ? true : nil
            }
            // Nothing lost: the next deploy is accepted (the lock was released with the failure).
            try script(h, "hang.sh", "exit 0")
            #expect(try await h.cli(["deploy", "hello", "--version", "v3", "--wait"]).status == 0)
        }
    }

    @Test func aSecondDeployIsRefusedWhileAHookRuns() async throws {
        try await withHookedHello("""
            hooks:
              pre_deploy: { run: ["./wait.sh"], timeout: 60s }
            """) { h, port in
            let dir = h.directory.path
            try script(h, "wait.sh", """
                touch \(dir)/hook-started
                while [ ! -f \(dir)/hook-go ]; do sleep 0.05; done
                """)
            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            _ = try await eventually("the pre_deploy hook to start") {
                FileManager.default.fileExists(atPath: dir + "/hook-started") ? true : nil
            }
            let second = try await h.cli(["deploy", "hello", "--version", "v3"])
            #expect(second.status != 0)
            #expect((second.stdout + second.stderr).contains("is still running"), "\(second.stdout)\(second.stderr)")
            let status = try await h.cli(["status", "hello", "-o", "json"])
            #expect(status.stdout.contains("running_hook"), "\(status.stdout)")
            #expect(try await h.versionAt(port: port) == "v1")

            _ = FileManager.default.createFile(atPath: dir + "/hook-go", contents: nil)
            _ = try await eventually("v2 to serve after the hook") {
                (try? await h.versionAt(port: port)) == "v2" ? true : nil
            }
        }
    }

    /// With `pidFileLost`, the recorded pid file is deleted before the SIGKILL, as if the
    /// control plane had died between the spawn and writing it: the restarted one finds the
    /// hook by the owner mark in its environment.
    @Test(arguments: [false, true]) func aHookRunningWhenTheControlPlaneDiesIsNotRunAgain(pidFileLost: Bool) async throws {
        try await withHookedHello("""
            hooks:
              pre_deploy: { run: ["./migrate.sh"], timeout: 60s }
            """) { h, port in
            let dir = h.directory.path
            try script(h, "migrate.sh", """
                echo $$ > \(dir)/hook.pid
                echo run >> \(dir)/migrations
                while [ ! -f \(dir)/hook-go ]; do sleep 0.05; done
                """)
            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            // Running, and recorded by the control plane (STATE/hooks/ROLLOUT.pid is written
            // just after the spawn; a loaded machine may run the script first).
            _ = try await eventually("the pre_deploy hook to start and be recorded") {
                let recorded = (try? FileManager.default.contentsOfDirectory(atPath: h.stateDir + "/hooks"))?.contains { $0.hasSuffix(".pid") } == true
                return FileManager.default.fileExists(atPath: dir + "/migrations") && recorded ? true : nil
            }
            if pidFileLost {
                for file in try FileManager.default.contentsOfDirectory(atPath: h.stateDir + "/hooks") {
                    try FileManager.default.removeItem(atPath: h.stateDir + "/hooks/" + file)
                }
            }
            try await h.killServer()
            try await h.startServer(configs: [dir + "/hello.yml"])
            let failed = try await eventually("the interrupted rollout to fail") {
                let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
                return history.first?.phase == .failed ? history.first : nil
            }
            // The hook outlived the dead control plane (its own session): the new one killed it.
            let hookPID = try #require(Int32(lines(dir + "/hook.pid").first ?? ""))
            #expect(failed.reason?.contains("interrupted: the control plane stopped while it ran; its process group (pid \(hookPID)) was still running and was killed; it was not run again") == true, "\(failed)")
            _ = try await eventually("the orphaned hook to be gone") {
                kill(hookPID, 0) != 0 || (try? String(contentsOfFile: "/proc/\(hookPID)/stat", encoding: .utf8))?.contains(") Z ") == true ? true : nil
            }
            #expect(lines(dir + "/migrations") == ["run"])
            #expect(try await h.versionAt(port: port) == "v1")
            _ = FileManager.default.createFile(atPath: dir + "/hook-go", contents: nil)
        }
    }

    @Test func onRollbackRunsAfterTrafficIsBackAndAbortKillsARunningHook() async throws {
        try await withHookedHello("""
            hooks:
              pre_deploy: { run: ["./pre.sh"], timeout: 60s }
              on_rollback: { run: ["./undo.sh"], timeout: 20s }
            """) { h, port in
            let dir = h.directory.path
            let url = "http://127.0.0.1:\(port)/"
            try script(h, "pre.sh", "exit 0")
            try script(h, "undo.sh", versionOf + """

                echo "on_rollback plain=$(version_of \(url)) to=$SLIPWAY_VERSION from=$SLIPWAY_FROM_VERSION" >> \(dir)/undo.log
                """)
            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--wait"]).status == 0)
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            _ = try await eventually("the rollback to end") {
                let history = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
                return history.first?.phase == .succeeded ? true : nil
            }
            #expect(lines(dir + "/undo.log") == ["on_rollback plain=v1 to=v1 from=v2"])

            // A pre_deploy that hangs, then `slipway abort`: the hook is killed, v1 serves.
            try script(h, "pre.sh", """
                sleep 300 &
                echo $! > \(dir)/abort-child.pid
                wait
                """)
            #expect(try await h.cli(["deploy", "hello", "--version", "v3"]).status == 0)
            let child = try await eventually("the hook to start its child") { Int32(lines(dir + "/abort-child.pid").first ?? "") }
            let abort = try await h.cli(["abort", "hello"])
            #expect(abort.status == 0, "\(abort.stdout)\(abort.stderr)")
            _ = try await eventually("the aborted hook's child \(child) to be gone", timeout: .seconds(10)) {
                Self.isGone(child) ? true : nil
            }
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }

    /// The newest rollout of hello.
    func latest(_ h: SlipwayHarness) async throws -> RolloutRecord? {
        try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout).first
    }

    let orderHooks = """
        hooks:
          pre_deploy: { run: ["./pre.sh"], timeout: 20s }
          smoke: { run: ["./smoke.sh"], timeout: 20s }
          post_deploy: { run: ["./post.sh"], timeout: 20s }
          on_rollback: { run: ["./undo.sh"], timeout: 20s }
        """
    let canaryStrategy = CanaryTests.canary("[ {weight: 50}, {pause: {}} ]")

    /// The hooks of `orderHooks`, each recording what the public URL served when it ran;
    /// pre_deploy and smoke also what the pin header (the preview) reached.
    /// pre_deploy and smoke ask the public URL eight times (`plain=v1` means none of the
    /// eight reached the new release, which any weight above 0 would make unlikely).
    func orderScripts(_ h: SlipwayHarness, port: Int, log: String) throws {
        let url = "http://127.0.0.1:\(port)/"
        let versionsOf = versionOf + """

            versions_of() { for i in 1 2 3 4 5 6 7 8; do version_of "$1"; done | sort -u | tr '\\n' ' ' | sed 's/ $//'; }
            """
        try script(h, "pre.sh", versionsOf + """

            echo "pre_deploy plain=$(versions_of \(url)) pinned=$(version_of \(url) "X-Slipway-Version: $SLIPWAY_VERSION")" >> \(log)
            """)
        try script(h, "smoke.sh", versionsOf + """

            echo "smoke plain=$(versions_of \(url)) preview=$(version_of "$SLIPWAY_PREVIEW_URL/" "$SLIPWAY_PREVIEW_HEADER")" >> \(log)
            """)
        try script(h, "post.sh", versionOf + """

            echo "post_deploy plain=$(version_of \(url))" >> \(log)
            """)
        try script(h, "undo.sh", versionOf + """

            echo "on_rollback plain=$(version_of \(url)) version=$SLIPWAY_VERSION" >> \(log)
            """)
    }

    @Test func aCanaryRunsPreDeployAndSmokeAgainstTheCanaryBeforeItsFirstStepAndPostDeployAfterPromotion() async throws {
        try await withHookedHello(orderHooks, replicas: 1, strategy: canaryStrategy) { h, port in
            let log = h.directory.path + "/order.log"
            try orderScripts(h, port: port, log: log)

            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            _ = try await eventually("the canary to wait at its pause step") {
                try await latest(h)?.phase == .paused ? true : nil
            }
            // Both hooks ran before the first step: all traffic on v1, the preview reached the canary.
            #expect(lines(log) == ["pre_deploy plain=v1 pinned=v2", "smoke plain=v1 preview=v2"])
            #expect(try await h.cli(["promote", "hello", "--full"]).status == 0)
            let done = try await eventually("the canary rollout to end") {
                let r = try await latest(h)
                return r?.phase.isTerminal == true ? r : nil
            }
            #expect(done.phase == .succeeded, "\(done)")
            #expect(lines(log) == ["pre_deploy plain=v1 pinned=v2", "smoke plain=v1 preview=v2", "post_deploy plain=v2"])
            #expect(try await h.versionAt(port: port) == "v2")
            let weights = try decode(RolloutExplanation.self, try await h.cli(["why", "hello", "-o", "json"]).stdout).decisions
            #expect(weights.first { $0.kind == .weightSet }?.weight == 50)
        }
    }

    @Test func anAbortedCanaryRunsItsOnRollbackWithTrafficBackOnTheStableRelease() async throws {
        try await withHookedHello(orderHooks, replicas: 1, strategy: canaryStrategy) { h, port in
            let log = h.directory.path + "/order.log"
            try orderScripts(h, port: port, log: log)
            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            _ = try await eventually("the canary to wait at its pause step") {
                try await latest(h)?.phase == .paused ? true : nil
            }
            let abort = try await h.cli(["abort", "hello"])
            #expect(abort.status == 0, "\(abort.stdout)\(abort.stderr)")
            let ended = try await eventually("the aborted canary to end") {
                let r = try await latest(h)
                return r?.phase.isTerminal == true ? r : nil
            }
            #expect(ended.phase == .failed)
            #expect(ended.reason?.contains("abort") == true, "the abort stays the reason: \(ended)")
            #expect(lines(log).last == "on_rollback plain=v1 version=v2", "\(lines(log))")
            #expect(try await events(h, kind: "hook_passed").last?.hasPrefix("on_rollback") == true)
        }
    }

    @Test func aRollingUpdateRunsPreDeployAndSmokeAgainstItsFirstBatchBeforeItTakesTraffic() async throws {
        let rolling = "rolling: { max_surge: 1, max_unavailable: 0, deploy_timeout: 20s, drain_timeout: 5s }"
        try await withHookedHello(orderHooks, replicas: 2, strategy: rolling) { h, port in
            let log = h.directory.path + "/order.log"
            try orderScripts(h, port: port, log: log)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(lines(log) == ["pre_deploy plain=v1 pinned=v2", "smoke plain=v1 preview=v2", "post_deploy plain=v2"])
            #expect(try await h.versionAt(port: port) == "v2")
        }
    }

    @Test func aBlueGreenWatchThatSwitchesBackRunsOnRollbackThenFailsWithTheWatchReason() async throws {
        let strategy = "blue-green: { keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 2s, watch: 30s }"
        let analysis = """
            analysis:
              default:
                interval: 1s
                inconclusive_limit: 10
                checks:
                  - { metric: error_rate, max: 5%, window: 5s }
            """
        try await withHookedHello(analysis + "\n" + orderHooks, strategy: strategy) { h, port in
            let log = h.directory.path + "/order.log"
            try orderScripts(h, port: port, log: log)
            let probe = TrafficProbe(port: port)
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_ERROR_RATE=0.5", "--wait"])
            _ = await probe.stop()
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            let ended = try #require(try await latest(h))
            #expect(ended.phase == .failed)
            #expect(ended.reason?.hasPrefix("watch analysis `default`") == true, "the watch stays the reason: \(String(describing: ended.reason))")
            // on_rollback ran once traffic was back on v1; post_deploy never ran.
            #expect(lines(log).count == 3, "\(lines(log))")
            #expect(lines(log).last == "on_rollback plain=v1 version=v2", "\(lines(log))")
            #expect(!lines(log).contains { $0.hasPrefix("post_deploy") })
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }

    /// No such process, or a zombie waiting to be reaped by init.
    static func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }
}
