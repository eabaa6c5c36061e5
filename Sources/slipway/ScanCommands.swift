import ArgumentParser
import Foundation
import SlipwayEvidence

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Local scans whose results are release evidence.",
        subcommands: [ScanSecretsCommand.self]
    )
}

struct ScanSecretsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Look for secrets (key formats, high-entropy values assigned to secret-like names) in a directory.",
        discussion: """
            Prints one line per finding (PATH:LINE:COL  RULE  REDACTED); secrets are never printed \
            whole. --report writes a gitleaks-format JSON report (evidence for \
            `slipway release create … --evidence gitleaks=FILE`). The allowlist \
            (DIR/\(SecretAllowlist.defaultFileName) unless --allowlist is given) holds lines \
            `path: GLOB`, `regex: RE` and `fingerprint: FILE:RULE:LINE`. \
            Exit codes: 0 no secrets found; 1 secrets found (or the report cannot be written); \
            64 the command line is wrong (including a missing directory or a bad allowlist line).
            """
    )

    @Argument(help: ArgumentHelp("The directory to scan.", valueName: "DIR"))
    var directory: String

    @Option(name: .long, help: ArgumentHelp("Allowlist file (default: DIR/\(SecretAllowlist.defaultFileName) when present).", valueName: "FILE"))
    var allowlist: String?

    @Option(name: .long, help: ArgumentHelp("Write the findings as a gitleaks JSON report.", valueName: "FILE"))
    var report: String?

    @Option(name: .long, help: ArgumentHelp("Skip files larger than this.", valueName: "BYTES"))
    var maxFileSize: Int = SecretScanOptions.defaultMaxFileSize

    @Option(name: [.short, .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ValidationError("\(directory): no such directory to scan")
        }
        guard isDirectory.boolValue else { throw ValidationError("\(directory) is not a directory") }
        if let allowlist, !FileManager.default.isReadableFile(atPath: allowlist) {
            throw ValidationError("--allowlist \(allowlist): no such readable file")
        }
        guard maxFileSize > 0 else { throw ValidationError("--max-file-size must be positive (got \(maxFileSize))") }
    }

    func run() throws {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        let allowlistFile = allowlist ?? (FileManager.default.fileExists(atPath: root + "/" + SecretAllowlist.defaultFileName)
            ? root + "/" + SecretAllowlist.defaultFileName : nil)
        var options = SecretScanOptions(maxFileSize: maxFileSize)
        do {
            if let allowlistFile {
                options.allowlist = try SecretAllowlist.load(file: allowlistFile)
                // The allowlist is not scanned: its regex entries may spell out what they allow.
                let absolute = URL(fileURLWithPath: allowlistFile).standardizedFileURL.path
                if absolute.hasPrefix(root + "/") { options.excludedFiles.insert(String(absolute.dropFirst(root.count + 1))) }
            }
        } catch {
            printError("error: \(error)")
            throw ExitCode.validationFailure
        }
        let result: SecretScanResult
        do {
            result = try SecretScanner(options: options).scan(directory: root)
        } catch {
            printError("error: \(error)")
            throw ExitCode.validationFailure
        }
        if let report {
            do {
                try result.findings.gitleaksJSON().write(to: URL(fileURLWithPath: report), options: .atomic)
            } catch {
                printError("error: cannot write the report \(report): \(error.localizedDescription)")
                throw Exit.failed
            }
        }
        if output == .json {
            try printJSON(result)
        } else {
            for f in result.findings {
                print("\(f.file):\(f.startLine):\(f.startColumn)  \(f.ruleID)  \(f.secret)")
            }
            print(summary(result))
        }
        if !result.findings.isEmpty { throw Exit.failed }
    }

    private func summary(_ result: SecretScanResult) -> String {
        let n = result.findings.count
        var line = n == 0 ? "no secrets found" : "\(n) secret\(n == 1 ? "" : "s") found"
        line += " in \(result.filesScanned) file\(result.filesScanned == 1 ? "" : "s")"
        if !result.skipped.isEmpty {
            var reasons: [SkippedFile.Reason: Int] = [:]
            for s in result.skipped { reasons[s.reason, default: 0] += 1 }
            let parts = reasons.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }
            line += " (skipped: \(parts.joined(separator: ", ")))"
        }
        return line
    }
}
