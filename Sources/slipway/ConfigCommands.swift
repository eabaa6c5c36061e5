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
                let spec = try ConfigLoader.load(file: file)
                if output == .text { print("\(file): ok (service \(spec.name), \(spec.replicas) replica(s), listen \(spec.listen))") }
                results.append(["file": file, "status": "ok", "service": spec.name])
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

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Register a service or update its config (stored with a version)."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The slipway.yml to apply.", valueName: "FILE"))
    var file: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        guard let text = try? String(contentsOfFile: absolute, encoding: .utf8) else {
            printError("error: cannot read \(file)")
            throw Exit.failed
        }
        do {
            _ = try ConfigLoader.parse(text, fileName: absolute, baseDirectory: (absolute as NSString).deletingLastPathComponent)
        } catch {
            for e in error.errors { printError(e.description) }
            throw Exit.failed
        }
        let result = try await withAPI {
            try await client.client().send(.PUT, "/v1/services", body: ApplyRequest(path: absolute, text: text), as: Controller.ApplyResult.self)
        }
        if client.output == .json { return try printJSON(result) }
        print(result.changed ? "\(result.service): config version \(result.configVersion) applied" : "\(result.service): unchanged (config version \(result.configVersion))")
    }
}

