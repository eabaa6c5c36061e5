import Foundation
import SlipwayTesting
import Testing

@testable import SlipwayEvidence

/// SARIF from the real ruff (scripts/test.sh installs it); SARIF with security-severity,
/// Trivy and gitleaks files are hand-written in those tools' documented formats (CodeQL,
/// Trivy and gitleaks cannot run offline here) — each says so.
@Suite struct SecurityReportTests {
    @Test func sarifFromRuffCountsEveryResultByItsLevel() async throws {
        let dir = try TemporaryDirectory(prefix: "slipway-sarif")
        defer { dir.remove() }
        _ = try dir.write("bad.py", "import os\nimport sys\n\n\ndef f(x):\n    return eval(x)\n")
        let run = try await runCommand("/bin/sh", ["-c", "cd \(dir.path) && python3 -m ruff check --no-cache --select ALL --output-format sarif bad.py > report.sarif"])
        #expect(run.status == 1, "ruff finds problems: \(run.stderr)")
        // Python's json module is the oracle for how many results of each level ruff wrote.
        let oracle = try await runCommand("/usr/bin/env", ["python3", "-c", """
            import json, sys, collections
            d = json.load(open(sys.argv[1]))
            c = collections.Counter(r.get("level", "warning") for run in d["runs"] for r in run["results"])
            print(c["error"], c["warning"], c["note"])
            """, dir.file("report.sarif")])
        let counts = oracle.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(counts.count == 3 && counts[0] > 3, "\(oracle.stdout)\(oracle.stderr)")
        let evidence = try SARIFReport.parse(file: dir.file("report.sarif"))
        #expect(evidence == VulnerabilityEvidence(high: counts[0], medium: counts[1], low: counts[2]))
    }

