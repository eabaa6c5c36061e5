@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `hooks:`: what parses (with defaults and per-environment overrides) and the precise
/// error for what does not.
@Suite struct HookConfigTests {
    func parse(_ yaml: String) throws -> ServiceSpec {
        try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: "/srv/app")
    }

    @Test func everyHookParsesWithDefaults() throws {
        let spec = try parse(minimal + """
            hooks:
              pre_deploy: { run: ["./migrate", "up"], timeout: 5m, working_dir: db, env: { X: "1" } }
              smoke: { run: ["./smoke.sh"], timeout: 1m }
              post_deploy: { run: ["./notify.sh"] }
              on_rollback: { run: ["/usr/local/bin/undo"] }
            """)
        #expect(spec.hooks.preDeploy == HookSpec(run: ["./migrate", "up"], workingDirectory: "/srv/app/db", env: ["X": "1"], timeout: .seconds(300)))
        #expect(spec.hooks.smoke == HookSpec(run: ["./smoke.sh"], timeout: .seconds(60)))
        #expect(spec.hooks.postDeploy?.timeout == Defaults.hookTimeout)
        #expect(spec.hooks.onRollback?.workingDirectory == nil)
    }

    @Test func anEnvironmentOverridesOneHook() throws {
        let units = try ConfigLoader.parseUnits(minimal + """
            hooks:
              pre_deploy: { run: ["./migrate"], timeout: 5m }
              smoke: { run: ["./smoke.sh"] }
            environments:
              staging: {}
              production:
                listen: 9090
                hooks:
                  pre_deploy: { run: ["./migrate", "--careful"], timeout: 20m }
            """, fileName: "slipway.yml", baseDirectory: nil)
        let staging = try #require(units.first { $0.environmentName == "staging" })
        let production = try #require(units.first { $0.environmentName == "production" })
        #expect(staging.hooks.preDeploy?.run == ["./migrate"])
        #expect(production.hooks.preDeploy == HookSpec(run: ["./migrate", "--careful"], timeout: .seconds(1200)))
        #expect(production.hooks.smoke?.run == ["./smoke.sh"])
    }

    @Test func aHookWithoutRunIsNamed() {
        #expect(singleError(minimal + "hooks:\n  pre_deploy: { timeout: 5m }\n")
            == "4:15: hooks.pre_deploy.run: `hooks.pre_deploy` lacks the required key `run`")
    }

    @Test func aBadTimeoutIsNamed() {
        #expect(singleError(minimal + "hooks:\n  smoke: { run: [./smoke], timeout: soon }\n")?.hasPrefix("4:37: hooks.smoke.timeout:") == true)
    }

    @Test func anUnknownHookIsSuggested() {
        #expect(singleError(minimal + "hooks:\n  predeploy: { run: [./migrate] }\n")
            == "4:3: hooks.predeploy: unknown key `predeploy`; did you mean `pre_deploy`?")
    }

    @Test func hooksWorkWithCanaryAndRolling() throws {
        let canary = try parse(minimal + "strategy: { canary: { steps: [ {weight: 10} ] } }\nhooks:\n  pre_deploy: { run: [./migrate] }\n  smoke: { run: [./smoke] }\n  on_rollback: { run: [./undo] }\n")
        #expect(canary.strategy.canary != nil)
        #expect(canary.hooks.preDeploy?.run == ["./migrate"])
        #expect(canary.hooks.smoke?.run == ["./smoke"])
        #expect(canary.hooks.onRollback?.run == ["./undo"])
        let rolling = try parse(minimal + "strategy: { rolling: { max_surge: 1 } }\nhooks:\n  pre_deploy: { run: [./migrate] }\n  post_deploy: { run: [./notify] }\n")
        #expect(rolling.strategy.rolling != nil)
        #expect(rolling.hooks.preDeploy?.run == ["./migrate"])
        #expect(rolling.hooks.postDeploy?.run == ["./notify"])
    }

    @Test func aCanarySmokeHookStillNeedsPinning() {
        #expect(singleError(minimal + "strategy: { canary: { steps: [ {weight: 10} ] } }\npin: { allow: [] }\nhooks:\n  smoke: { run: [./smoke] }\n")?
            .hasSuffix("hooks.smoke reaches the new release with the pin header, but `pin.allow` is empty (pinning is off); allow at least 127.0.0.0/8") == true)
    }

    @Test func aSmokeHookNeedsPinning() {
        #expect(singleError(minimal + "pin: { allow: [] }\nhooks:\n  smoke: { run: [./smoke] }\n")?
            .hasSuffix("hooks.smoke reaches the new release with the pin header, but `pin.allow` is empty (pinning is off); allow at least 127.0.0.0/8") == true)
    }
}
