import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer
#if canImport(Glibc)
import Glibc
#endif

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Encrypted secrets, injected into instances' environment at start.",
        discussion: """
            Values never travel on the command line: `set` reads them from stdin (piped input \
            loses one trailing newline) or from a prompt that does not echo.
            """,
        subcommands: [SecretsSetCommand.self, SecretsListCommand.self, SecretsRemoveCommand.self, SecretsRotateKeyCommand.self]
    )
}

struct SecretsSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set a secret's value (read from stdin, or a no-echo prompt on a terminal).",
        discussion: "Piped input loses exactly one trailing newline (\\n or \\r\\n); an empty value is refused."
    )

    @Argument(help: "The service.")
    var service: String

    @Argument(help: "The secret's name: an environment variable name.")
    var name: String

    @Option(name: .long, help: "The environment it applies to (default: every environment).")
    var env: String?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let problem = SecretName.problem(name) { throw ValidationError(problem) }
    }

    func run() async throws {
        let value = try SecretInput.read(prompt: "value of \(name) for \(service): ")
        if let problem = SecretName.valueProblem(value, name: name) {
            printError("error: \(problem)")
            throw Exit.failed
        }
        let info = try await withAPI {
            try await client.client().send(.PUT, "/v1/services/\(service.urlPathEscaped)/secrets/\(name.urlPathEscaped)" + (env.map { "?env=\($0.urlQueryEscaped)" } ?? ""),
                                           body: SecretSetRequest(value: value, env: env, by: CLIActor.current), as: SecretInfo.self)
        }
        if client.output == .json { return try printJSON(info) }
        print("secret \(info.name) of \(info.service)\(info.env.isEmpty ? "" : " (\(info.env))") set: version \(info.version); instances started from now on get it")
    }
}

struct SecretsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "A service's secrets: names, versions, dates and who set them (never values)."
    )

    @Argument(help: "The service.")
    var service: String

    @Option(name: .long, help: "Only this environment (\"\" for secrets of every environment).")
    var env: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let query = env.map { "?env=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
        let list = try await withAPI {
            try await client.client().send(.GET, "/v1/services/\(service.urlPathEscaped)/secrets\(query)", as: [SecretInfo].self)
        }
        if client.output == .json { return try printJSON(list) }
        if list.isEmpty { return print("\(service) has no secrets") }
        var rows = [["NAME", "ENV", "VERSION", "UPDATED", "BY", "CREATED"]]
        for s in list {
            rows.append([s.name, s.env.isEmpty ? "*" : s.env, String(s.version), Format.time(s.updatedAt), s.updatedBy ?? "-", Format.time(s.createdAt)])
        }
        print(Format.table(rows))
    }
}

struct SecretsRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove a secret (instances already running keep their environment)."
    )

    @Argument(help: "The service.")
    var service: String

    @Argument(help: "The secret's name.")
    var name: String

    @Option(name: .long, help: "The environment (default: the secret of every environment).")
    var env: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        var query = "?by=\(CLIActor.current.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        if let env { query += "&env=\(env.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? env)" }
        _ = try await withAPI {
            try await client.client().raw(.DELETE, "/v1/services/\(service.urlPathEscaped)/secrets/\(name.urlPathEscaped)\(query)")
        }
        print("secret \(name) of \(service) removed")
    }
}

struct SecretsRotateKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Re-encrypt every secret under a new master key, in one transaction.",
        discussion: """
            With the state directory's key file, the server makes the new key and replaces \
            master.key itself. When the server's key comes from SLIPWAY_MASTER_KEY, pass the new \
            key (base64 or hex of 32 bytes) on stdin with --new-key-stdin, then set \
            SLIPWAY_MASTER_KEY to it before the server's next start.
            """
    )

    @Flag(name: .long, help: "Read the new master key from stdin (needed when the server uses SLIPWAY_MASTER_KEY).")
    var newKeyStdin = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let newKey = newKeyStdin ? try SecretInput.read(prompt: "new master key (base64 or hex of 32 bytes): ") : nil
        let result = try await withAPI {
            try await client.client().send(.POST, "/v1/secrets/rotate-key", body: RotateKeyRequest(newKey: newKey, by: CLIActor.current), as: Controller.RotateKeyResult.self)
        }
        if client.output == .json { return try printJSON(result) }
        print("master key rotated: key id \(result.previousKeyID) → \(result.keyID); \(result.reencrypted) secret value(s) re-encrypted")
        print(result.note)
    }
}

/// Reads a secret from stdin: a no-echo prompt on a terminal, else everything piped in
/// minus one trailing newline.
enum SecretInput {
    static func read(prompt: String) throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            FileHandle.standardError.write(Data(prompt.utf8))
            var saved = termios()
            let haveTerminal = tcgetattr(STDIN_FILENO, &saved) == 0
            if haveTerminal {
                var quiet = saved
                quiet.c_lflag &= ~tcflag_t(ECHO)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
            }
            defer {
                if haveTerminal { tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
                FileHandle.standardError.write(Data("\n".utf8))
            }
            return readLine(strippingNewline: true) ?? ""
        }
        var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        if text.hasSuffix("\r\n") {
            text.removeLast(1) // "\r\n" is one Character
        } else if text.hasSuffix("\n") {
            text.removeLast()
        }
        return text
    }
}
