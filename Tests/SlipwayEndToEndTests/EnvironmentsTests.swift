import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Environments end to end: one config with staging and production, releases with evidence
/// made by the real pytest, coverage.py and ruff and by `slipway scan secrets`, gates, promote_from, approvals (four
/// eyes, environment-limited approvers), rejection, freezes with an admin override.
@Suite(.serialized) struct EnvironmentsTests {
    /// A small Python project whose tests all pass, run under coverage.py, linted by ruff.
    /// Returns the folder with junit.xml, coverage.xml and ruff.sarif.
    static func ciReports() async throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory(prefix: "slipway-ci")
        _ = try dir.write("calc.py", """
            def add(a, b):
                return a + b


            def half(a):
                return a / 2


            def unused(x):
                return x * 3
            """)
        _ = try dir.write("test_calc.py", """
            from calc import add, half


            def test_add():
                assert add(2, 3) == 5


            def test_half():
                assert half(6) == 3
            """)
        let script = "cd \(dir.path) && PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python3 -m coverage run --include=calc.py -m pytest -q --junitxml=junit.xml -p no:cacheprovider"
            + " && python3 -m coverage xml -o coverage.xml && (python3 -m ruff check --no-cache --output-format sarif -o ruff.sarif calc.py || true)"
        let run = try await runCommand("/bin/sh", ["-c", script], timeout: .seconds(120))
        guard run.status == 0, FileManager.default.fileExists(atPath: dir.file("ruff.sarif")) else {
            throw ReportsMissing(description: "the python project did not produce its reports (\(run.status)): \(run.stdout)\(run.stderr)")
        }
        // The secret scan is Slipway's own scanner; its report is in gitleaks' format.
        let scan = try await runCommand(try BuiltProducts.path("slipway"), ["scan", "secrets", dir.path, "--report", dir.file("gitleaks.json")], timeout: .seconds(60))
        guard scan.status == 0 else {
            throw ReportsMissing(description: "slipway scan secrets found something in the sample project (\(scan.status)): \(scan.stdout)\(scan.stderr)")
        }
        return dir
    }

    static func config(_ h: SlipwayHarness, staging: Int, production: Int, productionExtra: String = "") throws -> String {
        try h.directory.write("web.yml", """
            service: web
            run: ["hello-app", "--port", "{{port}}", "--version", "{{version}}"]
            health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 1, unhealthy: 3, grace: 5s }
            replicas: 2
            env: { GREETING: base, LEVEL: info }
            strategy: { blue-green: { keep_previous: 10m, deploy_timeout: 20s, drain_timeout: 5s } }
            environments:
              staging:
                listen: 127.0.0.1:\(staging)
                replicas: 1
                env: { LEVEL: debug }
                gates: { coverage: 60, test_pass_rate: 100, critical_vulns: 0, high_vulns: 0, secrets: 0 }
              production:
                listen: 127.0.0.1:\(production)
                promote_from: staging
                approvals: 1
                four_eyes: true
                gates: { coverage: 99, test_pass_rate: 100, critical_vulns: 0, high_vulns: 0, secrets: 0 }
            \(productionExtra)
            """)
    }

    @Test func releasesGatesPromotionAndApprovals() async throws {
        let reports = try await Self.ciReports()
        defer { reports.remove() }
        try await withHarness { h in
            let staging = freeLoopbackPort(), production = freeLoopbackPort()
            let config = try Self.config(h, staging: staging, production: production)
            try await h.startServer(configs: [config])

            // Nothing is deployed to environments at start; both units exist, isolated.
            let all = try decode([ServiceStatus].self, try await h.cli(["status", "web", "-o", "json"]).stdout)
            #expect(all.map(\.service).sorted() == ["web@production", "web@staging"])
            #expect(all.allSatisfy { $0.stableVersion == nil && $0.instances.isEmpty })
            let bare = try await h.cli(["deploy", "web", "--version", "1.0"])
            #expect(bare.status == 1 && bare.stderr.contains("web has environments (staging, production); name one with --env"), "\(bare.stderr)")
            let unknown = try await h.cli(["deploy", "web", "--version", "1.0", "--env", "qa"])
            #expect(unknown.status == 1 && unknown.stderr.contains("unknown environment qa of web; its environments: staging, production"), "\(unknown.stderr)")

            // Without a recorded release every evidence gate fails, with the command to fix it.
            let early = try await h.cli(["deploy", "web", "--version", "1.0", "--env", "staging"])
            #expect(early.status == 1 && early.stderr.contains("refused: 5 of 5 gates failed") && early.stderr.contains("slipway release create web 1.0"), "\(early.stderr)")

            // Bad evidence: unknown format, a report of another format (position named).
            let badFormat = try await h.cli(["release", "create", "web", "1.0", "--evidence", "nunit=\(reports.file("junit.xml"))"])
            #expect(badFormat.status == 1 && badFormat.stderr.contains("unknown report format \"nunit\"; known formats: junit, cobertura, lcov, sarif, trivy, gitleaks"), "\(badFormat.stderr)")
            let wrongRoot = try await h.cli(["release", "create", "web", "1.0", "--evidence", "cobertura=\(reports.file("junit.xml"))"])
            #expect(wrongRoot.status == 1 && wrongRoot.stderr.contains("junit.xml:"), "\(wrongRoot.stderr)")
            // A report of another build (hand-written Trivy JSON: trivy cannot run offline here).
            let otherBuild = try h.directory.write("trivy.json", #"{"ArtifactName": "web:0.9", "Results": [{"Target": "web", "Vulnerabilities": []}]}"#)
            let mismatch = try await h.cli(["release", "create", "web", "1.0", "--evidence", "trivy=\(otherBuild)"])
            #expect(mismatch.status == 1 && mismatch.stderr.contains("this Trivy report scanned web:0.9 (version 0.9), not release 1.0 of web"), "\(mismatch.stderr)")
            let envRelease = try await h.cli(["release", "create", "web@staging", "1.0"])
            #expect(envRelease.status == 1 && envRelease.stderr.contains("name the service without @environment"), "\(envRelease.stderr)")

            let evidence = ["--evidence", "junit=\(reports.file("junit.xml"))", "--evidence", "cobertura=\(reports.file("coverage.xml"))",
                            "--evidence", "sarif=\(reports.file("ruff.sarif"))", "--evidence", "gitleaks=\(reports.file("gitleaks.json"))"]
            let created = try await h.cli(["release", "create", "web", "1.0", "--commit", "0123abc", "--commit-time", "2026-11-20T10:00:00Z"] + evidence)
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains("junit      2 tests, 0 failed"), "\(created.stdout)")
            let again = try await h.cli(["release", "create", "web", "1.0"] + evidence)
            #expect(again.status == 1 && again.stderr.contains("release 1.0 of web already exists") && again.stderr.contains("immutable"), "\(again.stderr)")

            // Gate check: staging passes; production fails coverage (99 %) and promote_from.
            let stagingGates = try await h.cli(["gate", "check", "web", "1.0", "--env", "staging", "-o", "json"])
            #expect(stagingGates.status == 0, "\(stagingGates.stdout)\(stagingGates.stderr)")
            let report = try decode(GateReportShape.self, stagingGates.stdout)
            #expect(report.passed && report.results.map(\.gate) == [.coverage, .testPassRate, .criticalVulns, .highVulns, .secrets])
            let coverage = try #require(report.results.first)
            #expect(coverage.value == "83.33 %" && coverage.detail == "5 of 6 lines" && coverage.threshold == "≥ 60 %", "coverage.py counts 5 of 6 lines of calc.py: \(coverage)")
            let productionGates = try await h.cli(["gate", "check", "web", "1.0", "--env", "production"])
            #expect(productionGates.status == 1)
            #expect(productionGates.stdout.contains("FAIL  coverage: 83.33 % (needs ≥ 99 %)"), "\(productionGates.stdout)")
            #expect(productionGates.stdout.contains("FAIL  promote_from: not deployed to staging"), "\(productionGates.stdout)")

            // Secrets: service-wide, staging's scope (wins), production's (not staging's business).
            #expect(try await h.cli(["secrets", "set", "web", "API_KEY"], stdin: "base-key").status == 0)
            #expect(try await h.cli(["secrets", "set", "web", "API_KEY", "--env", "staging"], stdin: "staging-key").status == 0)
            #expect(try await h.cli(["secrets", "set", "web", "DB_URL", "--env", "production"], stdin: "prod-db").status == 0)

            // Staging deploys; production still has nothing (isolated instances and routes).
            let deployed = try await h.cli(["deploy", "web", "--version", "1.0", "--env", "staging", "--wait"])
            #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
            #expect(try await h.versionAt(port: staging) == "1.0")
            let stagingStatus = try decode(ServiceStatus.self, try await h.cli(["status", "web", "--env", "staging", "-o", "json"]).stdout)
            #expect(stagingStatus.instances.count == 1, "replicas: 1 from the environment")
            // The instance runs with the merged env (LEVEL from staging, GREETING from the service) and staging's secrets.
            let environ = SecretsTests.environment(pid: try #require(stagingStatus.instances.first).pid)
            #expect(environ["LEVEL"] == "debug" && environ["GREETING"] == "base")
            #expect(environ["SLIPWAY_SERVICE"] == "web" && environ["SLIPWAY_ENVIRONMENT"] == "staging")
            #expect(environ["API_KEY"] == "staging-key" && environ["DB_URL"] == nil, "\(environ.filter { $0.key == "API_KEY" || $0.key == "DB_URL" })")
            let productionStatus = try decode(ServiceStatus.self, try await h.cli(["status", "web", "--env", "production", "-o", "json"]).stdout)
            #expect(productionStatus.stableVersion == nil && productionStatus.instances.isEmpty)
            let stagingHistory = try decode([RolloutRecord].self, try await h.cli(["history", "web", "--env", "staging", "-o", "json"]).stdout)
            #expect(stagingHistory.count == 1 && stagingHistory[0].environment == "staging")
            #expect(stagingHistory[0].gates?.count == 5 && stagingHistory[0].gates?.allSatisfy(\.passed) == true)
            #expect(try decode([RolloutRecord].self, try await h.cli(["history", "web", "--env", "production", "-o", "json"]).stdout).isEmpty)

            // Production: only coverage is missing now (promote_from passes). Lower the bar.
            let stillFailing = try await h.cli(["deploy", "web", "--version", "1.0", "--env", "production"])
            #expect(stillFailing.status == 1 && stillFailing.stderr.contains("refused: 1 of 6 gates failed"), "\(stillFailing.stderr)")
            #expect(stillFailing.stderr.contains("pass  promote_from: succeeded in staging"), "\(stillFailing.stderr)")
            let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "coverage: 99", with: "coverage: 70")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            #expect(try await h.cli(["apply", "-f", config]).status == 0)

            // Approvals: the rollout waits; nothing starts.
            let waiting = try await h.cli(["deploy", "web", "--version", "1.0", "--env", "production", "-o", "json"])
            #expect(waiting.status == 0, "\(waiting.stderr)")
            let record = try decode(RolloutRecord.self, waiting.stdout)
            #expect(record.phase == .awaitingApproval && record.requestedBy == "admin")
            let statusText = try await h.cli(["status", "web", "--env", "production"])
            #expect(statusText.stdout.contains("awaiting_approval") && statusText.stdout.contains("approvals: 0 of 1") && statusText.stdout.contains("no instances"), "\(statusText.stdout)")
            let promote = try await h.cli(["promote", "web", "--env", "production"])
            #expect(promote.status == 1 && promote.stderr.contains("is awaiting approval (0 of 1)"), "\(promote.stderr)")

            // Four eyes: the requester may not approve; a deployer may not; a staging approver may not.
            let own = try await h.cli(["approve", "web", "--env", "production"])
            #expect(own.status == 1 && own.stderr.contains("four_eyes is on: admin asked for this rollout"), "\(own.stderr)")
            let deployer = try await token(h, "dev", role: "deployer")
            let byDeployer = try await h.cli(["approve", "web", "--env", "production"], environment: ["SLIPWAY_TOKEN": deployer])
            #expect(byDeployer.status == 1 && byDeployer.stderr.contains("POST /v1/services/{name}/approve needs approver or higher"), "\(byDeployer.stderr)")
            let stagingApprover = try await token(h, "sam", role: "approver", env: "staging")
            let wrongEnv = try await h.cli(["approve", "web", "--env", "production"], environment: ["SLIPWAY_TOKEN": stagingApprover])
            #expect(wrongEnv.status == 1 && wrongEnv.stderr.contains("limited to the environments staging") && wrongEnv.stderr.contains("environment production"), "\(wrongEnv.stderr)")

            let approver = try await token(h, "pat", role: "approver", env: "production")
            let approved = try await h.cli(["approve", "web", "--env", "production", "--comment", "checked the dashboards"], environment: ["SLIPWAY_TOKEN": approver])
            #expect(approved.status == 0, "\(approved.stderr)")
            let done = try await eventually("the approved rollout to succeed", timeout: .seconds(30)) { () -> RolloutRecord? in
                let r = try decode([RolloutRecord].self, try await h.cli(["history", "web", "--env", "production", "-o", "json", "--limit", "1"]).stdout).first
                return r?.phase == .succeeded ? r : nil
            }
            #expect(done.approval?.votes.map(\.principal) == ["pat"] && done.approval?.votes.first?.comment == "checked the dashboards")
            #expect(try await h.versionAt(port: production) == "1.0")
            let why = try await h.cli(["why", "web", "--env", "production"])
            #expect(why.stdout.contains("pat approved 1.0 (1 of 1): checked the dashboards"), "\(why.stdout)")
            #expect(why.stdout.contains("gates checked before it started (asked by admin):") && why.stdout.contains("pass  promote_from: succeeded in staging"), "\(why.stdout)")
            let nothing = try await h.cli(["approve", "web", "--env", "production"], environment: ["SLIPWAY_TOKEN": approver])
            #expect(nothing.status == 1 && nothing.stderr.contains("no rollout of web@production is awaiting approval"), "\(nothing.stderr)")

            // Reject: a second release ends before anything starts.
            #expect(try await h.cli(["release", "create", "web", "1.1"] + evidence).status == 0)
            #expect(try await h.cli(["deploy", "web", "--version", "1.1", "--env", "staging", "--wait"]).status == 0)
            // `--wait` says who moves an approval on; `--timeout` ends the wait (exit 2), not the rollout.
            let held = try await h.cli(["deploy", "web", "--version", "1.1", "--env", "production", "--wait", "--timeout", "1s"])
            #expect(held.status == 2, "\(held.stdout)\(held.stderr)")
            #expect(held.stdout.contains("waiting for a person: the rollout needs approvals (0 of 1); `slipway approve web@production` (approver role) or `reject`"), "\(held.stdout)")
            #expect(held.stdout.contains("is still awaiting_approval after --timeout 1s; it goes on: follow it with `slipway status web@production`"), "\(held.stdout)")
            let rejected = try await h.cli(["reject", "web", "--env", "production", "--comment", "not during the launch"], environment: ["SLIPWAY_TOKEN": approver])
            #expect(rejected.status == 0 && rejected.stdout.contains("rejected by pat: not during the launch"), "\(rejected.stdout)\(rejected.stderr)")
            #expect(try await h.versionAt(port: production) == "1.0")

            // The audit log has the gate results and the votes.
            let audit = try await h.cli(["audit", "list", "--limit", "1000", "-o", "json"])
            for action in ["release.recorded", "gates.failed", "gates.passed", "rollout.approve", "rollout.reject", "decision.approved", "decision.rejected"] {
                #expect(audit.stdout.contains("\"\(action)\""), "audit lacks \(action)")
            }
        }
    }

    @Test func freezeRefusesDeploysUnlessAnAdminOverrides() async throws {
        let reports = try await Self.ciReports()
        defer { reports.remove() }
        try await withHarness { h in
            // A fixed window that is over and a daily one around now, in wall-clock time of
            // Asia/Kolkata (UTC+05:30): the refusal names the end of today's occurrence.
            let now = Date()
            let format = ISO8601DateFormatter()
            let pastFrom = format.string(from: now.addingTimeInterval(-3 * 3600)), pastTo = format.string(from: now.addingTimeInterval(-2 * 3600))
            var kolkata = Calendar(identifier: .gregorian)
            kolkata.timeZone = try #require(TimeZone(identifier: "Asia/Kolkata"))
            func wallClock(_ date: Date) -> String {
                let c = kolkata.dateComponents([.hour, .minute], from: date)
                return String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
            }
            let end = now.addingTimeInterval(3600)
            let every = "\(wallClock(now.addingTimeInterval(-3600)))-\(wallClock(end))"
            let to = format.string(from: Date(timeIntervalSince1970: (end.timeIntervalSince1970 / 60).rounded(.down) * 60))
            let staging = freeLoopbackPort(), production = freeLoopbackPort()
            let base = try String(contentsOfFile: try Self.config(h, staging: staging, production: production), encoding: .utf8)
            let freezes = "[{ from: \"\(pastFrom)\", to: \"\(pastTo)\", reason: last release }, { every: \"\(every)\", time_zone: Asia/Kolkata, reason: launch week }]"
            let text = base.replacingOccurrences(of: "    gates: { coverage: 60,", with: "    freeze: \(freezes)\n    gates: { coverage: 60,")
            let config = try h.directory.write("frozen.yml", text)
            try await h.startServer(configs: [config])
            let evidence = ["--evidence", "junit=\(reports.file("junit.xml"))", "--evidence", "cobertura=\(reports.file("coverage.xml"))",
                            "--evidence", "sarif=\(reports.file("ruff.sarif"))", "--evidence", "gitleaks=\(reports.file("gitleaks.json"))"]
            #expect(try await h.cli(["release", "create", "web", "2.0"] + evidence).status == 0)

            let refused = try await h.cli(["deploy", "web", "--version", "2.0", "--env", "staging"])
            #expect(refused.status == 1 && refused.stderr.contains("web@staging is frozen until \(to): launch week") && refused.stderr.contains("--override-freeze"), "\(refused.stderr)")
            let deployer = try await token(h, "ci", role: "deployer")
            let notAdmin = try await h.cli(["deploy", "web", "--version", "2.0", "--env", "staging", "--override-freeze", "hotfix"], environment: ["SLIPWAY_TOKEN": deployer])
            #expect(notAdmin.status == 1 && notAdmin.stderr.contains("only an admin may override a freeze, and ci has the deployer role"), "\(notAdmin.stderr)")
            let unfrozen = try await h.cli(["deploy", "web", "--version", "2.0", "--env", "production", "--override-freeze", "x"])
            #expect(unfrozen.status == 1 && unfrozen.stderr.contains("is not frozen now"), "\(unfrozen.stderr)")

            let overridden = try await h.cli(["deploy", "web", "--version", "2.0", "--env", "staging", "--override-freeze", "INC-42 hotfix", "--wait", "-o", "json"])
            #expect(overridden.status == 0, "\(overridden.stderr)")
            let record = try decode(RolloutRecord.self, overridden.stdout)
            #expect(record.phase == .succeeded)
            let freezeGate = try #require(record.gates?.first { $0.gate == .freeze })
            #expect(freezeGate.detail == "overridden by admin: INC-42 hotfix")
            let audit = try await h.cli(["audit", "list", "--limit", "1000", "-o", "json"])
            #expect(audit.stdout.contains("\"freeze.override\"") && audit.stdout.contains("INC-42 hotfix"))
        }
    }

    @Test func anUnapprovedRolloutExpiresAndAbortingOneStartsNothing() async throws {
        let reports = try await Self.ciReports()
        defer { reports.remove() }
        try await withHarness { h in
            let staging = freeLoopbackPort(), production = freeLoopbackPort()
            let base = try String(contentsOfFile: try Self.config(h, staging: staging, production: production), encoding: .utf8)
            let text = base.replacingOccurrences(of: "    approvals: 1\n", with: "    approvals: 2\n    approval_timeout: 2s\n")
                .replacingOccurrences(of: "promote_from: staging", with: "gates: { coverage: off, test_pass_rate: off, critical_vulns: off, high_vulns: off, secrets: off }")
                .replacingOccurrences(of: "    gates: { coverage: 99, test_pass_rate: 100, critical_vulns: 0, high_vulns: 0, secrets: 0 }\n", with: "")
            let config = try h.directory.write("expiring.yml", text)
            try await h.startServer(configs: [config])
            // No gates on production here: no release record is needed.
            let waiting = try decode(RolloutRecord.self, try await h.cli(["deploy", "web", "--version", "3.0", "--env", "production", "-o", "json"]).stdout)
            #expect(waiting.phase == .awaitingApproval && waiting.approval?.needed == 2 && waiting.approval?.fourEyes == true)
            let expired = try await eventually("the unapproved rollout to expire", timeout: .seconds(30)) { () -> RolloutRecord? in
                let r = try decode([RolloutRecord].self, try await h.cli(["history", "web", "--env", "production", "-o", "json", "--limit", "1"]).stdout).first
                return r?.phase == .failed ? r : nil
            }
            #expect(expired.reason == "no decision within approval_timeout 2s (0 of 2 approvals)", "\(expired.reason ?? "")")
            let status = try decode(ServiceStatus.self, try await h.cli(["status", "web", "--env", "production", "-o", "json"]).stdout)
            #expect(status.instances.isEmpty && status.stableVersion == nil, "nothing was started")

            // Abort while waiting: ends at once, nothing started; then approving finds nothing.
            #expect(try await h.cli(["deploy", "web", "--version", "3.0", "--env", "production"]).status == 0)
            let aborted = try await h.cli(["abort", "web", "--env", "production", "-o", "json"])
            #expect(aborted.status == 0, "\(aborted.stderr)")
            #expect(try decode(RolloutRecord.self, aborted.stdout).phase == .failed)
            let late = try await h.cli(["approve", "web", "--env", "production"])
            #expect(late.status == 1 && late.stderr.contains("no rollout of web@production is awaiting approval; the last rollout"), "\(late.stderr)")
        }
    }

    /// A new token's secret (printed once on stdout).
    func token(_ h: SlipwayHarness, _ name: String, role: String, env: String? = nil) async throws -> String {
        let created = try await h.cli(["token", "create", name, "--role", role] + (env.map { ["--env", $0] } ?? []))
        #expect(created.status == 0, "\(created.stderr)")
        return created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// `slipway gate check -o json` as the test reads it.
struct GateReportShape: Decodable {
    var passed: Bool
    var results: [GateResult]
}

struct ReportsMissing: Error, CustomStringConvertible {
    var description: String
}
