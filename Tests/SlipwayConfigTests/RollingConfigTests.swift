@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `strategy.rolling`: what parses, and the precise error for what does not.
@Suite struct RollingConfigTests {
    @Test func parsesEveryKey() throws {
        let spec = try ConfigLoader.parse(minimal + """
            replicas: 4
            strategy:
              rolling: { max_surge: 2, max_unavailable: 1, analysis: smoke, rollback: batches, deploy_timeout: 30s, drain_timeout: 5s }
            analysis:
              smoke: { checks: [ {metric: error_rate, max: 1%} ] }
            """, fileName: "slipway.yml", baseDirectory: nil)
        let rolling = try #require(spec.strategy.rolling)
        #expect(rolling == RollingSpec(maxSurge: 2, maxUnavailable: 1, analysis: "smoke", rollback: .batches, timing: BlueGreenSpec(deployTimeout: .seconds(30), drainTimeout: .seconds(5))))
        #expect(spec.strategy.blueGreen.deployTimeout == .seconds(30))
        #expect(spec.strategy.name == "rolling")
    }

    @Test func defaultsSurgeOneUnavailableZero() throws {
        let spec = try ConfigLoader.parse(minimal + "strategy: rolling\n", fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.strategy == .rolling(RollingSpec()))
        #expect(RollingSpec().maxSurge == Defaults.rollingMaxSurge && RollingSpec().maxUnavailable == Defaults.rollingMaxUnavailable)
    }

    @Test func bothZeroIsAnErrorNamingTheLine() {
        #expect(singleError(minimal + "strategy:\n  rolling:\n    max_surge: 0\n    max_unavailable: 0\n")
            == "5:16: strategy.rolling.max_surge: strategy.rolling.max_surge and strategy.rolling.max_unavailable are both 0: no instance could ever be replaced; allow a surge (1 starts one new instance before stopping an old one) or some unavailability")
        // A surge of 0 alone is fine: the default max_unavailable is 0, so it must be given.
        #expect(singleError(minimal + "strategy:\n  rolling: { max_surge: 0 }\n")?.contains("are both 0") == true)
        #expect((try? ConfigLoader.parse(minimal + "strategy:\n  rolling: { max_surge: 0, max_unavailable: 1 }\n", fileName: "slipway.yml", baseDirectory: nil)) != nil)
    }

    @Test func badValuesAreNamed() {
        #expect(singleError(minimal + "strategy:\n  rolling: { max_surge: -1 }\n")?.contains("strategy.rolling.max_surge") == true)
        #expect(singleError(minimal + "strategy:\n  rolling: { max_sruge: 1 }\n")?.contains("did you mean `max_surge`?") == true)
        #expect(singleError(minimal + "strategy:\n  rolling: { rollback: batch }\n")?.contains("strategy.rolling.rollback: unknown value `batch`; did you mean `batches`?") == true)
        #expect(singleError(minimal + "strategy:\n  rolling: { analysis: smoke }\n")
            == "4:24: strategy.rolling.analysis: unknown analysis `smoke`; the file defines none under `analysis:`")
    }

    @Test func valuesAboveReplicasActAsReplicas() {
        #expect(RollingSpec(maxSurge: 10, maxUnavailable: 0).effective(replicas: 3) == (3, 0))
        #expect(RollingSpec(maxSurge: 0, maxUnavailable: 9).effective(replicas: 2) == (0, 2))
        #expect(RollingSpec(maxSurge: 0, maxUnavailable: 0).effective(replicas: 2) == (1, 0))
    }
}
