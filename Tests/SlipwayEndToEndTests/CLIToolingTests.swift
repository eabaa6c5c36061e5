import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// `slipway version` against a live server and without one, and the shell completion scripts
/// the README tells users to install.
@Suite(.serialized) struct CLIToolingTests {
    struct Report: Decodable {
        struct Server: Decodable { var url: String; var version: String?; var error: String? }
        var version: String
        var sha256: String?
        var stateSchema: String
        var apiVersion: String
        var server: Server?
    }

    @Test func versionNamesThisBuildAndTheServers() async throws {
        try await withHarness { h in
            try await h.startServer()
            let result = try await h.cli(["version", "-o", "json"])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try decode(Report.self, result.stdout)
            #expect(report.version == SlipwayVersion.current)
            #expect(report.sha256?.count == 64)
            #expect(report.stateSchema.hasPrefix("0"), "the last migration's name: \(report.stateSchema)")
            #expect(report.apiVersion == "v1")
            #expect(report.server?.url == h.apiURL && report.server?.version == SlipwayVersion.current, "\(String(describing: report.server))")

            // No server: reported, not an error.
            let alone = try await h.cli(["version", "--server", "http://127.0.0.1:1"])
            #expect(alone.status == 0, "\(alone.stderr)")
            #expect(alone.stdout.contains("slipway \(SlipwayVersion.current)") && alone.stdout.contains("server http://127.0.0.1:1: not reachable"), "\(alone.stdout)")
        }
    }

