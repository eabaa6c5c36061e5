import SlipwayConfig
import SlipwayCore
import Testing

/// `slipway runbook`: the checklist is written from the config, so each setting shows up
/// as what it makes Slipway do, and changing the config changes the runbook.
@Suite struct RunbookTests {
    static let config = """
        service: web
        run: [./web, --port, "{{port}}"]
        listen: 127.0.0.1:8080
        replicas: 2
        health: { path: /healthz, interval: 2s }
        backup: { sqlite: /srv/web/app.db, keep: 5, restore_on_rollback: true }
        hooks:
          pre_deploy: { run: [./migrate, up], timeout: 5m }
          on_rollback: { run: [./undo] }
        alerts: [ { name: errors, metric: error_rate, max: 2%, for: 1m, severity: critical, window: 30s } ]
        notifications: [ { kind: slack, url: "https://hooks.example.com/x", events: [failed, rolled_back] } ]
        analysis:
          strict: { interval: 15s, failure_limit: 2, checks: [ { metric: error_rate, max: 1%, window: 1m } ] }
        environments:
          staging:
            listen: 127.0.0.1:8081
            strategy: { blue-green: { watch: 5m, keep_previous: 30m } }
          production:
            promote_from: staging
            approvals: 2
            four_eyes: true
            gates: { coverage: 85, critical_vulns: 0 }
            freeze:
              - { every: "fri 16:00-mon 08:00", time_zone: Europe/Berlin, reason: weekend }
            strategy: { canary: { steps: [{weight: 10}, {pause: 10m}, {weight: 50}, {pause: {}}], analysis: strict } }

        """

    func runbook(_ yaml: String, env: String? = nil) throws -> String {
        let units = try ConfigLoader.parseUnits(yaml, fileName: "slipway.yml", baseDirectory: "/srv/web")
        return Runbook.markdown(units: env.map { e in units.filter { $0.environmentName == e } } ?? units, source: "slipway.yml")
    }

    @Test func everySettingShowsUpAsWhatItDoes() throws {
        let text = try runbook(Self.config)
        let expected = [
            "# Runbook: web",
            "- Environments, in promotion order: `staging` → `production`",
            "| `web@production` | 127.0.0.1:8080 | 2 | canary |",
            "## Deploy to staging",
            "## Deploy to production",
            "The release has succeeded in `staging` first (`promote_from`)",
            "its gates must pass: coverage ≥ 85 %;",
            "critical vulnerabilities ≤ 0;",
            "Not inside a freeze: every `fri 16:00-mon 08:00` (Europe/Berlin): weekend",
            "The database backup will run (sqlite, keeping the last 5)",
            "`pre_deploy` (migrations) is ready to run: `./migrate up` (timeout 5m)",
            "slipway deploy web --env production --version VERSION --wait",
            "Waits for 2 approval(s), never from whoever asked for the deploy (four eyes)",
            "`slipway approve web --env production`",
            "each must pass health checks (`/healthz` every 2s)",
            "Canary: weight 10 % → pause 10m → weight 50 % → pause until promoted, then 100 %",
            "A pause without a duration waits for `slipway promote web --env production`",
            "Analysis `strict` runs through every step: every 15s:",
            "2 failed run(s) in a row roll back",
            "Watches the new release for 5m with analysis `default`",
            "Keeps the previous release's instances warm for 30m",
            "Alert `errors` (critical): error_rate above 2 % for 1m, over 30s.",
            "Notifications go to: slack (failed, rolled_back).",
            "`slipway rollback web --env staging` — instant while the previous release is warm (30m)",
            "`on_rollback` runs after every rollback: `./undo`",
            "The deploy's database backup is restored when the deploy is undone (`restore_on_rollback`).",
            "new instances crashing more than",
        ]
        for line in expected {
            #expect(text.contains(line), "missing: \(line)")
        }
        // The freeze, promotion, approvals and canary are production's alone; staging has the
        // default gates of an environment named staging.
        let staging = try runbook(Self.config, env: "staging")
        #expect(!staging.contains("freeze") && !staging.contains("approval") && !staging.contains("promote_from") && !staging.contains("Canary"), "\(staging)")
        #expect(staging.contains("coverage ≥ 80 %"), "\(staging)")
        #expect(staging.contains("failed analysis during the 5m watch"))
    }

    @Test func theRunbookFollowsTheConfig() throws {
        let before = try runbook(Self.config, env: "production")
        let changed = Self.config
            .replacingOccurrences(of: "approvals: 2", with: "approvals: 1")
            .replacingOccurrences(of: "four_eyes: true", with: "four_eyes: false")
            .replacingOccurrences(of: "restore_on_rollback: true", with: "restore_on_rollback: false")
        let after = try runbook(changed, env: "production")
        #expect(before.contains("Waits for 2 approval(s), never from whoever asked"))
        #expect(after.contains("Waits for 1 approval(s), for at most") && !after.contains("four eyes"))
        #expect(after.contains("The database is not restored by a rollback; to restore by hand: `slipway backups list web --env production`, then `slipway backups restore ID`"))
        // A service without environments: no --env anywhere, and nothing to check beforehand.
        let plain = try runbook("service: api\nrun: [./api]\nlisten: 127.0.0.1:9000\n")
        #expect(plain.contains("## Deploy\n") && plain.contains("slipway deploy api --version VERSION --wait") && !plain.contains("--env"))
        #expect(plain.contains("Nothing is checked before this deploy"))
        #expect(plain.contains("Switches all traffic at once, then drains the old instances"))
    }
}
