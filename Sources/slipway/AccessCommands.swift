import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer
import SlipwayStore

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke API tokens (admin).",
        discussion: """
            Roles, each including the ones before: viewer (read), deployer (apply, deploy, \
            rollback, promote, pause, resume, abort, retry), approver (approve rollouts), admin \
            (tokens, audit log, shutdown). A token is shown once; the server keeps only its SHA-256.
            """,
        subcommands: [TokenCreateCommand.self, TokenListCommand.self, TokenRevokeCommand.self]
    )
}

struct TokenCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a token for NAME and print it once.")
    @Argument(help: "Who the token is for (letters, digits, - _ . @).") var name: String
    @Option(name: .long, help: "viewer, deployer, approver or admin.") var role: String
    @Option(name: .customLong("env"), help: ArgumentHelp("Limit the token to an environment (repeatable).", valueName: "E")) var environments: [String] = []
    @Option(name: .long, help: ArgumentHelp("Expire after this long (e.g. 90d, 12h).", valueName: "DURATION")) var expiresIn: String?
    @Option(name: .long, help: ArgumentHelp("Write the token straight into this state directory's database (no server or token needed: recovers a lost admin token).", valueName: "DIR"))
    var stateDir: String?
    @OptionGroup var client: ClientOptions

    func validate() throws {
        do { try PrincipalName.validate(name) } catch { throw ValidationError(error.description) }
        do { _ = try Role.parse(role) } catch { throw ValidationError("--role: \(error.description)") }
        if let e = expiresIn, (DurationText.parse(e) ?? .zero) <= .zero {
            throw ValidationError("--expires-in must be a positive duration such as 90d or 12h (got \(e))")
        }
    }

    func run() async throws {
        let reply: CreateTokenReply
        if let stateDir {
            reply = try createLocally(stateDir: stateDir)
        } else {
            let api = try client.client()
            reply = try await withAPI {
                try await api.send(.POST, "/v1/tokens", body: CreateTokenRequest(name: name, role: role, environments: environments.isEmpty ? nil : environments, expiresIn: expiresIn), as: CreateTokenReply.self)
            }
        }
        if client.output == .json { return try printJSON(reply) }
        let scope = reply.token.environments.isEmpty ? "every environment" : "environments \(reply.token.environments.joined(separator: ", "))"
        printError("created token \(reply.token.id) for \(reply.token.name): role \(reply.token.role.rawValue), \(scope)\(reply.token.expiresAt.map { ", expires \(Format.time($0))" } ?? "")")
        printError("this is the only time it is shown; the server keeps only its hash:")
        print(reply.secret)
    }
}

extension TokenCreateCommand {
    /// Whoever can write the state directory already controls everything in it, so this
    /// needs no token; it is recorded in the audit log like any other token.
    func createLocally(stateDir: String) throws -> CreateTokenReply {
        let db = (stateDir as NSString).appendingPathComponent("slipway.sqlite")
        guard FileManager.default.fileExists(atPath: db) else {
            printError("error: \(stateDir) has no state database (slipway.sqlite)")
            throw Exit.failed
        }
        let who = LocalOperator.name(acting: "--state-dir")
        let now = Date().timeIntervalSince1970
        do {
            let store = try Store(path: db)
            let key = try store.unlockSecrets(environment: ProcessInfo.processInfo.environment,
                                              keyFile: (stateDir as NSString).appendingPathComponent("master.key"),
                                              pendingFile: (stateDir as NSString).appendingPathComponent("master.key.new"))
            store.signAuditHead(with: key)
            let issued = try store.createToken(name: name, role: try Role.parse(role), environments: environments, expiresAt: expiresIn.flatMap(DurationText.parse).map { now + $0.seconds }, createdBy: who, now: now)
            try store.appendAudit(AuditDraft(principal: who, action: "token.create", target: "token/\(name)", details: ["role": role, "id": issued.record.id, "via": "--state-dir"]), time: now)
            return CreateTokenReply(token: issued.record, secret: issued.secret)
        } catch {
            printError("error: \(error)")
            throw Exit.failed
        }
    }
}

