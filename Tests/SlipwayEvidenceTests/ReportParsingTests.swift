import Foundation
import SlipwayEvidence
import SlipwayTesting
import Testing

/// Reports made by the real tools (pytest, coverage.py; scripts/test.sh installs them),
/// checked against what the tools themselves say; hand-written files only for the broken
/// inputs no tool writes.
@Suite(.serialized) struct ReportParsingTests {
    /// A small Python project with 3 passing tests, 1 failing, 1 skipped and 1 erroring
    /// fixture, run under coverage.py; returns the folder with report.xml, coverage.xml,
    /// coverage.lcov and coverage.json.
    static func pythonProject() async throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory(prefix: "slipway-evidence")
        _ = try dir.write("calc.py", """
            def add(a, b):
                return a + b


            def div(a, b):
                if b == 0:
                    raise ZeroDivisionError("b is zero")
                return a / b


            def unused(x):
                y = x * 2
                return y + 1
            """)
        _ = try dir.write("test_calc.py", """
            import pytest
            from calc import add, div


            def test_add():
                assert add(2, 3) == 5


            def test_div():
                assert div(6, 3) == 2


            def test_div_zero():
                with pytest.raises(ZeroDivisionError):
                    div(1, 0)


            def test_wrong():
                assert add(1, 1) == 3


            @pytest.mark.skip(reason="not today")
            def test_skipped():
                pass


            @pytest.fixture
            def broken():
                raise RuntimeError("fixture fails")


            def test_error(broken):
                pass
            """)
        let script = "cd \(dir.path) && PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python3 -m coverage run --include=calc.py -m pytest -q --junitxml=report.xml -p no:cacheprovider; "
            + "python3 -m coverage xml -o coverage.xml && python3 -m coverage lcov -o coverage.lcov && python3 -m coverage json -o coverage.json"
        let run = try await runCommand("/bin/sh", ["-c", script], timeout: .seconds(120))
        guard run.status == 0, FileManager.default.fileExists(atPath: dir.file("report.xml")) else {
            throw EvidenceError(file: dir.path, "the python project did not produce its reports (\(run.status)): \(run.stdout)\(run.stderr)")
        }
        return dir
    }

    @Test func reportsFromPytestAndCoverageMatchWhatTheToolsSay() async throws {
        let dir = try await Self.pythonProject()
        defer { dir.remove() }
        let tests = try JUnitReport.parse(file: dir.file("report.xml"))
        #expect(tests == TestEvidence(tests: 6, failures: 1, errors: 1, skipped: 1))
        #expect(tests.passed == 3)
        #expect(tests.passRate == 60)

        // coverage.py's own JSON summary is the oracle for both coverage formats.
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("coverage.json")))) as? [String: Any])
        let totals = try #require(summary["totals"] as? [String: Any])
        let statements = try #require(totals["num_statements"] as? Int)
        let covered = try #require(totals["covered_lines"] as? Int)
        #expect(statements > covered && covered > 0, "unused() is not covered")
        let cobertura = try CoberturaReport.parse(file: dir.file("coverage.xml"))
        #expect(cobertura == CoverageEvidence(linesValid: statements, linesCovered: covered))
        let lcov = try LCOVReport.parse(file: dir.file("coverage.lcov"))
        #expect(lcov == CoverageEvidence(linesValid: statements, linesCovered: covered))
        #expect(abs((lcov.percent ?? 0) - Double(covered) / Double(statements) * 100) < 1e-9)
    }

    static func error(_ body: () throws -> some Any) -> EvidenceError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? EvidenceError
        }
    }

    @Test func brokenReportsNameTheFileAndPosition() async throws {
        let dir = try await Self.pythonProject()
        defer { dir.remove() }
        // Truncated mid-file (a CI upload cut short): no tool writes this, so we cut one.
        let text = try String(contentsOfFile: dir.file("report.xml"), encoding: .utf8)
        let cut = try dir.write("cut.xml", String(text.prefix(text.count / 2)))
        let truncatedError = try #require(Self.error { try JUnitReport.parse(file: cut) })
        #expect(truncatedError.file == cut && truncatedError.line != nil, "\(truncatedError)")
        #expect(truncatedError.message.hasSuffix("truncated?)"), "\(truncatedError)")
        let wrongRoot = try dir.write("wrong.xml", "<?xml version=\"1.0\"?>\n<html><body/></html>\n")
        let rootError = try #require(Self.error { try JUnitReport.parse(file: wrongRoot) })
        #expect(rootError.file == wrongRoot && rootError.line == 2)
        #expect(rootError.message == "not a JUnit report: the root element is <html>, expected <testsuites> or <testsuite>")
        let coberturaError = try #require(Self.error { try CoberturaReport.parse(file: dir.file("report.xml")) })
        #expect(coberturaError.line == 1 && coberturaError.message == "not a Cobertura report: the root element is <testsuites>, expected <coverage>", "\(coberturaError)")
        let unclosed = try dir.write("unclosed.xml", "<testsuites>\n  <testsuite>\n    <testcase name=\"a\"/>\n")
        let unclosedError = try #require(Self.error { try JUnitReport.parse(file: unclosed) })
        #expect(unclosedError.file == unclosed && unclosedError.line != nil, "\(unclosedError)")
        #expect(throws: EvidenceError(file: dir.file("nope.xml"), "no such readable file")) { try JUnitReport.parse(file: dir.file("nope.xml")) }

        let lcov = try String(contentsOfFile: dir.file("coverage.lcov"), encoding: .utf8)
        let truncated = try dir.write("cut.lcov", lcov.replacingOccurrences(of: "end_of_record\n", with: ""))
        #expect(throws: EvidenceError.self) { try LCOVReport.parse(file: truncated) }
        let lines = lcov.split(separator: "\n", omittingEmptySubsequences: false)
        let lfLine = try #require(lines.firstIndex { $0.hasPrefix("LF:") })
        var garbled = lines
        garbled[lfLine] = "LF:many"
        let bad = try dir.write("bad.lcov", garbled.joined(separator: "\n"))
        #expect(throws: EvidenceError(file: bad, line: lfLine + 1, "LF must be a count, got \"many\"")) { try LCOVReport.parse(file: bad) }
        let notLCOV = try dir.write("readme.lcov", "hello world\n")
        #expect(throws: EvidenceError(file: notLCOV, line: 1, "not an LCOV line: \"hello world\"")) { try LCOVReport.parse(file: notLCOV) }
    }

    /// A report that is not UTF-8 is refused with the offset of the first bad byte (a name
    /// that was not UTF-8 trapped Foundation's XMLParser, found by fuzzing); UTF-8 whose
    /// sequences straddle the reader's 64 KiB chunks is read as it is.
    @Test func xmlReportsThatAreNotUTF8AreRefused() throws {
        let dir = try TemporaryDirectory(prefix: "slipway-evidence")
        defer { dir.remove() }
        let prefix = Array("<testsuite><testcase name=\"x\"/><sk".utf8)
        let bad = dir.file("bad.xml")
        _ = FileManager.default.createFile(atPath: bad, contents: Data(prefix + [0xED] + Array("ipped/></testsuite>".utf8)))
        #expect(throws: EvidenceError(file: bad, "not UTF-8 text (the bytes at offset \(prefix.count) are not UTF-8); Slipway reads reports written in UTF-8")) {
            try JUnitReport.parse(file: bad)
        }
        let coverage = dir.file("bad-coverage.xml")
        _ = FileManager.default.createFile(atPath: coverage, contents: Data(Array("<coverage ".utf8) + [0xEC] + Array("line-rate=\"0.5\"/>".utf8)))
        #expect(throws: EvidenceError(file: coverage, "not UTF-8 text (the bytes at offset 10 are not UTF-8); Slipway reads reports written in UTF-8")) {
            try CoberturaReport.parse(file: coverage)
        }
        // Cut in the middle of a two-byte sequence at the end of the file.
        let cut = dir.file("cut.xml")
        _ = FileManager.default.createFile(atPath: cut, contents: Data(Array("<testsuite/>".utf8) + [0xC3]))
        #expect(throws: EvidenceError(file: cut, "not UTF-8 text (the bytes at offset 12 are not UTF-8); Slipway reads reports written in UTF-8")) {
            try JUnitReport.parse(file: cut)
        }

        // A processing instruction without data crashed Foundation's parser (strlen of NULL).
        let instruction = try dir.write("instruction.xml", "<?xml version=\"1.0\"?>\n<?keep ?><testsuite><?empty?><testcase/></testsuite>")
        #expect(try JUnitReport.parse(file: instruction).tests == 1)
        let withData = try dir.write("with-data.xml", "<?xml version=\"1.0\"?><?style a?><testsuite><testcase/></testsuite>")
        #expect(try JUnitReport.parse(file: withData).tests == 1)

        // 1 MiB of "é" (2 bytes each) after an odd-length start: every chunk ends mid-sequence.
        let name = String(repeating: "é", count: (1 << 20) / 2 + 3)
        let big = try dir.write("big.xml", "<testsuites x=\"1\"><testsuite><testcase name=\"\(name)\"/></testsuite></testsuites>")
        #expect(try JUnitReport.parse(file: big) == TestEvidence(tests: 1, failures: 0, errors: 0, skipped: 0))
    }
}
