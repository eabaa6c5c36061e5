import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `environments:`: the merge rule, gate defaults, and every bad input named precisely.
@Suite struct EnvironmentConfigTests {
    static let base = """
        service: web
        run: [./web, --port, "{{port}}"]
        listen: 127.0.0.1:8080
        replicas: 3
        env: { A: one, B: two }
        health: { path: /health, interval: 2s }
        strategy:
          canary:
            steps: [{weight: 10}, {pause: 1m}]
            analysis: default

        """

    func units(_ yaml: String) throws -> [ServiceSpec] {
        try ConfigLoader.parseUnits(yaml, fileName: "slipway.yml", baseDirectory: nil)
    }

    @Test func eachEnvironmentIsAUnitWithTheServiceMergedWithItsOverrides() throws {
        let specs = try units(Self.base + """
            environments:
              dev:
                listen: 127.0.0.1:8081
                replicas: 1
                env: { B: dev-two, C: three }
                health: { interval: 500ms }
              production:
                strategy: { canary: { steps: [{weight: 5}, {weight: 50}] } }
              staging:
                listen: 127.0.0.1:8082
                strategy: { blue-green: { keep_previous: 1m } }
            """)
        #expect(specs.map(\.name) == ["web@dev", "web@production", "web@staging"], "units keep the written order")
        #expect(specs.map { $0.environment?.order } == [0, 1, 2])
        let dev = specs[0]
        // Scalars replace; mappings merge key by key.
        #expect(dev.replicas == 1 && dev.listen.port == 8081)
        #expect(dev.env == ["A": "one", "B": "dev-two", "C": "three"])
        #expect(dev.health.path == "/health" && dev.health.interval == .milliseconds(500))
        #expect(dev.serviceName == "web" && dev.environmentName == "dev")
        // Same strategy kind: merged (the list replaces, `analysis` stays); another kind replaces.
        let production = specs[1]
        #expect(production.strategy.canary?.steps.count == 2 && production.strategy.canary?.analysis == "default")
        #expect(production.replicas == 3 && production.listen.port == 8080)
        #expect(specs[2].strategy.canary == nil && specs[2].strategy.blueGreen.keepPrevious == .seconds(60))
    }

    @Test func gatesDefaultByEnvironmentNameAndCanBeTurnedOff() throws {
        let specs = try units(Self.base.replacingOccurrences(of: "listen: 127.0.0.1:8080\n", with: "") + """
            environments:
              dev: { listen: 9001 }
              staging: { listen: 9002, gates: { coverage: 90, secrets: off } }
              production: { listen: 9003, promote_from: staging, approvals: 2, four_eyes: true, approval_timeout: 2h }
              qa: { listen: 9004 }
            """)
        let gates = specs.map { $0.environment!.gates }
        #expect(gates[0] == GateSpec(coverage: 70, testPassRate: 90, criticalVulns: 2, highVulns: 10, secrets: 0))
        #expect(gates[1] == GateSpec(coverage: 90, testPassRate: 95, criticalVulns: 1, highVulns: 7, secrets: nil))
        #expect(gates[2] == GateSpec(coverage: 85, testPassRate: 98, criticalVulns: 0, highVulns: 5, secrets: 0))
        #expect(gates[3].isEmpty, "a name the documents do not know has no default gates")
        let production = try #require(specs[2].environment)
        #expect(production.promoteFrom == "staging" && production.approvals == 2 && production.fourEyes && production.approvalTimeout == .seconds(7200))
        #expect(production.secretsScope == "production")
    }