struct TokenListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tokens (never their secrets).")
    @Flag(name: .long, help: "Include revoked tokens.") var all = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try client.client()
        let tokens = try await withAPI { try await api.send(.GET, "/v1/tokens\(all ? "?all=1" : "")", as: [TokenRecord].self) }
        if client.output == .json { return try printJSON(tokens) }
        let now = Date().timeIntervalSince1970
        var rows = [["ID", "NAME", "ROLE", "ENVIRONMENTS", "CREATED", "BY", "LAST USED", "STATE"]]
        for t in tokens {
            let state = t.revokedAt.map { "revoked \(Format.time($0))" } ?? t.expiresAt.map { $0 <= now ? "expired \(Format.time($0))" : "expires \(Format.time($0))" } ?? "active"
            rows.append([t.id, t.name, t.role.rawValue, t.environments.isEmpty ? "all" : t.environments.joined(separator: ","), Format.time(t.createdAt), t.createdBy, t.lastUsedAt.map(Format.time) ?? "never", state])
        }
        print(Format.table(rows))
    }
}

struct TokenRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke the live token of NAME (or the token with that id).")
    @Argument(help: "Token name or id.") var name: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try client.client()
        let record = try await withAPI { try await api.send(.DELETE, "/v1/tokens/\(name.urlPathEscaped)", as: TokenRecord.self) }
        if client.output == .json { return try printJSON(record) }
        print("revoked token \(record.id) of \(record.name)")
    }
}

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Save an API token for a server in the credentials file (0600).",
        discussion: "Reads the token from stdin (or a prompt that does not echo), checks it with the server, and stores it in SLIPWAY_CREDENTIALS or ~/.config/slipway/credentials.json."
    )
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let token: String
        if isatty(STDIN_FILENO) != 0 {
            guard let raw = getpass("API token for \(client.serverURL): ") else { throw Exit.failed }
            token = String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            token = (readLine(strippingNewline: true) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !token.isEmpty else {
            printError("error: no token given on stdin")
            throw Exit.failed
        }
        _ = try client.client()
        let api = APIClient(baseURL: client.serverURL, token: token)
        let principal = try await withAPI { try await api.send(.GET, "/v1/whoami", as: Principal.self) }
        do {
            try Credentials.save(server: client.serverURL, token: token, principal: principal.name)
        } catch {
            printError("error: \(error)")
            throw Exit.failed
        }
        print("logged in to \(client.serverURL) as \(principal.name) (\(principal.role.rawValue)); saved in \(Credentials.path)")
    }
}

struct WhoAmICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show the principal and role of the token the CLI would use.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try client.client()
        let p = try await withAPI { try await api.send(.GET, "/v1/whoami", as: Principal.self) }
        if client.output == .json { return try printJSON(p) }
        print("\(p.name) (\(p.role.rawValue), token \(p.tokenID)\(p.environments.isEmpty ? "" : ", environments \(p.environments.joined(separator: ","))"))")
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read, export and verify the tamper-evident audit log (admin).",
        subcommands: [AuditListCommand.self, AuditExportCommand.self, AuditVerifyCommand.self]
    )
}

struct AuditListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show audit entries, newest last.")
    @Option(name: .long, help: ArgumentHelp("Only entries from this time (2026-11-22T10:00:00Z) or this long ago (24h).", valueName: "T")) var since: String?
    @Option(name: .long, help: "How many entries (the newest; default 50).") var limit: Int = 50
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive (got \(limit))") }
        if let s = since, TimeArgument.parse(s, now: 0) == nil { throw ValidationError("--since must be a time such as 2026-11-22T10:00:00Z or a duration such as 24h (got \(s))") }
    }

    func run() async throws {
        let api = try client.client()
        let path = "/v1/audit?limit=\(limit)" + (since.map { "&since=\($0.urlQueryEscaped)" } ?? "&tail=1")
        let entries = try await withAPI { try await api.send(.GET, path, as: [AuditEntry].self) }
        if client.output == .json { return try printJSON(entries) }
        var rows = [["SEQ", "TIME", "PRINCIPAL", "ACTION", "TARGET", "DETAILS"]]
        for e in entries {
            let details = (try? JSONDecoder().decode([String: String].self, from: Data(e.details.utf8)))
                .map { d in d.keys.sorted().filter { !["client", "token", "status"].contains($0) }.map { "\($0)=\(d[$0]!)" }.joined(separator: " ") } ?? e.details
            rows.append([String(e.seq), Format.time(e.time), e.principal, e.action, e.target, String(details.prefix(120))])
        }
        print(Format.table(rows))
    }
}

