import SlipwayCore
import Testing

@Suite struct TwoProportionTests {
    @Test(arguments: Fixtures.twoProportion)
    func matchesSciPy(_ c: Fixtures.TwoProportionCase) throws {
        let r = try #require(TwoProportionTest.test(c.canary_errors, of: c.canary_total, greaterThan: c.stable_errors, of: c.stable_total))
        #expect(isClose(r.z, c.z), "z \(String(describing: r.z)) vs SciPy \(String(describing: c.z))")
        #expect(isClose(r.pValue, c.p), "p \(String(describing: r.pValue)) vs SciPy \(String(describing: c.p))")
    }

    @Test func reportsProportionsAndTheirDifference() throws {
        let r = try #require(TwoProportionTest.test(82, of: 412, greaterThan: 4, of: 3981))
        #expect(r.proportion1 == 82.0 / 412)
        #expect(r.proportion2 == 4.0 / 3981)
        #expect(r.difference == 82.0 / 412 - 4.0 / 3981)
        #expect(r.pooledProportion == 86.0 / 4393)
    }

    @Test func undefinedWithoutVariance() throws {
        let none = try #require(TwoProportionTest.test(0, of: 100, greaterThan: 0, of: 50))
        #expect(none.z == nil && none.pValue == nil && none.difference == 0)
        let all = try #require(TwoProportionTest.test(100, of: 100, greaterThan: 50, of: 50))
        #expect(all.z == nil && all.pValue == nil)
    }

    @Test func rejectsImpossibleCounts() {
        #expect(TwoProportionTest.test(1, of: 0, greaterThan: 0, of: 10) == nil)
        #expect(TwoProportionTest.test(11, of: 10, greaterThan: 0, of: 10) == nil)
        #expect(TwoProportionTest.test(-1, of: 10, greaterThan: 0, of: 10) == nil)
    }
}
