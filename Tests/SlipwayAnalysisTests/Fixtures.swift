import Foundation
import Testing

/// Reference values computed by SciPy (scripts/analysis_fixtures.py).
enum Fixtures {
    struct MannWhitneyCase: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var canary: [[Double]]
        var stable: [[Double]]
        var n_canary: Int
        var n_stable: Int
        var u: Double
        var p: Double
        var testDescription: String { name }
    }

    struct TwoProportionCase: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var canary_errors: Int
        var canary_total: Int
        var stable_errors: Int
        var stable_total: Int
        var z: Double?
        var p: Double?
        var testDescription: String { name }
    }

    private struct File<Case: Decodable>: Decodable {
        var scipy: String
        var cases: [Case]
    }

    /// Empty when the file is missing or unreadable; `FixtureFileTests` fails then.
    static let mannWhitney: [MannWhitneyCase] = load("mann_whitney")
    static let twoProportion: [TwoProportionCase] = load("two_proportion")

    private static func load<Case: Decodable>(_ name: String) -> [Case] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url),
              let file = try? JSONDecoder().decode(File<Case>.self, from: data) else { return [] }
        return file.cases
    }
}

/// SciPy's p-values are matched to 1e-9 relative or 1e-12 absolute.
func isClose(_ actual: Double?, _ expected: Double?) -> Bool {
    guard let actual, let expected else { return actual == nil && expected == nil }
    let diff = abs(actual - expected)
    return diff <= 1e-12 || diff <= 1e-9 * abs(expected)
}

@Suite struct FixtureFileTests {
    @Test func fixturesLoad() {
        #expect(Fixtures.mannWhitney.count >= 20)
        #expect(Fixtures.twoProportion.count >= 10)
    }
}
