import Crypto
import Foundation
import SlipwayCore

/// The report formats `--evidence FORMAT=PATH` reads, and what each one measures.
public enum EvidenceFormat: String, Codable, Sendable, CaseIterable {
    case junit, cobertura, lcov, sarif, trivy, gitleaks

    /// The gate input a format feeds.
    public var measures: EvidenceMeasure {
        switch self {
        case .junit: .tests
        case .cobertura, .lcov: .coverage
        case .sarif, .trivy: .vulnerabilities
        case .gitleaks: .secrets
        }
    }

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

public enum EvidenceMeasure: String, Codable, Sendable, CaseIterable {
    case tests, coverage, vulnerabilities, secrets
}

/// What a release's evidence says, summed over its reports: the numbers gates compare.
public struct EvidenceSummary: Codable, Sendable, Equatable {
    public var tests: TestEvidence?
    public var coverage: CoverageEvidence?
    public var vulnerabilities: VulnerabilityEvidence?
    public var secrets: SecretScanEvidence?

    public init(tests: TestEvidence? = nil, coverage: CoverageEvidence? = nil, vulnerabilities: VulnerabilityEvidence? = nil, secrets: SecretScanEvidence? = nil) {
        self.tests = tests
        self.coverage = coverage
        self.vulnerabilities = vulnerabilities
        self.secrets = secrets
    }

    /// Several reports of one kind add up (two test suites, SARIF from two scanners).
    public init(_ items: [EvidenceItem]) {
        for item in items {
            if let t = item.tests {
                var sum = tests ?? TestEvidence()
                sum.tests += t.tests; sum.failures += t.failures; sum.errors += t.errors; sum.skipped += t.skipped
                tests = sum
            }
            if let c = item.coverage {
                var sum = coverage ?? CoverageEvidence(linesValid: 0, linesCovered: 0)
                sum.linesValid += c.linesValid; sum.linesCovered += c.linesCovered
                coverage = sum
            }
            if let v = item.vulnerabilities {
                var sum = vulnerabilities ?? VulnerabilityEvidence()
                sum.critical += v.critical; sum.high += v.high; sum.medium += v.medium; sum.low += v.low; sum.unknown += v.unknown
                vulnerabilities = sum
            }
            if let s = item.secrets {
                secrets = SecretScanEvidence(findings: (secrets?.findings ?? 0) + s.findings)
            }
        }
    }
}

/// One report attached to a release: its format, where it came from, its digest and what
/// it says. Reports are read where they are (on the CI machine); only this summary travels.
public struct EvidenceItem: Codable, Sendable, Equatable {
    public var format: EvidenceFormat
    /// The path as given on the command line.
    public var file: String
    public var sha256: String
    public var bytes: Int64
    public var tests: TestEvidence?
    public var coverage: CoverageEvidence?
    public var vulnerabilities: VulnerabilityEvidence?
    public var secrets: SecretScanEvidence?
    /// SARIF: the commits the log says it analysed (`versionControlProvenance`).
    public var revisions: [String]?
    /// Trivy: what was scanned (`ArtifactName`, such as `registry/web:1.4`).
    public var artifact: String?

    public init(format: EvidenceFormat, file: String, sha256: String, bytes: Int64) {
        self.format = format
        self.file = file
        self.sha256 = sha256
        self.bytes = bytes
    }

    /// `12 tests, 1 failed …` — one line for people.
    public var summary: String {
        if let t = tests {
            return "\(t.tests) tests, \(t.failures) failed, \(t.errors) errors, \(t.skipped) skipped" + (t.passRate.map { String(format: " (%.1f %% passed)", $0) } ?? "")
        }
        if let c = coverage {
            return "\(c.linesCovered) of \(c.linesValid) lines covered" + (c.percent.map { String(format: " (%.1f %%)", $0) } ?? "")
        }
        if let v = vulnerabilities {
            return "\(v.critical) critical, \(v.high) high, \(v.medium) medium, \(v.low) low, \(v.unknown) unknown"
        }
        if let s = secrets { return "\(s.findings) secret\(s.findings == 1 ? "" : "s") found" }
        return "empty"
    }

