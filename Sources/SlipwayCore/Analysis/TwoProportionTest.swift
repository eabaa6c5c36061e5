/// The result of a one-sided two-proportion z-test "is the first proportion higher".
public struct TwoProportionResult: Codable, Sendable, Equatable {
    public var successes1: Int
    public var trials1: Int
    public var successes2: Int
    public var trials2: Int
    /// Standardised difference with the pooled variance; nil when the pooled proportion
    /// is 0 or 1 (no successes anywhere, or nothing else), where the test is undefined.
    public var z: Double?
    /// One-sided p-value of "proportion 1 is higher"; nil exactly when `z` is nil.
    public var pValue: Double?

    public var proportion1: Double { Double(successes1) / Double(trials1) }
    public var proportion2: Double { Double(successes2) / Double(trials2) }
    /// proportion1 − proportion2: the absolute difference, the effect size we judge by.
    public var difference: Double { proportion1 - proportion2 }
    public var pooledProportion: Double { Double(successes1 + successes2) / Double(trials1 + trials2) }
}

/// The two-proportion z-test with pooled variance, one-sided (first group higher): what
/// statsmodels' `proportions_ztest(alternative='larger')` computes. In SciPy terms
/// z = (p1 − p2) / √(p(1 − p)(1/n1 + 1/n2)) with p the pooled proportion, and the
/// p-value is `scipy.stats.norm.sf(z)`.
public enum TwoProportionTest {
    /// Nil when a group has no trials, or a count is negative or exceeds its trials.
    public static func test(_ successes1: Int, of trials1: Int, greaterThan successes2: Int, of trials2: Int) -> TwoProportionResult? {
        guard trials1 > 0, trials2 > 0,
              (0...trials1).contains(successes1), (0...trials2).contains(successes2) else { return nil }
        var result = TwoProportionResult(successes1: successes1, trials1: trials1, successes2: successes2, trials2: trials2)
        let pooled = result.pooledProportion
        let variance = pooled * (1 - pooled) * (1 / Double(trials1) + 1 / Double(trials2))
        if variance > 0 {
            let z = result.difference / variance.squareRoot()
            result.z = z
            result.pValue = NormalDistribution.sf(z)
        }
        return result
    }
}
