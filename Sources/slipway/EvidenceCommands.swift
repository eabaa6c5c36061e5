import ArgumentParser
import Foundation
import SlipwayEvidence

struct EvidenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence",
        abstract: "Read CI reports locally, as `release create --evidence` does.",
        subcommands: [EvidenceShowCommand.self]
    )
}

/// `slipway evidence show junit=report.xml sarif=codeql.sarif`: what the gates would be
/// given. Reads every report with `EvidenceItem.read(argument:)` — the code path of
/// `release create --evidence` — and needs no server.
struct EvidenceShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Summarise CI reports (tests, coverage, vulnerabilities, secrets) and their SHA-256.",
        discussion: """
            Formats: \(EvidenceFormat.names). A report that cannot be read is printed as \
            FILE[:LINE[:COL]]: message on stderr and the command exits 1 (nothing on stdout).
            """
    )

    @Argument(help: ArgumentHelp("Reports to read.", valueName: "FORMAT=PATH"))
    var reports: [String] = []

    @Option(name: [.short, .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    func validate() throws {
        guard !reports.isEmpty else { throw ValidationError("give at least one report as FORMAT=PATH (formats: \(EvidenceFormat.names))") }
    }

    func run() throws {
        var items: [EvidenceItem] = []
        var errors: [EvidenceError] = []
        for argument in reports {
            do { items.append(try EvidenceItem.read(argument: argument)) } catch { errors.append(error) }
        }
        guard errors.isEmpty else {
            for e in errors { printError(e.description) }
            throw Exit.failed
        }
        let summary = EvidenceSummary(items)
        if output == .json { return try printJSON(EvidenceReport(reports: items, summary: summary)) }
        for item in items {
            print("\(item.format.rawValue)  \(item.file)  \(item.bytes) bytes  sha256:\(item.sha256)")
            print("  \(item.summary)")
        }
        print("summary:")
        for line in Self.lines(summary) { print("  \(line)") }
    }

    /// The JSON shape of `evidence show -o json`.
    struct EvidenceReport: Encodable {
        var reports: [EvidenceItem]
        var summary: EvidenceSummary
    }

    /// One line per gate input, worded as `EvidenceItem.summary` words a single report.
    static func lines(_ summary: EvidenceSummary) -> [String] {
        func line(_ measure: EvidenceMeasure, _ fill: (inout EvidenceItem) -> Void) -> String {
            var item = EvidenceItem(format: .junit, file: "", sha256: "", bytes: 0)
            fill(&item)
            return "\(measure.rawValue): \(item.summary)"
        }
        var lines: [String] = []
        if let t = summary.tests { lines.append(line(.tests) { $0.tests = t }) }
        if let c = summary.coverage { lines.append(line(.coverage) { $0.coverage = c }) }
        if let v = summary.vulnerabilities { lines.append(line(.vulnerabilities) { $0.vulnerabilities = v }) }
        if let s = summary.secrets { lines.append(line(.secrets) { $0.secrets = s }) }
        return lines
    }
}
