import Foundation
import SlipwayCore
@testable import SlipwayEvidence
import SlipwayTesting
import Testing

@Suite struct EvidenceGateTests {
    static func release(_ items: [EvidenceItem]) -> ReleaseManifest {
        ReleaseManifest(service: "web", version: "1.2", commit: nil, commitTime: nil, createdAt: 0, createdBy: "ci", evidence: items)
    }

    static func item(_ format: EvidenceFormat, tests: TestEvidence? = nil, coverage: CoverageEvidence? = nil, vulns: VulnerabilityEvidence? = nil, secrets: Int? = nil) -> EvidenceItem {
        var item = EvidenceItem(format: format, file: "x", sha256: "", bytes: 0)
        item.tests = tests
        item.coverage = coverage
        item.vulnerabilities = vulns
        item.secrets = secrets.map(SecretScanEvidence.init)
        return item
    }

    @Test func everyGateComparesItsNumberWithItsThreshold() {
        let release = Self.release([
            Self.item(.junit, tests: TestEvidence(tests: 100, failures: 1, errors: 0, skipped: 10)),
            Self.item(.cobertura, coverage: CoverageEvidence(linesValid: 200, linesCovered: 170)),
            Self.item(.sarif, vulns: VulnerabilityEvidence(critical: 0, high: 6)),
            Self.item(.trivy, vulns: VulnerabilityEvidence(critical: 1, high: 0)),
            Self.item(.gitleaks, secrets: 0),
        ])
        let results = EvidenceGates.check(GateSpec.defaults(for: "production"), release: release, service: "web", version: "1.2")
        #expect(results.map(\.gate) == [.coverage, .testPassRate, .criticalVulns, .highVulns, .secrets])
        #expect(results[0] == GateResult(gate: .coverage, passed: true, value: "85 %", threshold: "≥ 85 %", detail: "170 of 200 lines"))
        // 89 passed of 90 run (skipped do not count): 98.89 % ≥ 98 %.
        #expect(results[1].passed && results[1].value == "98.89 %", "\(results[1])")
        // SARIF and Trivy add up: 1 critical (> 0), 6 high (> 5).
        #expect(!results[2].passed && results[2].value == "1" && results[2].threshold == "≤ 0")
        #expect(!results[3].passed && results[3].value == "6")
        #expect(results[4].passed && results[4].value == "0")
    }

    @Test func missingEvidenceFailsItsGateAndSaysWhatIsMissing() {
        let onlyTests = Self.release([Self.item(.junit, tests: TestEvidence(tests: 3))])
        let results = EvidenceGates.check(GateSpec(coverage: 50, testPassRate: 90, secrets: 0), release: onlyTests, service: "web", version: "1.2")
        #expect(results.map(\.passed) == [false, true, false])
        #expect(results[0].detail == "release 1.2 has no coverage evidence (cobertura, lcov)")
        let none = EvidenceGates.check(GateSpec(coverage: 50), release: nil, service: "web", version: "1.2")
        #expect(none[0].detail?.contains("no release 1.2 of web is recorded; CI records it with `slipway release create web 1.2") == true)
        #expect(EvidenceGates.check(GateSpec(), release: nil, service: "web", version: "1").isEmpty)
        let skippedOnly = Self.release([Self.item(.junit, tests: TestEvidence(tests: 2, skipped: 2))])
        #expect(EvidenceGates.check(GateSpec(testPassRate: 90), release: skippedOnly, service: "web", version: "1")[0].detail == "the test report ran no tests")
    }

    @Test func evidenceArgumentsNameTheFormatAndFile() throws {
        let dir = try TemporaryDirectory(prefix: "slipway-evidence-arg")
        defer { dir.remove() }
        let file = try dir.write("lcov.info", "TN:\nSF:a.py\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n")
        let item = try EvidenceItem.read(argument: "lcov=\(file)")
        #expect(item.format == .lcov && item.coverage == CoverageEvidence(linesValid: 2, linesCovered: 1) && item.bytes == 50)
        #expect(item.sha256.count == 64)
        #expect(throws: EvidenceError(file: file, "unknown report format \"nunit\"; known formats: junit, cobertura, lcov, sarif, trivy, gitleaks")) {
            try EvidenceItem.read(argument: "nunit=\(file)")
        }
        #expect(throws: EvidenceError(file: "junit", "--evidence takes FORMAT=PATH (formats: junit, cobertura, lcov, sarif, trivy, gitleaks)")) {
            try EvidenceItem.read(argument: "junit")
        }
        #expect(throws: EvidenceError(file: dir.file("nope.xml"), "no such file")) {
            try EvidenceItem.read(argument: "junit=\(dir.file("nope.xml"))")
        }
    }

    /// Hand-written in the tools' documented shapes (CodeQL's SARIF with provenance, Trivy's
    /// image report): neither tool runs offline here.
    @Test func evidenceMadeForAnotherBuildIsRefused() throws {
        let dir = try TemporaryDirectory(prefix: "slipway-evidence-mismatch")
        defer { dir.remove() }
        let sarif = try dir.write("codeql.sarif", """
            {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL", "rules": []}},
              "versionControlProvenance": [{"repositoryUri": "https://example.com/web.git", "revisionId": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"}],
              "results": [{"ruleId": "js/xss", "level": "error", "message": {"text": "x"}}]}]}
            """)
        let trivy = try dir.write("trivy.json", """
            {"SchemaVersion": 2, "ArtifactName": "registry.example.com:5000/web:1.3", "ArtifactType": "container_image",
             "Results": [{"Target": "web", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "HIGH"}]}]}
            """)
        let sarifItem = try EvidenceItem.read(argument: "sarif=\(sarif)")
        #expect(sarifItem.revisions == ["9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"] && sarifItem.vulnerabilities?.high == 1)
        let trivyItem = try EvidenceItem.read(argument: "trivy=\(trivy)")
        #expect(trivyItem.artifact == "registry.example.com:5000/web:1.3" && trivyItem.vulnerabilities?.high == 1)

        func release(_ version: String, commit: String?) -> ReleaseManifest {
            ReleaseManifest(service: "web", version: version, commit: commit, commitTime: nil, createdAt: 0, createdBy: "ci", evidence: [])
        }
        #expect(release("1.4", commit: "9f8e7d6").mismatch(sarifItem) == nil, "a short commit id matches its full form")
        #expect(release("1.4", commit: "0123abc").mismatch(sarifItem)
            == "\(sarif): this SARIF log analysed commit 9f8e7d6c5b4a39281706f5e4d3c2b1a098765432 (versionControlProvenance), but release 1.4 of web is commit 0123abc; attach the report of this build")
        #expect(release("1.4", commit: nil).mismatch(sarifItem) == nil, "without --commit there is nothing to compare")
        #expect(release("1.3", commit: nil).mismatch(trivyItem) == nil)
        #expect(release("1.4", commit: nil).mismatch(trivyItem)
            == "\(trivy): this Trivy report scanned registry.example.com:5000/web:1.3 (version 1.3), not release 1.4 of web; attach the report of this build")
        #expect(ReleaseManifest.tag(of: "localhost:5000/web") == nil && ReleaseManifest.tag(of: "web:2.0@sha256:abc") == "2.0")
    }
}
