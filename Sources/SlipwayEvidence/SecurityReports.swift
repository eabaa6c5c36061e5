import Foundation

/// Vulnerability counts by severity: what the `critical_vulns` / `high_vulns` gates read.
public struct VulnerabilityEvidence: Codable, Sendable, Equatable {
    public var critical = 0
    public var high = 0
    public var medium = 0
    public var low = 0
    /// Findings with no usable severity (`none`, `UNKNOWN`).
    public var unknown = 0

    public init(critical: Int = 0, high: Int = 0, medium: Int = 0, low: Int = 0, unknown: Int = 0) {
        self.critical = critical
        self.high = high
        self.medium = medium
        self.low = low
        self.unknown = unknown
    }

    public var total: Int { critical + high + medium + low + unknown }

    mutating func count(severity text: String) {
        switch text.lowercased() {
        case "critical": critical += 1
        case "high", "error": high += 1
        case "medium", "moderate", "warning": medium += 1
        case "low", "note", "negligible": low += 1
        default: unknown += 1
        }
    }

    /// GitHub's reading of a CVSS-like `security-severity` score.
    mutating func count(score: Double) {
        switch score {
        case 9...: critical += 1
        case 7..<9: high += 1
        case 4..<7: medium += 1
        case let s where s > 0: low += 1
        default: unknown += 1
        }
    }
}

/// SARIF 2.1.0 (CodeQL, Semgrep, ruff, many scanners), streamed. A result's severity is
/// its own or its rule's `properties.security-severity` score when there is one (≥ 9
/// critical, ≥ 7 high, ≥ 4 medium, > 0 low — GitHub's reading); otherwise its `level`
/// (or the rule's `defaultConfiguration.level`, default `warning`): `error` → high,
/// `warning` → medium, `note` → low, `none` → unknown. Results whose `kind` is not `fail`
/// (pass, notApplicable, informational…) are not counted.
public enum SARIFReport {
    public static func parse(file: String) throws(EvidenceError) -> VulnerabilityEvidence {
        try read(file: file).evidence
    }

    /// The counts and the commits the log says it analysed (`versionControlProvenance[].revisionId`).
    public static func read(file: String) throws(EvidenceError) -> (evidence: VulnerabilityEvidence, revisions: [String]) {
        let r = try JSONEventReader(path: file)
        guard try r.token() == .objectStart else { throw r.fail("not a SARIF log: the top level is not a JSON object") }
        var evidence = VulnerabilityEvidence()
        var revisions: [String] = []
        var sawRuns = false
        while let t = try r.token(), t != .objectEnd {
            guard case .key(let key) = t, let value = try r.token() else { throw r.fail("expected an object key") }
            switch key {
            case "version":
                guard case .string(let v) = value, v == "2.1.0" else { throw r.fail("SARIF version \(value); only 2.1.0 is read") }
            case "runs":
                guard value == .arrayStart else { throw r.fail("\"runs\" must be an array") }
                sawRuns = true
                while let run = try r.token(), run != .arrayEnd {
                    guard run == .objectStart else { throw r.fail("each run must be an object") }
                    try readRun(r, into: &evidence, revisions: &revisions)
                }
            default:
                try r.skipValue(startingWith: value)
            }
        }
        guard sawRuns else { throw EvidenceError(file: file, "not a SARIF log: no \"runs\"") }
        return (evidence, revisions)
    }

    private struct Finding {
        var ruleID: String?
        var ruleIndex: Int?
        var level: String?
        var score: Double?
    }

    /// One result: only the fields severity needs are built; locations, code flows and the
    /// rest are skipped without building them. nil for results whose `kind` is not `fail`.
    private static func readResult(_ r: JSONEventReader) throws(EvidenceError) -> Finding? {
        var ruleID: String?, ruleIndex: Int?, rule: JSONEventReader.Value?, level: String?, kind: String?, score: Double?
        while let t = try r.token(), t != .objectEnd {
            guard case .key(let key) = t, let value = try r.token() else { throw r.fail("expected an object key") }
            switch key {
            case "ruleId": ruleID = try r.readValue(startingWith: value).string
            case "ruleIndex": ruleIndex = try r.readValue(startingWith: value).number.flatMap(index)
            case "rule": rule = try r.readValue(startingWith: value)
            case "level": level = try r.readValue(startingWith: value).string
            case "kind": kind = try r.readValue(startingWith: value).string
            case "properties": score = try r.readValue(startingWith: value)["security-severity"]?.number
            default: try r.skipValue(startingWith: value)
            }
        }
        if let kind, kind != "fail" { return nil }
        return Finding(ruleID: ruleID ?? rule?["id"]?.string, ruleIndex: ruleIndex ?? rule?["index"]?.number.flatMap(index), level: level, score: score)
    }