    /// Reads `FORMAT=PATH` (as `--evidence` takes it).
    public static func read(argument: String) throws(EvidenceError) -> EvidenceItem {
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex, argument.index(after: eq) != argument.endIndex else {
            throw EvidenceError(file: argument, "--evidence takes FORMAT=PATH (formats: \(EvidenceFormat.names))")
        }
        let name = String(argument[..<eq])
        guard let format = EvidenceFormat(rawValue: name.lowercased()) else {
            throw EvidenceError(file: String(argument[argument.index(after: eq)...]), "unknown report format \(name.debugDescription); known formats: \(EvidenceFormat.names)")
        }
        return try read(format: format, file: String(argument[argument.index(after: eq)...]))
    }

    public static func read(format: EvidenceFormat, file: String) throws(EvidenceError) -> EvidenceItem {
        let (digest, bytes) = try Self.digest(file)
        var item = EvidenceItem(format: format, file: file, sha256: digest, bytes: bytes)
        switch format {
        case .junit: item.tests = try JUnitReport.parse(file: file)
        case .cobertura: item.coverage = try CoberturaReport.parse(file: file)
        case .lcov: item.coverage = try LCOVReport.parse(file: file)
        case .sarif:
            let read = try SARIFReport.read(file: file)
            item.vulnerabilities = read.evidence
            item.revisions = read.revisions.isEmpty ? nil : read.revisions
        case .trivy:
            let read = try TrivyReport.read(file: file)
            item.vulnerabilities = read.evidence
            item.artifact = read.artifact
        case .gitleaks: item.secrets = try GitleaksReport.parse(file: file)
        }
        return item
    }

    /// SHA-256 (hex) and size of the file, read in 1 MiB chunks (reports and backups can be large).
    public static func digest(_ file: String) throws(EvidenceError) -> (String, Int64) {
        guard let handle = FileHandle(forReadingAtPath: file) else {
            let exists = FileManager.default.fileExists(atPath: file)
            throw EvidenceError(file: file, exists ? "cannot be read (permissions?)" : "no such file")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var bytes: Int64 = 0
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
                bytes += Int64(chunk.count)
            }
        } catch {
            throw EvidenceError(file: file, "cannot be read: \(error.localizedDescription)")
        }
        return (Hex.string(hasher.finalize()), bytes)
    }
}

/// A release as CI records it (`slipway release create`): immutable once made.
public struct ReleaseManifest: Codable, Sendable, Equatable {
    /// The service (without environment): a release is the same build everywhere.
    public var service: String
    public var version: String
    public var commit: String?
    /// When the commit was made (seconds since 1970): lead time for changes starts here.
    public var commitTime: Double?
    public var createdAt: Double
    public var createdBy: String
    public var evidence: [EvidenceItem]

    public init(service: String, version: String, commit: String?, commitTime: Double?, createdAt: Double, createdBy: String, evidence: [EvidenceItem]) {
        self.service = service
        self.version = version
        self.commit = commit
        self.commitTime = commitTime
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.evidence = evidence
    }

    public var summary: EvidenceSummary { EvidenceSummary(evidence) }

    /// Why a report belongs to another build, when it says so: a SARIF log made from
    /// another commit, a Trivy report of another image tag. nil when nothing disagrees.
    public func mismatch(_ item: EvidenceItem) -> String? {
        if let commit, let revisions = item.revisions, !revisions.isEmpty,
           !revisions.contains(where: { $0.lowercased().hasPrefix(commit.lowercased()) || commit.lowercased().hasPrefix($0.lowercased()) }) {
            return "\(item.file): this SARIF log analysed commit \(revisions.joined(separator: ", ")) (versionControlProvenance), but release \(version) of \(service) is commit \(commit); attach the report of this build"
        }
        if let artifact = item.artifact, let tag = Self.tag(of: artifact), tag != version {
            return "\(item.file): this Trivy report scanned \(artifact) (version \(tag)), not release \(version) of \(service); attach the report of this build"
        }
        return nil
    }

    /// The tag of an image reference (`registry:5000/web:1.4` → `1.4`), nil without one.
    static func tag(of artifact: String) -> String? {
        let name = artifact.split(separator: "@").first.map(String.init) ?? artifact
        guard let slash = name.lastIndex(of: "/") ?? Optional(name.startIndex),
              let colon = name[slash...].lastIndex(of: ":") else { return nil }
        let tag = String(name[name.index(after: colon)...])
        return tag.isEmpty ? nil : tag
    }
}
