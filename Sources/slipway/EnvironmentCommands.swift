import ArgumentParser
import Foundation
import SlipwayConfig
import SlipwayCore
import SlipwayEvidence
import SlipwayServer

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Record releases with their CI evidence (tests, coverage, vulnerabilities, secret scans).",
        subcommands: [ReleaseCreateCommand.self, ReleaseListCommand.self, ReleaseShowCommand.self]
    )
}

struct ReleaseCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Record an immutable release of a service with its evidence.",
        discussion: """
            Reports are read here (on the CI machine); only their summaries and SHA-256 digests go to the server. \
            Formats: \(EvidenceFormat.names). Example: --evidence junit=build/junit.xml --evidence cobertura=coverage.xml
            """
    )

    @Argument(help: "The service (without environment: a release is the same build everywhere).")
    var service: String

    @Argument(help: "The version label deploys will name.")
    var version: String

    @Option(name: .long, help: ArgumentHelp("The commit the release was built from.", valueName: "SHA"))
    var commit: String?

    @Option(name: .customLong("commit-time"), help: ArgumentHelp("When that commit was made: RFC 3339 or seconds since 1970 (lead time starts here).", valueName: "TIME"))
    var commitTime: String?

    @Option(name: .long, help: ArgumentHelp("A CI report (repeatable).", valueName: "FORMAT=PATH"))
    var evidence: [String] = []

    @OptionGroup var client: ClientOptions

    func run() async throws {
        var time: Double?
        if let commitTime {
            guard let parsed = Double(commitTime) ?? Timestamps.parse(commitTime) else {
                printError("error: --commit-time \(commitTime.debugDescription) is not a time: use RFC 3339 (2026-11-20T14:03:00Z) or seconds since 1970")
                throw ExitCode(64)
            }
            time = parsed
        }
        var items: [EvidenceItem] = []
        for argument in evidence {
            do {
                items.append(try EvidenceItem.read(argument: argument))
            } catch {
                printError("error: \(error)")
                throw Exit.failed
            }
        }
        // A report made for another build is refused here, before anything is sent.
        let draft = ReleaseManifest(service: service, version: version, commit: commit, commitTime: time, createdAt: 0, createdBy: "", evidence: items)
        if let why = items.lazy.compactMap(draft.mismatch).first {
            printError("error: \(why)")
            throw Exit.failed
        }
        let request = ReleaseRequest(service: service, version: version, commit: commit, commitTime: time, evidence: items)
        let manifest = try await withAPI {
            try await client.client().send(.POST, "/v1/releases", body: request, as: ReleaseManifest.self)
        }
        if client.output == .json { return try printJSON(manifest) }
        print("release \(manifest.version) of \(manifest.service) recorded" + (manifest.commit.map { " (commit \($0))" } ?? ""))
        ReleaseShowCommand.printEvidence(manifest)
    }
}

struct ReleaseListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List a service's recorded releases.")

    @Argument(help: "The service.")
    var service: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let releases = try await withAPI {
            try await client.client().send(.GET, "/v1/releases/\(service.urlPathEscaped)", as: [ReleaseManifest].self)
        }
        if client.output == .json { return try printJSON(releases) }
        if releases.isEmpty { return print("\(service) has no recorded releases (slipway release create)") }
        var rows = [["VERSION", "COMMIT", "CREATED", "BY", "EVIDENCE"]]
        for r in releases {
            rows.append([r.version, r.commit.map { String($0.prefix(12)) } ?? "-", Format.time(r.createdAt), r.createdBy,
                         r.evidence.map(\.format.rawValue).joined(separator: ", ")])
        }
        print(Format.table(rows))
    }
}

struct ReleaseShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one release and its evidence.")

    @Argument(help: "The service.")
    var service: String

    @Argument(help: "The version.")
    var version: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let manifest = try await withAPI {
            try await client.client().send(.GET, "/v1/releases/\(service.urlPathEscaped)/\(version.urlPathEscaped)", as: ReleaseManifest.self)
        }
        if client.output == .json { return try printJSON(manifest) }
        print("release \(manifest.version) of \(manifest.service), recorded \(Format.time(manifest.createdAt)) by \(manifest.createdBy)")
        if let commit = manifest.commit { print("  commit \(commit)" + (manifest.commitTime.map { " (\(Format.time($0)))" } ?? "")) }
        Self.printEvidence(manifest)
    }

    static func printEvidence(_ manifest: ReleaseManifest) {
        if manifest.evidence.isEmpty { print("  no evidence") }
        for item in manifest.evidence {
            print("  \(item.format.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(item.summary)  [\(item.file), sha256 \(item.sha256.prefix(12))…]")
        }
    }
}

struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Check an environment's quality gates.",
        subcommands: [GateCheckCommand.self]
    )
}

struct GateCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check every gate of an environment for a release without deploying it.",
        discussion: "Prints each gate with its value and threshold; exits 0 when all pass, 1 when one fails."
    )

    @Argument(help: "The service.")
    var service: String

    @Argument(help: "The release's version.")
    var version: String

    @Option(name: .long, help: ArgumentHelp("The environment.", valueName: "ENV"))
    var env: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let report = try await withAPI {
            try await client.client().send(.POST, "/v1/services/\(unitName(service, env).urlPathEscaped)/gates", body: GateCheckRequest(version: version), as: Controller.GateReport.self)
        }
        if client.output == .json {
            try printJSON(report)
        } else {
            let target = report.environment.map { "\(report.service) in \($0)" } ?? report.service
            if report.results.isEmpty { print("\(target) has no gates") }
            for result in report.results { print(result.line) }
            print("\(report.passed ? "passed" : "failed"): \(report.version) to \(target), \(report.results.filter(\.passed).count) of \(report.results.count) gates passed")
        }
        if !report.passed { throw Exit.failed }
    }
}

/// approve and reject share their shape.
protocol VoteCommand: AsyncParsableCommand {
    var service: String { get }
    var env: String? { get }
    var comment: String? { get }
    var client: ClientOptions { get }
    var verb: String { get }
}

extension VoteCommand {
    func run() async throws {
        let record = try await withAPI {
            try await client.client().send(.POST, "/v1/services/\(unitName(service, env).urlPathEscaped)/\(verb)", body: VoteRequest(comment: comment), as: RolloutRecord.self)
        }
        if client.output == .json { return try printJSON(record) }
        print(Format.rolloutLine(record))
        if let a = record.approval, record.phase == .awaitingApproval {
            print("  approvals: \(a.approvals) of \(a.needed); waiting for \(a.needed - a.approvals) more")
        }
        if record.phase == .failed, let reason = record.reason { print("  \(reason)") }
    }
}

struct ApproveCommand: VoteCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Approve the rollout awaiting approval in an environment (approver role).")
    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment.", valueName: "ENV")) var env: String?
    @Option(name: .long, help: "Why (recorded with the decision).") var comment: String?
    @OptionGroup var client: ClientOptions
    var verb: String { "approve" }
}

struct RejectCommand: VoteCommand {
    static let configuration = CommandConfiguration(commandName: "reject", abstract: "Reject the rollout awaiting approval: it ends before anything starts (approver role).")
    @Argument(help: "The service.") var service: String
    @Option(name: .long, help: ArgumentHelp("The environment.", valueName: "ENV")) var env: String?
    @Option(name: .long, help: "Why (recorded with the decision).") var comment: String?
    @OptionGroup var client: ClientOptions
    var verb: String { "reject" }
}