    /// A rule index as a whole number, or nil for one that is not (`1.5`, `3e59`): like an
    /// index outside the rules, the result's rule is then looked up by its id.
    private static func index(_ number: Double) -> Int? {
        Int(exactly: number)
    }

    private static func readRun(_ r: JSONEventReader, into evidence: inout VulnerabilityEvidence, revisions: inout [String]) throws(EvidenceError) {
        var findings: [Finding] = []
        var rules: [JSONEventReader.Value] = []
        while let t = try r.token(), t != .objectEnd {
            guard case .key(let key) = t, let value = try r.token() else { throw r.fail("expected an object key") }
            switch key {
            case "results":
                guard value == .arrayStart else { throw r.fail("\"results\" must be an array") }
                while let item = try r.token(), item != .arrayEnd {
                    guard item == .objectStart else { throw r.fail("each result must be an object") }
                    if let finding = try readResult(r) { findings.append(finding) }
                }
            case "tool":
                let tool = try r.readValue(startingWith: value)
                rules = tool["driver"]?["rules"]?.array ?? []
            case "versionControlProvenance":
                let provenance = try r.readValue(startingWith: value)
                revisions += (provenance.array ?? []).compactMap { $0["revisionId"]?.string }
            default:
                try r.skipValue(startingWith: value)
            }
        }
        var byID: [String: JSONEventReader.Value] = [:]
        for rule in rules { if let id = rule["id"]?.string { byID[id] = rule } }
        for f in findings {
            let rule = f.ruleIndex.flatMap { $0 >= 0 && $0 < rules.count ? rules[$0] : nil } ?? f.ruleID.flatMap { byID[$0] }
            if let score = f.score ?? rule?["properties"]?["security-severity"]?.number {
                evidence.count(score: score)
            } else {
                evidence.count(severity: f.level ?? rule?["defaultConfiguration"]?["level"]?.string ?? "warning")
            }
        }
    }
}

/// Trivy's JSON report (`trivy image --format json`): every `Results[].Vulnerabilities[]`
/// counted by its `Severity` (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN), streamed.
public enum TrivyReport {
    public static func parse(file: String) throws(EvidenceError) -> VulnerabilityEvidence {
        try read(file: file).evidence
    }

    /// The counts and what was scanned (`ArtifactName`, such as `registry/web:1.4`).
    public static func read(file: String) throws(EvidenceError) -> (evidence: VulnerabilityEvidence, artifact: String?) {
        let r = try JSONEventReader(path: file)
        guard try r.token() == .objectStart else { throw r.fail("not a Trivy report: the top level is not a JSON object") }
        var evidence = VulnerabilityEvidence()
        var sawResults = false
        var artifact: String?
        while let t = try r.token(), t != .objectEnd {
            guard case .key(let key) = t, let value = try r.token() else { throw r.fail("expected an object key") }
            if key == "ArtifactName", case .string(let name) = value { artifact = name; continue }
            guard key == "Results" else { try r.skipValue(startingWith: value); continue }
            guard value == .arrayStart else { throw r.fail("\"Results\" must be an array") }
            sawResults = true
            while let result = try r.token(), result != .arrayEnd {
                guard result == .objectStart else { throw r.fail("each of \"Results\" must be an object") }
                while let k = try r.token(), k != .objectEnd {
                    guard case .key(let name) = k, let v = try r.token() else { throw r.fail("expected an object key") }
                    guard name == "Vulnerabilities", v == .arrayStart else { try r.skipValue(startingWith: v); continue }
                    while let item = try r.token(), item != .arrayEnd {
                        let vulnerability = try r.readValue(startingWith: item)
                        guard let severity = vulnerability["Severity"]?.string else {
                            throw r.fail("a vulnerability without \"Severity\" (\(vulnerability["VulnerabilityID"]?.string ?? "no id"))")
                        }
                        evidence.count(severity: severity)
                    }
                }
            }
        }
        guard sawResults else { throw EvidenceError(file: file, "not a Trivy report: no \"Results\"") }
        return (evidence, artifact)
    }
}

/// Secrets found by a scanner in gitleaks' JSON format (a top-level array of findings).
public struct SecretScanEvidence: Codable, Sendable, Equatable {
    public var findings: Int
    public init(findings: Int) { self.findings = findings }
}

public enum GitleaksReport {
    public static func parse(file: String) throws(EvidenceError) -> SecretScanEvidence {
        let r = try JSONEventReader(path: file)
        guard try r.token() == .arrayStart else { throw r.fail("not a gitleaks report: the top level is not a JSON array of findings") }
        var count = 0
        while let t = try r.token(), t != .arrayEnd {
            guard t == .objectStart else { throw r.fail("each gitleaks finding must be a JSON object") }
            try r.skipValue(startingWith: t)
            count += 1
        }
        guard try r.token() == nil else { throw r.fail("unexpected data after the findings") }
        return SecretScanEvidence(findings: count)
    }
}
