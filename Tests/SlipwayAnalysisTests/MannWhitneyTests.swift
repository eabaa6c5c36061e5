import SlipwayCore
import Testing

@Suite struct MannWhitneyTests {
    static func weighted(_ pairs: [[Double]]) -> [WeightedValue] {
        pairs.map { WeightedValue($0[0], count: Int($0[1])) }
    }

    @Test(arguments: Fixtures.mannWhitney)
    func matchesSciPy(_ c: Fixtures.MannWhitneyCase) throws {
        let r = try #require(MannWhitney.test(Self.weighted(c.canary), greaterThan: Self.weighted(c.stable)))
        #expect(r.n1 == c.n_canary)
        #expect(r.n2 == c.n_stable)
        #expect(r.u == c.u)
        #expect(isClose(r.pValue, c.p), "p \(r.pValue) vs SciPy \(c.p)")
    }

    @Test func weightedCountsEqualRepeatedSamples() throws {
        let x = [WeightedValue(3, count: 4), WeightedValue(7, count: 2), WeightedValue(5, count: 3)]
        let y = [WeightedValue(5, count: 2), WeightedValue(1, count: 3), WeightedValue(7, count: 1)]
        let ones = { (w: [WeightedValue]) in w.flatMap { Array(repeating: WeightedValue($0.value, count: 1), count: $0.count) } }
        let weighted = try #require(MannWhitney.test(x, greaterThan: y))
        let expanded = try #require(MannWhitney.test(ones(x).reversed(), greaterThan: ones(y)))
        #expect(weighted == expanded)
    }

    @Test func uOfBothDirectionsSumsToAllPairs() throws {
        let x = [WeightedValue(10, count: 30), WeightedValue(12, count: 5), WeightedValue(20, count: 9)]
        let y = [WeightedValue(10, count: 7), WeightedValue(15, count: 40)]
        let a = try #require(MannWhitney.test(x, greaterThan: y))
        let b = try #require(MannWhitney.test(y, greaterThan: x))
        #expect(a.u + b.u == Double(a.n1 * a.n2))
        #expect(abs(a.effectSize + b.effectSize) < 1e-15)
    }

    @Test func fullySeparatedGroupsHaveTheLargestEffect() throws {
        let r = try #require(MannWhitney.test([WeightedValue(900, count: 60)], greaterThan: [WeightedValue(100, count: 60), WeightedValue(200, count: 40)]))
        #expect(r.probabilityOfSuperiority == 1)
        #expect(r.effectSize == 0.5)
        #expect(r.pValue < 1e-15)
    }

    @Test func oneValueEverywhereIsDegenerate() throws {
        let r = try #require(MannWhitney.test([WeightedValue(250, count: 60)], greaterThan: [WeightedValue(250, count: 90)]))
        #expect(r.isDegenerate)
        #expect(r.z == nil)
        #expect(r.pValue == 1)
        #expect(r.effectSize == 0)
    }

    @Test func emptyOrInvalidGroupsHaveNoResult() {
        #expect(MannWhitney.test([], greaterThan: [WeightedValue(1, count: 1)]) == nil)
        #expect(MannWhitney.test([WeightedValue(1, count: 0)], greaterThan: [WeightedValue(1, count: 1)]) == nil)
        #expect(MannWhitney.test([WeightedValue(.nan, count: 3)], greaterThan: [WeightedValue(1, count: 1)]) == nil)
    }

    /// Millions of samples in a few hundred buckets: work grows with buckets, not samples.
    @Test func largeCountsStayExactAndCheap() throws {
        let x = (0..<500).map { WeightedValue(Double(1000 + $0 * 10), count: 4_000 + $0) }
        let y = (0..<500).map { WeightedValue(Double(1000 + $0 * 10), count: 4_200 - $0) }
        let r = try #require(MannWhitney.test(x, greaterThan: y))
        #expect(r.n1 == 2_124_750 && r.n2 == 1_975_250)
        // U by brute force over bucket pairs, doubled to stay in integers.
        var twiceU = 0
        for a in x { for b in y where a.value >= b.value { twiceU += a.count * b.count * (a.value > b.value ? 2 : 1) } }
        #expect(r.u == Double(twiceU) / 2)
        #expect(r.probabilityOfSuperiority > 0.5)
        #expect(r.pValue < 1e-100)
    }
}