struct AuditExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write audit entries as JSON lines (for a SIEM).")
    @Option(name: .long, help: ArgumentHelp("Only entries from this time or this long ago.", valueName: "T")) var since: String?
    @Option(name: .long, help: ArgumentHelp("Write to FILE instead of stdout.", valueName: "FILE")) var to: String?
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let s = since, TimeArgument.parse(s, now: 0) == nil { throw ValidationError("--since must be a time such as 2026-11-22T10:00:00Z or a duration such as 24h (got \(s))") }
    }

    func run() async throws {
        let api = try client.client()
        let out: FileHandle
        if let to {
            guard FileManager.default.createFile(atPath: to, contents: nil, attributes: [.posixPermissions: 0o600]), let h = FileHandle(forWritingAtPath: to) else {
                printError("error: cannot write \(to)")
                throw Exit.failed
            }
            out = h
        } else {
            out = FileHandle.standardOutput
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var after: Int64 = 0
        var written = 0
        let sinceQuery = since.map { "&since=\($0.urlQueryEscaped)" } ?? ""
        while true {
            let page = try await withAPI { try await api.send(.GET, "/v1/audit?after=\(after)&limit=5000\(sinceQuery)", as: [AuditEntry].self) }
            for e in page {
                out.write(try encoder.encode(ExportedAuditEntry(e)))
                out.write(Data("\n".utf8))
            }
            written += page.count
            guard let last = page.last, page.count == 5000 else { break }
            after = last.seq
        }
        if to != nil { printError("wrote \(written) entries to \(to!)") }
    }
}

/// One JSON line of `audit export`.
struct ExportedAuditEntry: Encodable {
    var seq: Int64
    var time: String
    var principal: String
    var action: String
    var target: String
    var details: [String: String]
    var previousHash: String
    var hash: String

    init(_ e: AuditEntry) {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        seq = e.seq
        time = f.string(from: Date(timeIntervalSince1970: e.time))
        principal = e.principal
        action = e.action
        target = e.target
        details = (try? JSONDecoder().decode([String: String].self, from: Data(e.details.utf8))) ?? ["raw": e.details]
        previousHash = e.previousHash
        hash = e.hash
    }
}

struct AuditVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute the audit chain and name the first entry that does not match (exit 1).",
        discussion: "With --state-dir, reads the state database directly (no server needed; e.g. on a restored backup)."
    )
    @Option(name: .long, help: ArgumentHelp("Verify this state directory's database directly.", valueName: "DIR")) var stateDir: String?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let result: AuditVerification
        if let stateDir {
            let db = (stateDir as NSString).appendingPathComponent("slipway.sqlite")
            guard FileManager.default.fileExists(atPath: db) else {
                printError("error: \(stateDir) has no state database (slipway.sqlite)")
                throw Exit.failed
            }
            do {
                let store = try Store(path: db)
                // The head's signature is checked when the master key is at hand (read-only: nothing is created).
                let env = ProcessInfo.processInfo.environment
                let keyFile = (stateDir as NSString).appendingPathComponent("master.key")
                if let text = env[MasterKey.environmentVariable] {
                    store.signAuditHead(with: try MasterKey.parse(text, source: .environment))
                } else if FileManager.default.fileExists(atPath: keyFile) {
                    store.signAuditHead(with: try MasterKeyFile.read(keyFile))
                }
                result = try store.verifyAudit()
            } catch {
                printError("error: \(error)")
                throw Exit.failed
            }
        } else {
            let api = try client.client()
            result = try await withAPI { try await api.send(.GET, "/v1/audit/verify", as: AuditVerification.self) }
        }
        if client.output == .json { try printJSON(result) }
        if let problem = result.problem {
            if client.output == .text { print("audit log BROKEN at entry \(result.firstBadSeq.map(String.init) ?? "?"): \(problem)") }
            throw Exit.failed
        }
        if client.output == .text {
            print("audit log intact: \(result.entries) entries, chain and head verified" + (result.signatureChecked ? ", head signed by this state directory's master key" : " (head signature not checked: no master key at hand)"))
        }
    }
}
