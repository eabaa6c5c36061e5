import ArgumentParser
import Foundation
import SlipwayConfig
import SlipwayCore
import SlipwayServer

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check slipway.yml files; print every error as FILE:LINE:COL: field: message."
    )

    @Argument(help: "Config files to check.")
    var files: [String]

    @Option(name: [.short, .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    func run() throws {
        var failed = false
        var results: [[String: String]] = []
        for file in files {
            do {
                for spec in try ConfigLoader.loadUnits(file: file) {
                    if output == .text { print("\(file): ok (\(spec.environment == nil ? "service" : "environment") \(spec.name), \(spec.servers.isEmpty ? "\(spec.replicas) replica(s)" : "\(spec.instancesPerServer) replica(s) on each of \(spec.servers.count) server(s)" + (spec.waves.map { " in \($0.layout(spec.servers).plan.count) waves" } ?? "")), listen \(spec.listen))") }
                    results.append(["file": file, "status": "ok", "service": spec.name])
                }
            } catch {
                failed = true
                for e in error.errors {
                    if output == .text { printError(e.description) }
                    results.append(["file": e.file, "status": "error", "line": "\(e.line)", "column": "\(e.column)", "path": e.path, "message": e.message])
                }
            }
        }
        if output == .json { try printJSON(results) }
        if failed { throw Exit.failed }
    }
}

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of slipway.yml (for editors)."
    )

    func run() throws {
        print(ConfigSchema.jsonSchema())
    }
}

struct OpenAPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "Print the OpenAPI 3.1 document of the REST API (also served at GET /v1/openapi.json)."
    )

    func run() throws {
        print(OpenAPI.json(), terminator: "")
    }
}

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Register a service or update its config (stored with a version).",
        discussion: "When stdin and stdout are a terminal, shows the plan (as `slipway plan` does) and asks before applying; --yes skips the question. Otherwise (scripts, CI, redirected output) it applies at once."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The slipway.yml to apply.", valueName: "FILE"))
    var file: String

    @Flag(name: .shortAndLong, help: "Apply without asking.")
    var yes = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
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
        if !yes, isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1, client.output == .text {
            let plans = try await PlanCommand.fetch(file: file, client: client)
            print(PlanCommand.render(plans), terminator: "")
            guard plans.contains(where: \.changed) else { return }
            print("Apply these changes? [y/N] ", terminator: "")
            fflush(nil)
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            guard answer == "y" || answer == "yes" else {
                print("nothing applied")
                throw Exit.failed
            }
        }
        let results = try await withAPI {
            try await client.client().send(.PUT, "/v1/services", body: ApplyRequest(path: absolute, text: text), as: [Controller.ApplyResult].self)
        }
        if client.output == .json { return try printJSON(results) }
        for result in results {
            print(result.changed ? "\(result.service): config version \(result.configVersion) applied" : "\(result.service): unchanged (config version \(result.configVersion))")
        }
    }
}


struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect slipway.yml.",
        subcommands: [ConfigShowCommand.self]
    )
}

struct ConfigShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a service's (or one environment's) effective settings and where each comes from.",
        discussion: "Environments merge with the service: mappings key by key, other values replace; `# default` marks a built-in default."
    )

    @Argument(help: "The service (checked against `service:` in the file).")
    var service: String

    @Option(name: .long, help: "The environment whose settings to show.")
    var env: String?

    @Option(name: [.short, .long], help: ArgumentHelp("The config file.", valueName: "FILE"))
    var file: String = "slipway.yml"

    @Option(name: [.short, .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let explanation: ConfigExplain.Explanation
        do {
            explanation = try ConfigExplain.explain(file: file, environment: env)
        } catch {
            for e in error.errors { printError(e.description) }
            throw Exit.failed
        }
        guard UnitName.split(explanation.unit).service == service else {
            printError("error: \(file) configures \(UnitName.split(explanation.unit).service), not \(service)")
            throw Exit.failed
        }
        if output == .json { return try printJSON(explanation) }
        print(ConfigExplain.render(explanation), terminator: "")
    }
}