    /// The bash script the README installs registers completion for `slipway`, offers its
    /// subcommands, and passes `bash -n`; zsh and fish scripts are generated as well.
    @Test func completionScriptsAreGeneratedForEveryShell() async throws {
        let slipway = try BuiltProducts.path("slipway")
        for shell in ["bash", "zsh", "fish"] {
            let script = try await runCommand(slipway, ["--generate-completion-script", shell])
            #expect(script.status == 0 && script.stdout.contains("slipway"), "\(shell): \(script.stderr)")
        }
        let bash = try await runCommand(slipway, ["--generate-completion-script", "bash"])
        let directory = try TemporaryDirectory(prefix: "slipway-completion")
        defer { directory.remove() }
        let file = try directory.write("slipway.bash", bash.stdout)
        #expect(try await runCommand("/bin/bash", ["-n", file]).status == 0)
        // Complete `slipway de` as bash would and read the candidates.
        let probe = """
            source \(file)
            COMP_WORDS=(slipway de); COMP_CWORD=1; COMP_LINE="slipway de"; COMP_POINT=${#COMP_LINE}
            $(complete -p slipway | sed -E 's/.*-F ([^ ]+).*/\\1/') slipway de slipway
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let completed = try await runCommand("/bin/bash", ["-c", probe], environment: ["PATH": (slipway as NSString).deletingLastPathComponent + ":/usr/bin:/bin"])
        #expect(completed.stdout.split(separator: "\n").contains("deploy"), "\(completed.stdout)\(completed.stderr)")
    }

    /// `slipway runbook` reads the file, prints Markdown, and refuses a wrong service or
    /// environment with the reason.
    @Test func runbookPrintsTheChecklistAndRefusesWhatTheFileDoesNotConfigure() async throws {
        let slipway = try BuiltProducts.path("slipway")
        let directory = try TemporaryDirectory(prefix: "slipway-runbook")
        defer { directory.remove() }
        let file = try directory.write("slipway.yml", """
            service: web
            run: [./web]
            listen: 127.0.0.1:8080
            environments:
              staging: { listen: 127.0.0.1:8081 }
              production: { approvals: 1 }

            """)
        let all = try await runCommand(slipway, ["runbook", "web", "-f", file])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.stdout.hasPrefix("# Runbook: web\n") && all.stdout.contains("## Deploy to staging") && all.stdout.contains("## Deploy to production"), "\(all.stdout)")
        let one = try await runCommand(slipway, ["runbook", "web", "--env", "production", "-f", file])
        #expect(one.status == 0 && !one.stdout.contains("## Deploy to staging") && one.stdout.contains("Waits for 1 approval(s)"), "\(one.stdout)\(one.stderr)")
        let wrongService = try await runCommand(slipway, ["runbook", "api", "-f", file])
        #expect(wrongService.status == 1 && wrongService.stderr.contains("configures web, not api"), "\(wrongService.stderr)")
        let wrongEnv = try await runCommand(slipway, ["runbook", "web", "--env", "prod", "-f", file])
        #expect(wrongEnv.status == 64 && wrongEnv.stderr.contains("web has no environment prod; environments: staging, production"), "\(wrongEnv.stderr)")
        let bad = try directory.write("bad.yml", "service: web\nrun: [./web]\nreplicas: many\n")
        let badFile = try await runCommand(slipway, ["runbook", "web", "-f", bad])
        #expect(badFile.status == 1 && badFile.stderr.contains("bad.yml:3:"), "\(badFile.stderr)")
    }

    /// docs/reference/ is exactly what `slipway reference` writes from the code.
    @Test func theReferenceDocsAreCurrent() async throws {
        let slipway = try BuiltProducts.path("slipway")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for kind in ["config", "cli", "api"] {
            let generated = try await runCommand(slipway, ["reference", kind])
            #expect(generated.status == 0, "\(generated.stderr)")
            let committed = try String(contentsOf: root.appendingPathComponent("docs/reference/\(kind).md"), encoding: .utf8)
            #expect(committed == generated.stdout, "docs/reference/\(kind).md is out of date: run scripts/docs.sh")
        }
        let config = try await runCommand(slipway, ["reference", "config"])
        #expect(config.stdout.contains("| `health.interval` | duration | `\"1s\"` |"), "nested keys with their type and default")
        #expect(config.stdout.contains("`environments.*.freeze[].every`"), "keys inside maps and lists")
        let cli = try await runCommand(slipway, ["reference", "cli"])
        #expect(cli.stdout.contains("## slipway-secrets-rotate-key") && cli.stdout.contains("USAGE: slipway deploy <service>"), "every command, nested ones too")
        let api = try await runCommand(slipway, ["reference", "api"])
        #expect(api.stdout.contains("### `POST /v1/plan`") && api.stdout.contains("Body: `ApplyRequest`"), "every route with its body")
    }

    struct DoctorReport: Decodable {
        struct Finding: Decodable { var check: String; var status: String; var detail: String; var fix: String? }
        var healthy: Bool
        var findings: [Finding]
        func finding(_ check: String) -> Finding? { findings.first { $0.check == check } }
    }

    /// `slipway doctor` on a healthy installation, then on one with an open state directory,
    /// a readable master key, a token about to expire and a service whose port nobody serves.
    @Test func doctorFindsWhatIsWrongAndNamesTheFix() async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig()
            try await h.startServer(configs: [config], extraArguments: ["--backup-every", "1h"])
            #expect(try await h.cli(["secrets", "set", "hello", "API_KEY"], stdin: "s3cret").status == 0, "makes the master key")
            _ = try await eventually("hello to serve v1", timeout: .seconds(60)) { (try? await TestHTTP.get("http://127.0.0.1:\(port)/"))?.body.contains("v1") == true ? true : nil }

            let healthy = try await h.cli(["doctor", "--state-dir", h.stateDir, "-o", "json"])
            #expect(healthy.status == 0, "\(healthy.stdout)\(healthy.stderr)")
            let good = try decode(DoctorReport.self, healthy.stdout)
            #expect(good.healthy)
            for check in ["state directory", "free space", "master key", "state database", "control plane", "router", "server", "service hello", "tokens", "clock", "state backups"] {
                #expect(good.finding(check)?.status == "ok", "\(check): \(String(describing: good.finding(check)))")
            }
            #expect(good.finding("service hello")?.detail.contains("accepts connections") == true)
            // One machine, one clock: the skew measured lies within the measurement's
            // uncertainty (half the round trip, which a loaded machine makes long; asserting
            // "0.0…" failed once at 0.157 s ± 0.208 s).
            let clock = try #require(good.finding("clock")?.detail)
            let figures = clock.matches(of: try Regex("([0-9]+\\.[0-9]+) s")).compactMap { $0.output[1].substring.flatMap { Double($0) } }
            #expect(clock.hasPrefix("the control plane's clock, against this machine's, is ") && figures.count == 2 && figures[0] <= figures[1] + 0.001, "\(clock)")
            #expect(good.finding("container engine") == nil, "no service runs containers: the engine is not asked")
            #expect(good.finding("API certificate") == nil, "the API serves plain HTTP on loopback")
            // The first scheduled backup is taken at start; doctor then names it.
            let backedUp = try await eventually("doctor to name the first scheduled backup") { () -> DoctorReport.Finding? in
                let run = try await h.cli(["doctor", "--state-dir", h.stateDir, "-o", "json"])
                let finding = try decode(DoctorReport.self, run.stdout).finding("state backups")
                return finding?.detail.hasPrefix("last one") == true ? finding : nil
            }
            #expect(backedUp.status == "ok" && backedUp.detail.contains(h.stateDir + "/backups/slipway-") && backedUp.detail.hasSuffix("(every 1h, keeping 24)"), "\(backedUp)")

            // Break things.
            #expect(chmod(h.stateDir, 0o755) == 0 && chmod(h.stateDir + "/master.key", 0o644) == 0)
            defer { _ = chmod(h.stateDir, 0o700); _ = chmod(h.stateDir + "/master.key", 0o600) }
            #expect(try await h.cli(["token", "create", "ci", "--role", "deployer", "--expires-in", "2h"]).status == 0)
            let text = try await h.cli(["doctor", "--state-dir", h.stateDir])
            #expect(text.status == 1, "\(text.stdout)\(text.stderr)")
            #expect(text.stdout.contains("fix: chmod 700 \(h.stateDir)"), "\(text.stdout)")
            #expect(text.stdout.contains("fix: chmod 600 \(h.stateDir)/master.key"), "\(text.stdout)")
            #expect(text.stdout.contains("WARNING token ci: expires in"), "\(text.stdout)")
            #expect(text.stdout.contains("2 problem(s), 1 warning(s)"), "\(text.stdout)")


            // Everything down: the local checks still run, the server is the problem.
            _ = chmod(h.stateDir, 0o700); _ = chmod(h.stateDir + "/master.key", 0o600)
            #expect(try await h.cli(["down"]).status == 0)
            let down = try await h.cli(["doctor", "--state-dir", h.stateDir, "-o", "json"])
            #expect(down.status == 1)
            let report = try decode(DoctorReport.self, down.stdout)
            #expect(report.finding("server")?.status == "problem" && report.finding("control plane")?.status == "warning", "\(down.stdout)")
            #expect(report.finding("state database")?.status == "ok" && report.finding("master key")?.status == "ok", "\(down.stdout)")
        }
    }
}
