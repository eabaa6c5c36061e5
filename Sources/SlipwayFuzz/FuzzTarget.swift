import Foundation
import SlipwayConfig
import SlipwayEvidence
import SlipwayRouter

/// The fuzz targets: one entry per input reader an attacker or a careless file can reach.
/// `run` returns the invariant an input broke (nil when every one held); a crash or trap
/// inside is a finding too. `scripts/fuzz.sh` runs them under libFuzzer with the address
/// sanitizer; `SlipwayFuzzTests` replays every committed corpus and regression input.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `slipway.yml` text through the loader (YAML → spec → errors).
    case config
    /// Bytes of one client connection through the router's HTTP/1.1 handling.
    case http1
    /// The route-table JSON the data plane accepts.
    case routeTable = "route-table"
    /// A `Cookie` header and the sticky-assignment cookie.
    case cookie
    /// Request headers through the forwarding rewrite, and request paths through the path guard.
    case headers
    /// CI evidence files, one target per format.
    case junit, cobertura, lcov, sarif, trivy, gitleaks

    public func run(_ bytes: UnsafeRawBufferPointer) -> String? {
        switch self {
        case .config: return Self.config(bytes)
        case .http1: return RouterFuzzing.http1(bytes)
        case .routeTable: return RouterFuzzing.routeTable(bytes)
        case .cookie: return RouterFuzzing.cookie(bytes)
        case .headers: return RouterFuzzing.headers(bytes)
        case .junit: return Self.evidence(.junit, bytes)
        case .cobertura: return Self.evidence(.cobertura, bytes)
        case .lcov: return Self.evidence(.lcov, bytes)
        case .sarif: return Self.evidence(.sarif, bytes)
        case .trivy: return Self.evidence(.trivy, bytes)
        case .gitleaks: return Self.evidence(.gitleaks, bytes)
        }
    }

    public func run(_ data: Data) -> String? {
        data.withUnsafeBytes { run($0) }
    }

    /// Invariants: a config either loads into at least one unit or fails with errors that
    /// each name the file, a line and column inside the text (≥ 1), and say something.
    static func config(_ bytes: UnsafeRawBufferPointer) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        // YAML breaks lines at LF, CR and CRLF (a Swift Character "\r\n" is one break).
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }).count
        do {
            let units = try ConfigLoader.parseUnits(text, fileName: "fuzz.yml", baseDirectory: nil)
            guard !units.isEmpty else { return "a config loaded into no unit and no error" }
        } catch {
            guard !error.errors.isEmpty else { return "a config was refused with no error" }
            for problem in error.errors {
                guard problem.file == "fuzz.yml", problem.line >= 1, problem.line <= max(lines, 1) + 1, problem.column >= 1,
                      !problem.message.isEmpty else {
                    return "config error with a bad position or no message: \(problem.description.debugDescription) (the text has \(lines) lines)"
                }
            }
        }
        return nil
    }

    /// Invariants: a report is read into counts that make sense (none negative, covered
    /// lines within valid ones) or refused with an error naming the file.
    static func evidence(_ format: EvidenceFormat, _ bytes: UnsafeRawBufferPointer) -> String? {
        let path = scratchFile(format.rawValue)
        // Written in place: `FileManager.createFile` writes a temporary file and renames
        // it, two more system calls per input that no reader here needs.
        do { try Data(bytes).write(to: URL(fileURLWithPath: path)) } catch { return "cannot write \(path): \(error)" }
        do {
            let item = try EvidenceItem.read(format: format, file: path)
            if let tests = item.tests, tests.tests < 0 || tests.failures < 0 || tests.errors < 0 || tests.skipped < 0 {
                return "negative test counts \(tests)"
            }
            if let coverage = item.coverage, coverage.linesValid < 0 || coverage.linesCovered < 0 || coverage.linesCovered > coverage.linesValid {
                return "coverage counts that cannot be: \(coverage)"
            }
            if let found = item.vulnerabilities,
               [found.critical, found.high, found.medium, found.low, found.unknown].contains(where: { $0 < 0 }) {
                return "negative vulnerability counts \(found)"
            }
            if let secrets = item.secrets, secrets.findings < 0 { return "negative secret findings \(secrets)" }
        } catch {
            guard error.file == path, !error.message.isEmpty else { return "an evidence error that does not name the file: \(error)" }
        }
        return nil
    }

    /// One file per process and format, in memory when /dev/shm exists.
    static func scratchFile(_ name: String) -> String {
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        return "\(directory)/slipway-fuzz-\(getpid())-\(name)"
    }
}
