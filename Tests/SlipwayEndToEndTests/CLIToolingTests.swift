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
}
