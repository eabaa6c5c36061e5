/// One distinct sample value and how many samples had it (one histogram bucket).
public struct WeightedValue: Codable, Sendable, Equatable {
    public var value: Double
    public var count: Int

    public init(_ value: Double, count: Int) {
        self.value = value
        self.count = count
    }
}

/// The result of a one-sided Mann–Whitney U test "is X stochastically greater than Y".
public struct MannWhitneyResult: Codable, Sendable, Equatable {
    /// U of the first group (X): the number of (x, y) pairs with x > y, plus half the
    /// pairs with x = y. The same number as SciPy's `mannwhitneyu(x, y).statistic`.
    public var u: Double
    public var n1: Int
    public var n2: Int
    /// The standardised statistic (tie- and continuity-corrected); nil when every sample
    /// of both groups has the same value, so the variance is zero and z is undefined.
    public var z: Double?
    /// One-sided p-value of "X is greater". 1 when `z` is nil, as SciPy reports it.
    public var pValue: Double

    /// U / (n1·n2) = P(X > Y) + ½·P(X = Y) for a random pair: the common-language effect
    /// size (Vargha–Delaney A). 0.5 means neither group tends to be larger.
    public var probabilityOfSuperiority: Double { u / (Double(n1) * Double(n2)) }

    /// `probabilityOfSuperiority − 0.5`, from −0.5 (X always smaller) to 0.5 (X always larger).
    public var effectSize: Double { probabilityOfSuperiority - 0.5 }

    /// Every sample in both groups has the same value: the test is undefined.
    public var isDegenerate: Bool { z == nil }
}

/// The Mann–Whitney U test on weighted samples, with the normal approximation, tie
/// correction and continuity correction. Matches
/// `scipy.stats.mannwhitneyu(x, y, alternative='greater', method='asymptotic', use_continuity=True)`.
///
/// Work is O(k log k) in the number k of distinct values, not in the number of samples:
/// each distinct value gets the mid-rank of its tie block, weighted by its counts.
public enum MannWhitney {
    /// Tests whether `x` tends to be greater than `y`. Entries may repeat a value and
    /// counts of zero or less are ignored. Nil when either group has no samples, a value
    /// is NaN, or the groups hold 2³¹ samples or more.
    public static func test(_ x: [WeightedValue], greaterThan y: [WeightedValue]) -> MannWhitneyResult? {
        guard let a = condensed(x), let b = condensed(y) else { return nil }
        let n1 = a.reduce(0) { $0 + $1.count }
        let n2 = b.reduce(0) { $0 + $1.count }
        guard n1 > 0, n2 > 0, n1 + n2 < 1 << 31 else { return nil }

        // Walk the distinct values of both groups in ascending order. A tie block of t
        // samples starting after `below` smaller samples has mid-rank below + (t + 1) / 2;
        // sums of ranks are kept doubled so they stay exact integers.
        var i = 0, j = 0, below = 0, twiceR1 = 0, blocks = 0
        var tieTerm = 0.0
        while i < a.count || j < b.count {
            let value = min(i < a.count ? a[i].value : .infinity, j < b.count ? b[j].value : .infinity)
            var cx = 0, cy = 0
            if i < a.count, a[i].value == value { cx = a[i].count; i += 1 }
            if j < b.count, b[j].value == value { cy = b[j].count; j += 1 }
            let t = cx + cy
            twiceR1 += cx * (2 * below + t + 1)
            let tt = Double(t)
            tieTerm += tt * tt * tt - tt
            below += t
            blocks += 1
        }
        let u = Double(twiceR1 - n1 * (n1 + 1)) / 2
        if blocks == 1 {
            return MannWhitneyResult(u: u, n1: n1, n2: n2, z: nil, pValue: 1)
        }
        let n = n1 + n2
        let mu = Double(n1 * n2) / 2
        let sigma = (Double(n1 * n2) / 12 * (Double(n + 1) - tieTerm / Double(n * (n - 1)))).squareRoot()
        let z = (u - mu - 0.5) / sigma
        let p = min(max(NormalDistribution.sf(z), 0), 1)
        return MannWhitneyResult(u: u, n1: n1, n2: n2, z: z, pValue: p)
    }

    /// Sorted by value, one entry per distinct value, positive counts only; nil on NaN.
    static func condensed(_ values: [WeightedValue]) -> [WeightedValue]? {
        if values.contains(where: { $0.value.isNaN }) { return nil }
        let sorted = values.filter { $0.count > 0 }.sorted { $0.value < $1.value }
        var out: [WeightedValue] = []
        out.reserveCapacity(sorted.count)
        for entry in sorted {
            if let last = out.last, last.value == entry.value {
                out[out.count - 1].count += entry.count
            } else {
                out.append(entry)
            }
        }
        return out
    }
}
