import Foundation

/// The standard normal distribution, for turning z statistics into p-values.
///
/// `cdf` follows SciPy's `scipy.special.ndtr` (Cephes) branch for branch, so p-values
/// agree with `scipy.stats.norm` to within the accuracy of `erf`/`erfc` — far in the
/// tails too, where `1 - cdf` would lose everything to cancellation.
public enum NormalDistribution {
    private static let sqrtHalf = 0.70710678118654752440

    /// P(Z ≤ z).
    public static func cdf(_ z: Double) -> Double {
        if z.isNaN { return .nan }
        let x = z * sqrtHalf
        let ax = abs(x)
        if ax < sqrtHalf { return 0.5 + 0.5 * erf(x) }
        let tail = 0.5 * erfc(ax)
        return x > 0 ? 1 - tail : tail
    }

    /// The survival function P(Z > z) = `scipy.stats.norm.sf(z)`: the one-sided p-value
    /// of an upper-tail test.
    public static func sf(_ z: Double) -> Double {
        cdf(-z)
    }
}
