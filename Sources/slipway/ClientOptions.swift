import ArgumentParser
import Foundation

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Options every API client command shares.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The control plane's URL (or SLIPWAY_SERVER).", valueName: "URL"))
    var server: String?

    @Option(name: [.short, .long], help: "Output format: text or json.")
    var output: OutputFormat = .text

    var serverURL: String {
        let raw = server ?? ProcessInfo.processInfo.environment["SLIPWAY_SERVER"] ?? "http://127.0.0.1:7878"
        return raw.hasSuffix("/") ? String(raw.dropLast()) : raw
    }

    func validate() throws {
        let url = serverURL
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ValidationError("--server must be an http(s) URL such as http://127.0.0.1:7878 (got \(url))")
        }
    }

    func client() -> APIClient { APIClient(baseURL: serverURL) }
}

/// Exit codes documented in `slipway --help`.
enum Exit {
    static let failed = ExitCode(1)
    static let unreachable = ExitCode(3)
}

/// Prints a line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
