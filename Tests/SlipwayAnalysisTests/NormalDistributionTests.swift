import SlipwayCore
import Testing

@Suite struct NormalDistributionTests {
    /// (z, scipy.stats.norm.sf(z)), including tails where 1 − cdf would be 0.
    @Test(arguments: [
        (0.0, 0.5),
        (1.959963984540054, 0.025),
        (-3.0, 0.9986501019683699),
        (0.5, 0.3085375387259869),
        (-0.3, 0.6179114221889526),
        (10.0, 7.61985302416047e-24),
        (30.0, 4.906713927147908e-198),
        (37.5, 4.605353009581954e-308),
    ])
    func survivalMatchesSciPy(z: Double, expected: Double) {
        #expect(isClose(NormalDistribution.sf(z), expected))
    }

    @Test func cdfAndSurvivalAreComplements() {
        for z in stride(from: -8.0, through: 8.0, by: 0.25) {
            #expect(abs(NormalDistribution.cdf(z) + NormalDistribution.sf(z) - 1) < 1e-15)
            #expect(NormalDistribution.sf(-z) == NormalDistribution.cdf(z))
        }
    }

    @Test func infinitiesAndNaN() {
        #expect(NormalDistribution.sf(.infinity) == 0)
        #expect(NormalDistribution.sf(-.infinity) == 1)
        #expect(NormalDistribution.sf(.nan).isNaN)
    }
}
