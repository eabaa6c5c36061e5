import Foundation
import SlipwayTesting
import Testing

/// `slipway evidence show` (the code path of `release create --evidence`) on a report made
/// by the real pytest (scripts/test.sh installs it), checked against pytest's own counts.
@Suite(.serialized) struct EvidenceCommandTests {
    struct PytestRun {
        let dir: TemporaryDirectory
        var report: String { dir.file("report.xml") }
        /// pytest's terminal summary, e.g. `failed: 1, passed: 3, skipped: 1, error: 1`.
        let counts: [String: Int]
    }

    /// 3 passing tests, 1 failing, 1 skipped and 1 with an erroring fixture, run by pytest
    /// with `--junitxml`; the counts are read from pytest's own last line (`1 failed, 3 passed, …`).
    static func pytest() async throws -> PytestRun {
        let dir = try TemporaryDirectory(prefix: "slipway-evidence-cli")
        _ = try dir.write("test_shop.py", """
            import pytest


            def test_total():
                assert sum([1, 2, 3]) == 6


            def test_discount():
                assert round(100 * 0.9) == 90


            def test_empty_cart():
                assert [] == []


            def test_tax():
                assert 100 * 1.2 == 121, "tax is 20 %"


            @pytest.mark.skip(reason="payment sandbox is down")
            def test_payment():
                pass


            @pytest.fixture
            def warehouse():
                raise ConnectionError("warehouse unreachable")


            def test_stock(warehouse):
                pass
            """)
        let run = try await runCommand("/bin/sh", ["-c", "cd \(dir.path) && PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python3 -m pytest -q --junitxml=report.xml -p no:cacheprovider"],
                                       timeout: .seconds(120))
        // pytest exits 1 when tests failed; anything else means it did not run them.
        guard run.status == 1, FileManager.default.fileExists(atPath: dir.file("report.xml")) else {
            dir.remove()
            throw PytestFailed(description: "pytest did not produce report.xml (exit \(run.status)): \(run.stdout)\(run.stderr)")
        }
        // The last line: "1 failed, 3 passed, 1 skipped, 1 error in 0.05s".
        let last = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        var counts: [String: Int] = [:]
        for part in last.split(separator: " in ")[0].split(separator: ",") {
            let words = part.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "=")) }.filter { !$0.isEmpty }
            if words.count == 2, let n = Int(words[0]) { counts[words[1] == "errors" ? "error" : words[1]] = n }
        }
        return PytestRun(dir: dir, counts: counts)
    }

    struct PytestFailed: Error, CustomStringConvertible {
        let description: String
    }

    static func sha256(_ file: String) async throws -> String {
        let r = try await runCommand("/usr/bin/env", ["sha256sum", file])
        return String(r.stdout.prefix(64))
    }

    @Test func showsPytestsCountsAsTextAndJSON() async throws {
        let run = try await Self.pytest()
        defer { run.dir.remove() }
        #expect(run.counts == ["failed": 1, "passed": 3, "skipped": 1, "error": 1], "pytest said \(run.counts)")
        let (failed, passed, skipped, errors) = (run.counts["failed", default: -1], run.counts["passed", default: -1],
                                                 run.counts["skipped", default: -1], run.counts["error", default: -1])
        let tests = failed + passed + skipped + errors
        let digest = try await Self.sha256(run.report)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: run.report)).count

        let text = try await runCommand(try BuiltProducts.path("slipway"), ["evidence", "show", "junit=\(run.report)"])
        #expect(text.status == 0, "\(text.stderr)")
        let passRate = String(format: "%.1f", Double(passed) / Double(tests - skipped) * 100)
        let line = "\(tests) tests, \(failed) failed, \(errors) errors, \(skipped) skipped (\(passRate) % passed)"
        #expect(text.stdout == """
            junit  \(run.report)  \(bytes) bytes  sha256:\(digest)
              \(line)
            summary:
              tests: \(line)

            """, "\(text.stdout)")

        let json = try await runCommand(try BuiltProducts.path("slipway"), ["evidence", "show", "junit=\(run.report)", "--output", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let summary = try #require((object["summary"] as? [String: Any])?["tests"] as? [String: Any])
        #expect(summary["tests"] as? Int == tests)
        #expect(summary["failures"] as? Int == failed)
        #expect(summary["errors"] as? Int == errors)
        #expect(summary["skipped"] as? Int == skipped)
        let reports = try #require(object["reports"] as? [[String: Any]])
        #expect(reports.count == 1)
        #expect(reports.first?["format"] as? String == "junit")
        #expect(reports.first?["file"] as? String == run.report)
        #expect(reports.first?["sha256"] as? String == digest)
        #expect(reports.first?["bytes"] as? Int == bytes)
    }

    @Test func unreadableReportsExitOneNamingTheFile() async throws {
        let run = try await Self.pytest()
        defer { run.dir.remove() }
        let slipway = try BuiltProducts.path("slipway")

        let unknown = try await runCommand(slipway, ["evidence", "show", "nunit=\(run.report)"])
        #expect(unknown.status == 1)
        #expect(unknown.stdout.isEmpty, "\(unknown.stdout)")
        #expect(unknown.stderr.hasPrefix("\(run.report): unknown report format \"nunit\""), "\(unknown.stderr)")

        // An upload cut short: half of pytest's file.
        let text = try String(contentsOfFile: run.report, encoding: .utf8)
        let cut = try run.dir.write("cut.xml", String(text.prefix(text.count / 2)))
        let truncated = try await runCommand(slipway, ["evidence", "show", "junit=\(run.report)", "junit=\(cut)"])
        #expect(truncated.status == 1)
        #expect(truncated.stdout.isEmpty, "nothing is shown when a report cannot be read: \(truncated.stdout)")
        // cut.xml:LINE:COL: … (the good report is not an error).
        let position = truncated.stderr.dropFirst(cut.count + 1).prefix { $0 != ":" }
        #expect(truncated.stderr.hasPrefix(cut + ":") && Int(position) != nil, "\(truncated.stderr)")
        #expect(!truncated.stderr.contains(run.report + ":"), "\(truncated.stderr)")

        let none = try await runCommand(slipway, ["evidence", "show"])
        #expect(none.status == 64, "no report is a command-line error: \(none.stderr)")
    }
}
