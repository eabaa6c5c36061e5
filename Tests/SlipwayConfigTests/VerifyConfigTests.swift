import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `verify:`: what parses, every error at its field, environments overriding it, and the
/// runbook describing it.
@Suite struct VerifyConfigTests {
    @Test func analysisCommandAndRollbackParse() throws {
        let spec = try ConfigLoader.parse(minimal + """
            analysis:
              post: { checks: [ { metric: error_rate, max: 1%, window: 5m } ] }
            verify:
              after: [30m, 2h, 24h]
              analysis: post
              command: { run: [./smoke.sh, --quick], timeout: 2m, working_dir: checks }
              on_failure: rollback
            """, fileName: "slipway.yml", baseDirectory: "/srv/web")
        let verify = try #require(spec.verify)
        #expect(verify.after == [.seconds(1800), .seconds(7200), .seconds(86400)])
        #expect(verify.analysis == "post")
        #expect(verify.command?.run == ["./smoke.sh", "--quick"])
        #expect(verify.command?.timeout == .seconds(120))
        #expect(verify.command?.workingDirectory == "/srv/web/checks", "resolved against the config's directory")
        #expect(verify.onFailure == .rollback)
        // Stored specs round-trip through JSON.
        let copy = try JSONDecoder().decode(ServiceSpec.self, from: JSONEncoder().encode(spec))
        #expect(copy.verify == spec.verify)
    }

    @Test func theDefaultsAlertAndTheBuiltInPolicyNeedsNoDefinition() throws {
        let spec = try ConfigLoader.parse(minimal + "verify: { after: [10m], analysis: default }\n", fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.verify == VerifySpec(after: [.seconds(600)], analysis: "default"))
    }

    @Test func errorsNameTheField() {
        #expect(singleError(minimal + "verify: { after: [10m] }\n")
            == "3:18: verify.after: verify needs `analysis` (a policy name; `default` is the built-in one) or `command`, or both")
        #expect(singleError(minimal + "verify: { after: [2h, 30m], analysis: default }\n")
            == "3:18: verify.after: the offsets must be ascending and distinct (2h then 30m)")
        #expect(singleError(minimal + "verify: { after: [31d], analysis: default }\n")
            == "3:18: verify.after: 744h is further than 30 days after the deploy")
        #expect(singleError(minimal + "verify: { after: [], analysis: default }\n")?.hasPrefix("3:18: verify.after:") == true)
        #expect(singleError(minimal + "verify: { after: [0s], analysis: default }\n")?.hasPrefix("3:19: verify.after[0]:") == true)
        #expect(singleError(minimal + "verify: { after: [10m], analysis: strict }\n")
            == "3:35: verify.analysis: unknown analysis `strict`; the file defines none under `analysis:`")
        #expect(singleError(minimal + "verify: { after: [10m], analysis: default, on_failure: revert }\n")
            == "3:56: verify.on_failure: unknown value `revert`; allowed: `alert`, `rollback`")
        #expect(singleError(minimal + "verify: { analysis: default }\n")
            == "3:9: verify.after: `verify` lacks the required key `after`")
    }

    @Test func environmentsOverrideIt() throws {
        let units = try ConfigLoader.parseUnits(minimal + """
            verify: { after: [30m], analysis: default }
            environments:
              staging: {}
              production:
                listen: 127.0.0.1:9090
                verify: { after: [30m, 24h], analysis: default, on_failure: rollback }
            """, fileName: "slipway.yml", baseDirectory: nil)
        #expect(units.first { $0.environmentName == "staging" }?.verify == VerifySpec(after: [.seconds(1800)], analysis: "default"))
        #expect(units.first { $0.environmentName == "production" }?.verify?.onFailure == .rollback)
    }

    @Test func theRunbookSaysWhenAndWhatIsChecked() throws {
        let units = try ConfigLoader.parseUnits(minimal + """
            verify: { after: [30m, 2h], analysis: default, command: { run: [./smoke.sh] }, on_failure: rollback }
            """, fileName: "slipway.yml", baseDirectory: nil)
        let text = Runbook.markdown(units: units, source: "slipway.yml")
        #expect(text.contains("### After the deploy"), "\(text)")
        #expect(text.contains("Slipway checks the release at T+30m, T+2h after the deploy succeeded"), "\(text)")
        #expect(text.contains("Command: `./smoke.sh`"), "\(text)")
        #expect(text.contains("A failed check rolls back to the previous release"), "\(text)")
        #expect(text.contains("a failed post-deploy check (`verify:`) while the verified release still serves"), "\(text)")
        let plain = Runbook.markdown(units: try ConfigLoader.parseUnits(minimal, fileName: "slipway.yml", baseDirectory: nil), source: "slipway.yml")
        #expect(!plain.contains("After the deploy"))
    }
}
