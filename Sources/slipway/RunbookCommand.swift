import ArgumentParser
import SlipwayConfig
import SlipwayCore

struct RunbookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runbook",
        abstract: "Print the operator's checklist for a service, as Markdown, generated from its config.",
        discussion: """
            Per environment, in promotion order: what is checked before a deploy (promotion, gates, \
            freezes, backup, pre_deploy), what the deploy does (approvals, health, hooks, strategy \
            steps and their analysis, waves), how to watch it (status, why, alerts, notifications) \
            and what rolls back by itself or by hand. Generated, so it never drifts from what \
            Slipway does; regenerate it after every config change.
            """
    )

    @Argument(help: "The service (checked against `service:` in the file).")
    var service: String

    @Option(name: .long, help: "Only this environment.")
    var env: String?

    @Option(name: [.short, .long], help: ArgumentHelp("The config file.", valueName: "FILE"))
    var file: String = "slipway.yml"

    func run() throws {
        var units: [ServiceSpec]
        do {
            units = try ConfigLoader.loadUnits(file: file)
        } catch {
            for e in error.errors { printError(e.description) }
            throw Exit.failed
        }
        guard let configured = units.first?.serviceName, configured == service else {
            printError("error: \(file) configures \(units.first?.serviceName ?? "no service"), not \(service)")
            throw Exit.failed
        }
        if let env {
            let names = units.compactMap(\.environmentName)
            units = units.filter { $0.environmentName == env }
            guard !units.isEmpty else {
                throw ValidationError(names.isEmpty
                    ? "\(service) has no environments; leave out --env"
                    : "\(service) has no environment \(env); environments: \(names.joined(separator: ", "))")
            }
        }
        print(Runbook.markdown(units: units, source: file), terminator: "")
    }
}
