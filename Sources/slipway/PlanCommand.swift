import ArgumentParser
import Foundation
import SlipwayConfig
import SlipwayCore
import SlipwayServer

/// `slipway plan`: what `apply` (and the next deploy) would do, without changing anything.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what applying a config would change, without changing anything.",
        discussion: """
            Per unit (each environment): the settings that change (old → new; environment values, \
            secrets and credentials hidden) and when each takes effect (the router at once, the \
            next deploy's instances, the next rollout, the next deploy's gates), what apply would \
            refuse, warnings (a running rollout, a listen address change), and the gates of the \
            new config that the newest recorded release would fail. Exit codes: 0 no change, \
            2 changes, 1 error (the config is invalid, apply would be refused, the server \
            refused the request).
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The slipway.yml to plan.", valueName: "FILE"))
    var file: String

    @Option(name: .long, help: "Only this environment.")
    var env: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        var plans = try await Self.fetch(file: file, client: client)
        if let env {
            let names = plans.compactMap { UnitName.split($0.service).environment }
            plans = plans.filter { UnitName.split($0.service).environment == env }
            guard !plans.isEmpty else {
                throw ValidationError(names.isEmpty ? "\(file) has no environments; leave out --env" : "\(file) has no environment \(env); environments: \(names.joined(separator: ", "))")
            }
        }
        if client.output == .json {
            try printJSON(plans)
        } else {
            print(Self.render(plans), terminator: "")
        }
        if plans.contains(where: { !$0.refusals.isEmpty }) { throw Exit.failed }
        if plans.contains(where: \.changed) { throw ExitCode(2) }
    }

    /// Reads and checks the file locally (errors with file:line), then asks the server.
    static func fetch(file: String, client: ClientOptions) async throws -> [Controller.UnitPlan] {
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        guard let text = try? String(contentsOfFile: absolute, encoding: .utf8) else {
            printError("error: cannot read \(file)")
            throw Exit.failed
        }
        do {
            _ = try ConfigLoader.parseUnits(text, fileName: absolute, baseDirectory: PathText.folder(of: absolute))
        } catch {
            for e in error.errors { printError(e.description) }
            throw Exit.failed
        }
        return try await withAPI {
            try await client.client().send(.POST, "/v1/plan", body: ApplyRequest(path: absolute, text: text), as: [Controller.UnitPlan].self)
        }
    }

    static func render(_ plans: [Controller.UnitPlan]) -> String {
        var out = ""
        for plan in plans {
            if !plan.registered {
                out += "\(plan.service): new service (apply registers it)\n"
            } else if plan.changes.isEmpty {
                out += "\(plan.service): no changes (config version \(plan.configVersion ?? 0))\n"
            } else {
                out += "\(plan.service): \(plan.changes.count) change(s) to config version \(plan.configVersion ?? 0)\n"
                for change in plan.changes {
                    let mark = change.old == nil ? "+" : change.new == nil ? "-" : "~"
                    let values = switch (change.old, change.new) {
                    case (nil, let new?): new
                    case (let old?, nil): old
                    case (let old?, let new?): change.masked ? "changed (hidden)" : "\(old) → \(new)"
                    case (nil, nil): ""
                    }
                    out += "  \(mark) \(change.key): \(values)\n"
                }
                let effects = Controller.Effect.allCases.filter { effect in plan.changes.contains { $0.effect == effect } }
                for effect in effects {
                    out += "    \(effect.text): \(plan.changes.filter { $0.effect == effect }.map(\.key).joined(separator: ", "))\n"
                }
            }
            for refusal in plan.refusals { out += "  REFUSED: apply would fail: \(refusal)\n" }
            for warning in plan.warnings { out += "  warning: \(warning)\n" }
            if let release = plan.gatesRelease, !plan.gates.isEmpty {
                out += "  gates: the newest release \(release) would be refused: " + plan.gates.map { "\($0.gate.rawValue) \($0.value) (needs \($0.threshold))" }.joined(separator: "; ") + "\n"
            }
        }
        return out
    }
}
