import Foundation

/// JUnit XML (pytest `--junitxml`, Maven Surefire, `swift test --xunit-output`, Gradle…):
/// counts `<testcase>` elements and the `<failure>`, `<error>` and `<skipped>` inside them,
/// so nested suites and `<testsuites>` totals are never counted twice.
public enum JUnitReport {
    public static func parse(file: String) throws(EvidenceError) -> TestEvidence {
        let reader = try XMLEventReader(path: file)
        var evidence = TestEvidence()
        var outcomeOfCurrentCase = false
        var sawRoot = false
        while let event = try reader.next() {
            guard case .start(let name, _) = event else { continue }
            if !sawRoot {
                sawRoot = true
                guard name == "testsuites" || name == "testsuite" else {
                    throw reader.fail("not a JUnit report: the root element is <\(name)>, expected <testsuites> or <testsuite>")
                }
            }
            switch name {
            case "testcase":
                evidence.tests += 1
                outcomeOfCurrentCase = false
            case "failure", "error", "skipped":
                // One outcome per test case (some tools write both <failure> and <error>).
                guard !outcomeOfCurrentCase, evidence.tests > 0 else { break }
                outcomeOfCurrentCase = true
                switch name {
                case "failure": evidence.failures += 1
                case "error": evidence.errors += 1
                default: evidence.skipped += 1
                }
            default:
                break
            }
        }
        return evidence
    }
}

/// Cobertura XML (coverage.py `coverage xml`, JaCoCo converters, gcovr `--xml`): the root
/// `<coverage>` element's `lines-valid` / `lines-covered` (or `line-rate` when the counts
/// are missing). Reading stops after the root element's start tag, whatever the file's size.
public enum CoberturaReport {
    public static func parse(file: String) throws(EvidenceError) -> CoverageEvidence {
        let reader = try XMLEventReader(path: file)
        guard case .start(let name, let attributes) = try reader.next() else {
            throw EvidenceError(file: file, "no <coverage> element")
        }
        guard name == "coverage" else {
            throw reader.fail("not a Cobertura report: the root element is <\(name)>, expected <coverage>")
        }
        if let valid = attributes["lines-valid"].flatMap(Int.init), let covered = attributes["lines-covered"].flatMap(Int.init) {
            guard valid >= 0, covered >= 0, covered <= valid else {
                throw reader.fail("<coverage> says lines-covered=\(covered) of lines-valid=\(valid)")
            }
            return CoverageEvidence(linesValid: valid, linesCovered: covered)
        }
        if let rateText = attributes["line-rate"] {
            guard let rate = Double(rateText), rate >= 0, rate <= 1 else {
                throw reader.fail("<coverage line-rate=\"\(rateText)\"> is not a number between 0 and 1")
            }
            return CoverageEvidence(linesValid: 1_000_000, linesCovered: Int((rate * 1_000_000).rounded()))
        }
        throw reader.fail("<coverage> has neither lines-valid/lines-covered nor line-rate")
    }
}