    @Test func unknownKeysInAnEnvironmentAreSuggested() {
        #expect(singleError(Self.base + "environments:\n  staging: { replcas: 2 }\n")
            == "12:14: environments.staging.replcas: unknown key `replcas`; did you mean `replicas`?")
        #expect(singleError(Self.base + "environments:\n  staging: { run: [./other] }\n")?.contains("environments.staging.run: unknown key `run`") == true)
    }

    @Test func aBadOverrideIsReportedAtTheEnvironmentsLine() {
        let error = singleError(Self.base + "environments:\n  staging:\n    listen: 9000\n    replicas: 500\n")
        #expect(error == "14:15: replicas: must be between 1 and 100 (got 500)", "\(error ?? "")")
    }

    @Test func promoteFromMustNameAnotherEnvironmentWithoutCycles() {
        let unknown = singleError(Self.base + "environments:\n  staging: { listen: 1 }\n  production: { listen: 2, promote_from: stagin }\n")
        #expect(unknown?.hasSuffix("environments.production.promote_from: promote_from names \"stagin\", which is not an environment of this service; environments: staging, production") == true, "\(unknown ?? "")")
        let errors = configErrors(Self.base + "environments:\n  a: { listen: 1, promote_from: c }\n  b: { listen: 2, promote_from: a }\n  c: { listen: 3, promote_from: b }\n")
        #expect(errors.count == 3)
        #expect(errors.first.map(short)?.contains("promote_from makes a cycle: a → c → b → a") == true, "\(errors)")
        #expect(singleError(Self.base + "environments:\n  a: { listen: 1, promote_from: a }\n")?.contains("cycle: a → a") == true)
    }

    @Test func environmentsMustNotShareAnAddress() {
        let error = singleError(Self.base + "environments:\n  staging: {}\n  production: {}\n")
        #expect(error?.contains("environments staging and production would both answer every host on port 8080") == true, "\(error ?? "")")
        // Distinct host names on one port are fine.
        #expect(throws: Never.self) {
            try units(Self.base + "environments:\n  staging: { hosts: [staging.example.com] }\n  production: { hosts: [www.example.com] }\n")
        }
    }

    @Test func freezeWindowsNeedTimesInOrderAndAReason() throws {
        let specs = try units(Self.base + "environments:\n  production:\n    freeze:\n      - { from: 2026-12-24, to: \"2026-12-27T06:00:00+01:00\", reason: holidays }\n")
        let window = try #require(specs[0].environment?.freezes.first)
        #expect(window.from == 1_798_070_400 && window.to == 1_798_347_600 && window.reason == "holidays")
        #expect(window.contains(1_798_100_000) && !window.contains(1_798_347_600))
        let backwards = singleError(Self.base + "environments:\n  production:\n    freeze: [{ from: 2026-12-27, to: 2026-12-24, reason: x }]\n")
        #expect(backwards?.contains("`to` (2026-12-24T00:00:00Z) must be after `from` (2026-12-27T00:00:00Z)") == true, "\(backwards ?? "")")
        let notATime = singleError(Self.base + "environments:\n  production:\n    freeze: [{ from: christmas, to: 2026-12-24, reason: x }]\n")
        #expect(notATime?.contains("\"christmas\" is not a time: use RFC 3339") == true, "\(notATime ?? "")")
        #expect(singleError(Self.base + "environments:\n  production:\n    freeze: [{ from: 2026-12-24, to: 2026-12-25 }]\n")?.contains("lacks the required key `reason`") == true)
    }

    @Test func recurringFreezeWindowsNeedValidTextAndZone() throws {
        let specs = try units(Self.base + "environments:\n  production:\n    freeze:\n      - { every: \"fri 16:00-mon 08:00\", time_zone: Europe/Berlin, reason: weekend }\n      - { every: \"22:00-06:00\", reason: nights }\n")
        let freezes = try #require(specs[0].environment?.freezes)
        #expect(freezes.count == 2)
        #expect(freezes[0].every?.text == "fri 16:00-mon 08:00" && freezes[0].timeZone == "Europe/Berlin")
        #expect(freezes[1].every?.weekly == false && freezes[1].timeZone == nil)
        let bad = singleError(Self.base + "environments:\n  production:\n    freeze:\n      - { every: \"fry 16:00-mon 08:00\", reason: x }\n")
        #expect(bad?.hasPrefix("14:18: ") == true && bad?.contains("environments.production.freeze[0].every: \"fry\" in") == true, "\(bad ?? "")")
        let zone = singleError(Self.base + "environments:\n  production:\n    freeze: [{ every: sat-sun, time_zone: Mars/Olympus, reason: x }]\n")
        #expect(zone?.contains("\"Mars/Olympus\" is not a time zone") == true, "\(zone ?? "")")
        let both = singleError(Self.base + "environments:\n  production:\n    freeze: [{ every: sat-sun, from: 2026-12-24, reason: x }]\n")
        #expect(both?.contains("give either `every` (a recurring window) or `from` and `to`") == true, "\(both ?? "")")
        let zoneWithoutEvery = singleError(Self.base + "environments:\n  production:\n    freeze: [{ from: 2026-12-24, to: 2026-12-25, time_zone: UTC, reason: x }]\n")
        #expect(zoneWithoutEvery?.contains("`time_zone` applies to `every`") == true, "\(zoneWithoutEvery ?? "")")
        let neither = singleError(Self.base + "environments:\n  production:\n    freeze: [{ from: 2026-12-24, reason: x }]\n")
        #expect(neither?.contains("`to` is missing") == true, "\(neither ?? "")")
    }

    @Test func badEnvironmentNamesAndShapes() {
        #expect(singleError(Self.base + "environments:\n  Prod: {}\n")?.contains("\"Prod\" is not a valid environment name") == true)
        #expect(singleError(Self.base + "environments: {}\n")?.contains("lists no environment") == true)
        #expect(singleError(Self.base + "environments: [staging]\n")?.contains("expected a mapping of environment names") == true)
        #expect(singleError(Self.base + "environments:\n  staging: { gates: { coverage: 120 } }\n")?.contains("environments.staging.gates.coverage: must be from 0 to 100") == true)
    }

    @Test func theEnvironmentsExampleLoads() throws {
        let path = repositoryRoot.appendingPathComponent("Examples/hello/environments.yml").path
        let specs = try ConfigLoader.loadUnits(file: path)
        #expect(specs.map(\.name) == ["hello@dev", "hello@staging", "hello@production"])
        #expect(specs[0].environment?.gates.coverage == nil && specs[0].environment?.gates.testPassRate == 90)
        #expect(specs[2].strategy.canary?.steps.count == 4 && specs[2].replicas == 2 && specs[2].environment?.approvals == 1)
    }

    @Test func configShowNamesWhereEveryValueComesFrom() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-explain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("slipway.yml").path
        try (Self.base + "environments:\n  staging:\n    listen: 9000\n    env: { B: staged }\n  production: { listen: 9001, approvals: 1 }\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let staging = try ConfigExplain.explain(file: file, environment: "staging")
        #expect(staging.unit == "web@staging" && staging.environments == ["staging", "production"])
        func line(_ key: String) -> ConfigExplain.Line? { staging.lines.first { $0.key == key } }
        #expect(line("replicas") == .init(key: "replicas", value: "3", origin: "\(file):4"))
        #expect(line("listen")?.origin == "environments.staging (\(file):13)")
        #expect(line("env.B") == .init(key: "env.B", value: "staged", origin: "environments.staging (\(file):14)"))
        #expect(line("env.A")?.origin == "\(file):5")
        #expect(line("upstream_timeout")?.origin == "default")
        #expect(line("environments.staging.gates.coverage") == .init(key: "environments.staging.gates.coverage", value: "80", origin: "default"))
        #expect(line("service")?.value == "web")
        let production = try ConfigExplain.explain(file: file, environment: "production")
        #expect(production.lines.first { $0.key == "environments.production.approvals" }?.origin == "\(file):15")
        #expect(throws: ConfigErrors.self) { try ConfigExplain.explain(file: file, environment: "qa") }
        #expect(throws: ConfigErrors.self) { try ConfigExplain.explain(file: file, environment: nil) }
    }
}