    @Test func sarifSecuritySeverityWinsOverLevelAndNonFailuresAreNotCounted() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Hand-written in CodeQL's shape: results before the tool, rules by index and by id.
        let file = try dir.write("codeql.sarif", #"""
            {"version": "2.1.0", "runs": [{
              "results": [
                {"ruleIndex": 0, "level": "error", "message": {"text": "sql \u00e9 \ud83d\ude00"}},
                {"ruleId": "js/xss", "message": {"text": "xss"}},
                {"rule": {"id": "js/weak", "index": 2}, "message": {"text": "weak"}},
                {"ruleId": "js/style", "level": "note"},
                {"ruleId": "js/sql", "kind": "pass"},
                {"ruleId": "unknown/rule", "properties": {"security-severity": "9.8"}},
                {"ruleId": "unknown/other"}
              ],
              "tool": {"driver": {"name": "CodeQL", "rules": [
                {"id": "js/sql", "properties": {"security-severity": "8.8"}},
                {"id": "js/xss", "properties": {"security-severity": "6.1"}},
                {"id": "js/weak", "properties": {"security-severity": "3.0"}},
                {"id": "js/style", "defaultConfiguration": {"level": "warning"}}
              ]}}
            }, {"results": [], "tool": {"driver": {"name": "empty", "rules": []}}}]}
            """#)
        #expect(try SARIFReport.parse(file: file) == VulnerabilityEvidence(critical: 1, high: 1, medium: 2, low: 2))
    }

    /// Fuzzing found `"ruleIndex": 3.3e59` trapping the reader (a `Double` beyond `Int`
    /// converted with `Int(_:)`): `release create --evidence sarif=…` crashed on such a file.
    /// An index that is not a whole number is treated like one outside the rules: the
    /// result's rule is found by its id, and a result with neither counts by its level.
    @Test func aRuleIndexThatIsNoWholeNumberFallsBackToTheRuleID() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write("odd.sarif", #"""
            {"version": "2.1.0", "runs": [{
              "tool": {"driver": {"name": "x", "rules": [
                {"id": "r1", "properties": {"security-severity": "9.5"}},
                {"id": "r2", "properties": {"security-severity": "5.0"}}
              ]}},
              "results": [
                {"ruleId": "r2", "ruleIndex": 333333333333333333333333333333333333333333333333333333333333, "level": "error"},
                {"ruleId": "r2", "ruleIndex": 1e300},
                {"ruleId": "r1", "ruleIndex": 0.5},
                {"rule": {"id": "r1", "index": -1e40}},
                {"ruleIndex": 1.5, "level": "note"}
              ]
            }]}
            """#)
        #expect(try SARIFReport.parse(file: file) == VulnerabilityEvidence(critical: 2, medium: 2, low: 1))
    }

    @Test func trivyAndGitleaksReportsAreCounted() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Hand-written in Trivy's documented JSON shape (`trivy image --format json`).
        let trivy = try dir.write("trivy.json", #"""
            {"SchemaVersion": 2, "ArtifactName": "web:v2", "Results": [
              {"Target": "debian 12", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-1", "Severity": "CRITICAL"}, {"VulnerabilityID": "CVE-2", "Severity": "HIGH"},
                {"VulnerabilityID": "CVE-3", "Severity": "HIGH"}, {"VulnerabilityID": "CVE-4", "Severity": "LOW"}]},
              {"Target": "app", "Vulnerabilities": [{"VulnerabilityID": "CVE-5", "Severity": "UNKNOWN"}, {"VulnerabilityID": "CVE-6", "Severity": "MEDIUM"}]},
              {"Target": "clean"}
            ]}
            """#)
        #expect(try TrivyReport.parse(file: trivy) == VulnerabilityEvidence(critical: 1, high: 2, medium: 1, low: 1, unknown: 1))
        // Hand-written in gitleaks' report shape (a JSON array of findings).
        let leaks = try dir.write("gitleaks.json", #"[{"RuleID": "aws-access-token", "File": "a.env", "StartLine": 3}, {"RuleID": "generic-api-key", "File": "b.py"}]"#)
        #expect(try GitleaksReport.parse(file: leaks) == SecretScanEvidence(findings: 2))
        #expect(try GitleaksReport.parse(file: try dir.write("none.json", "[]\n")) == SecretScanEvidence(findings: 0))
    }

    @Test func brokenJSONNamesTheLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func error(_ body: () throws -> some Any) -> EvidenceError? {
            do { _ = try body(); return nil } catch { return error as? EvidenceError }
        }
        let truncated = try dir.write("cut.sarif", "{\"version\": \"2.1.0\",\n \"runs\": [{\"results\": [\n {\"level\": \"er")
        #expect(error { try SARIFReport.parse(file: truncated) } == EvidenceError(file: truncated, line: 3, "the file ends inside a string (truncated?)"))
        let trailing = try dir.write("trailing.json", "[\n {\"RuleID\": \"x\"},\n]\n")
        #expect(error { try GitleaksReport.parse(file: trailing) } == EvidenceError(file: trailing, line: 3, "a value is missing before ']' (trailing comma?)"))
        let notSarif = try dir.write("list.sarif", "[1, 2]")
        #expect(error { try SARIFReport.parse(file: notSarif) } == EvidenceError(file: notSarif, line: 1, "not a SARIF log: the top level is not a JSON object"))
        let noRuns = try dir.write("x.sarif", "{\"version\": \"2.1.0\"}")
        #expect(error { try SARIFReport.parse(file: noRuns) } == EvidenceError(file: noRuns, "not a SARIF log: no \"runs\""))
        let missingColon = try dir.write("colon.json", "{\"Results\" []}")
        #expect(error { try TrivyReport.parse(file: missingColon) }?.message == "expected ':' after an object key, found '['")
        let noSeverity = try dir.write("sev.json", "{\"Results\": [{\"Vulnerabilities\": [{\"VulnerabilityID\": \"CVE-9\"}]}]}")
        #expect(error { try TrivyReport.parse(file: noSeverity) }?.message == "a vulnerability without \"Severity\" (CVE-9)")
        #expect(error { try TrivyReport.parse(file: dir.file("missing.json")) } == EvidenceError(file: dir.file("missing.json"), "no such readable file"))
    }

    @Test func theReaderAgreesWithFoundationOnValues() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = #"{"a": [1, -2.5e3, true, false, null, [], {}], "s": "tab\tquote\"slash\/uni\u00fc\ud83d\ude00", "n": {"deep": [[[]]]}}"#
        let file = try dir.write("v.json", text)
        let r = try JSONEventReader(path: file)
        let value = try r.readValue(startingWith: try #require(try r.token()))
        #expect(try r.token() == nil)
        let foundation = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(value["s"]?.string == foundation["s"] as? String)
        #expect(value["a"]?.array?.count == 7)
        #expect(value["a"]?.array?[1] == .number(-2500))
        #expect(value["n"]?["deep"] == .array([.array([.array([])])]))
    }
}
