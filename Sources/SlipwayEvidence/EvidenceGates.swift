import Foundation
import SlipwayCore

/// The evidence gates of an environment against a release's evidence. A gate whose
/// evidence is missing fails: an environment that asks for 85 % coverage does not take a
/// release nobody measured.
public enum EvidenceGates {
    public static func check(_ gates: GateSpec, release: ReleaseManifest?, service: String, version: String) -> [GateResult] {
        let summary = release?.summary ?? EvidenceSummary()
        let missingRelease = "no release \(version) of \(service) is recorded; CI records it with `slipway release create \(service) \(version) --evidence FORMAT=PATH`"
        func missing(_ what: String, formats: String) -> String {
            release == nil ? missingRelease : "release \(version) has no \(what) evidence (\(formats))"
        }
        var results: [GateResult] = []
        if let minimum = gates.coverage {
            let threshold = "≥ \(percent(minimum))"
            if let c = summary.coverage, let value = c.percent {
                results.append(GateResult(gate: .coverage, passed: value >= minimum, value: percent(value), threshold: threshold,
                                          detail: "\(c.linesCovered) of \(c.linesValid) lines"))
            } else {
                results.append(GateResult(gate: .coverage, passed: false, value: "none", threshold: threshold,
                                          detail: summary.coverage != nil ? "the coverage report counts no lines" : missing("coverage", formats: "cobertura, lcov")))
            }
        }
        if let minimum = gates.testPassRate {
            let threshold = "≥ \(percent(minimum))"
            if let t = summary.tests, let value = t.passRate {
                results.append(GateResult(gate: .testPassRate, passed: value >= minimum, value: percent(value), threshold: threshold,
                                          detail: "\(t.passed) of \(t.tests - t.skipped) passed (\(t.failures) failed, \(t.errors) errors, \(t.skipped) skipped)"))
            } else {
                results.append(GateResult(gate: .testPassRate, passed: false, value: "none", threshold: threshold,
                                          detail: summary.tests != nil ? "the test report ran no tests" : missing("test", formats: "junit")))
            }
        }
        for (gate, maximum, count) in [(GateResult.Gate.criticalVulns, gates.criticalVulns, summary.vulnerabilities?.critical),
                                       (.highVulns, gates.highVulns, summary.vulnerabilities?.high)] {
            guard let maximum else { continue }
            if let count {
                results.append(GateResult(gate: gate, passed: count <= maximum, value: String(count), threshold: "≤ \(maximum)"))
            } else {
                results.append(GateResult(gate: gate, passed: false, value: "none", threshold: "≤ \(maximum)", detail: missing("vulnerability", formats: "sarif, trivy")))
            }
        }
        if let maximum = gates.secrets {
            if let found = summary.secrets?.findings {
                results.append(GateResult(gate: .secrets, passed: found <= maximum, value: String(found), threshold: "≤ \(maximum)"))
            } else {
                results.append(GateResult(gate: .secrets, passed: false, value: "none", threshold: "≤ \(maximum)", detail: missing("secret scan", formats: "gitleaks, slipway scan secrets --report")))
            }
        }
        return results
    }

    static func percent(_ value: Double) -> String {
        Int(exactly: value).map { "\($0) %" } ?? String(format: "%.2f %%", value)
    }
}
