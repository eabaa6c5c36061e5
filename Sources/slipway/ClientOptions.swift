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

    @Option(name: .long, help: ArgumentHelp("PEM CA certificate to trust for an https server (or SLIPWAY_CA_CERT).", valueName: "FILE"))
    var caCert: String?

    var serverURL: String {
        // An empty SLIPWAY_SERVER (as `export SLIPWAY_SERVER=` leaves it) means unset.
        let fromEnvironment = ProcessInfo.processInfo.environment["SLIPWAY_SERVER"].flatMap { $0.isEmpty ? nil : $0 }
        let raw = server ?? fromEnvironment ?? "http://127.0.0.1:7878"
        return raw.hasSuffix("/") ? String(raw.dropLast()) : raw
    }

    func validate() throws {
        let url = serverURL
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ValidationError((server == nil ? "SLIPWAY_SERVER" : "--server") + " must be an http(s) URL such as http://127.0.0.1:7878 (got \(url))")
        }
        if let ca = caFile, !FileManager.default.isReadableFile(atPath: ca) {
            throw ValidationError("--ca-cert \(ca): no such readable file")
        }
    }

    var caFile: String? {
        caCert ?? ProcessInfo.processInfo.environment["SLIPWAY_CA_CERT"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The API client with the token from `Credentials` (errors: a token file others can read).
    func client() throws -> APIClient {
        CLITLS.caFile = caFile
        do {
            return APIClient(baseURL: serverURL, token: try Credentials.token(for: serverURL))
        } catch {
            printError("error: \(error)")
            throw Exit.failed
        }
    }
}

/// Exit codes documented in `slipway --help`.
enum Exit {
    static let failed = ExitCode(1)
    /// `deploy --wait --timeout`: the rollout was still running when the time ran out.
    static let stillRunning = ExitCode(2)
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
