import Foundation
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

/// Secrets through the real CLI and server: injection, the master key, rotation, and
/// the promise that a value shows up nowhere but in the instances' environment.
@Suite(.serialized) struct SecretsTests {
    static func randomHex(_ bytes: Int = 16) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// The environment of a running process, from /proc.
    static func environment(pid: Int32) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [:] }
        var out: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            guard let eq = text.firstIndex(of: "=") else { continue }
            out[String(text[..<eq])] = String(text[text.index(after: eq)...])
        }
        return out
    }

    static func runningInstances(_ h: SlipwayHarness, version: String) async throws -> [InstanceRecord] {
        let s = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
        return s.instances.filter { $0.version == version && $0.state == .running }
    }

    /// Every file under `directory` whose bytes contain `needle`.
    static func files(under directory: String, containing needle: String) -> [String] {
        let fm = FileManager.default
        let bytes = Data(needle.utf8)
        var hits: [String] = []
        for relative in (fm.subpaths(atPath: directory) ?? []) {
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = fm.contents(atPath: path) else { continue }
            if data.range(of: bytes) != nil { hits.append(relative) }
        }
        return hits
    }

    static func contents(_ paths: [String]) -> [String: Data] {
        var out: [String: Data] = [:]
        for p in paths { out[p] = FileManager.default.contents(atPath: p) ?? Data() }
        return out
    }

    @Test func aSecretReachesInstancesAndLeaksNowhere() async throws {
        let value = Self.randomHex()
        try await withHello(replicas: 1, extra: "env: { API_TOKEN: from-config }", deployTimeout: "3s") { h, port in
            var outputs: [String] = []
            func cli(_ args: [String], stdin: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
                let r = try await h.cli(args, stdin: stdin)
                outputs += [r.stdout, r.stderr]
                return r
            }

            let set = try await cli(["secrets", "set", "hello", "API_TOKEN"], stdin: value + "\n")
            #expect(set.status == 0, "\(set.stdout)\(set.stderr)")
            #expect(set.stdout.contains("version 1"))
            let list = try await cli(["secrets", "list", "hello", "-o", "json"])
            let infos = try decode([SecretInfo].self, list.stdout)
            #expect(infos.map(\.name) == ["API_TOKEN"])
            #expect(infos.first?.updatedBy?.contains("via CLI") == true)

            // The CLI has no way to take a value from argv.
            let argv = try await cli(["secrets", "set", "hello", "API_TOKEN", "some-value"])
            #expect(argv.status == 64, "\(argv.stderr)")
            // --set-env cannot shadow a secret (it would store the value in clear text).
            let shadow = try await cli(["deploy", "hello", "--version", "vx", "--set-env", "API_TOKEN=other"])
            #expect(shadow.status == 1)
            #expect(shadow.stderr.contains("API_TOKEN is a secret of hello"), "\(shadow.stderr)")

            // Deploy: the new instance has the secret, which wins over the config's `env:`.
            let deploy = try await cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(try await h.versionAt(port: port) == "v2")
            let v2 = try await Self.runningInstances(h, version: "v2")
            #expect(v2.count == 1)
            for instance in v2 { #expect(Self.environment(pid: instance.pid)["API_TOKEN"] == value, "secret injected, trailing newline stripped") }
            let v1 = try await Self.runningInstances(h, version: "v1")
            for instance in v1 { #expect(Self.environment(pid: instance.pid)["API_TOKEN"] == "from-config", "v1 started before the secret existed") }

            // A failing deploy and a rollback.
            let failing = try await cli(["deploy", "hello", "--version", "v3", "--set-env", "FAULT_UNHEALTHY=1", "--wait"])
            #expect(failing.status == 1, "\(failing.stdout)\(failing.stderr)")
            let rollback = try await cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect(try await h.versionAt(port: port) == "v1")

            // Everything a user can read back.
            for args in [["status", "hello"], ["status", "hello", "-o", "json"], ["history", "hello", "-o", "json"], ["why", "hello"],
                         ["why", "hello", "-o", "json"], ["logs", "hello"], ["secrets", "list", "hello"], ["secrets", "list", "hello", "-o", "json"],
                         ["audit", "list", "--limit", "100000", "-o", "json"], ["audit", "export"]] {
                _ = try await cli(args)
            }
            for path in ["/v1/services", "/v1/services/hello/events?limit=10000", "/v1/services/hello/rollouts", "/v1/services/hello/secrets", "/metrics",
                         "/v1/audit?limit=100000", "/v1/audit/verify"] {
                let reply = try await h.api(path)
                #expect(reply.status == 200, "\(path) answered \(reply.status): \(reply.body)")
                outputs.append(reply.body)
            }
            #expect(outputs.filter { $0.contains(value) }.isEmpty, "a CLI output or API answer carries the secret value")
            // Setting it is in the audit log, by name, without the value.
            let audit = try decode([AuditEntry].self, try await h.cli(["audit", "list", "--limit", "1000", "-o", "json"]).stdout)
            #expect(audit.contains { $0.action == "secret.set" && $0.principal == "admin" && $0.details.contains(#""secret":"API_TOKEN""#) }, "\(audit.map(\.action))")
            let server = try #require(h.server)
            #expect(!server.stdout.contains(value) && !server.stderr.contains(value), "the server's output carries the secret value")
            #expect(Self.files(under: h.stateDir, containing: value) == [], "files in the state dir carry the secret value")

            // Stop the control plane: the WAL is checkpointed into the database, searched again.
            #expect(try await cli(["down", "--control-plane-only"]).status == 0)
            _ = try await server.wait(timeout: .seconds(30))
            #expect(!server.stdout.contains(value) && !server.stderr.contains(value))
            #expect(Self.files(under: h.stateDir, containing: value) == [], "files in the state dir carry the secret value")
        }
    }

    /// An instance that prints its environment: what Slipway echoes back (deploy output,
    /// rollout details, `slipway logs`) shows `[secret NAME]` instead of the value.
    @Test func valuesAnInstancePrintsAreRedacted() async throws {
        let value = Self.randomHex()
        try await withHello(replicas: 1, deployTimeout: "3s") { h, _ in
            #expect(try await h.cli(["secrets", "set", "hello", "API_TOKEN"], stdin: value).status == 0)
            // The same service, run through a shell that prints the secret first.
            let hello = try BuiltProducts.path("hello-app")
            let running = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            let (config, _) = try h.helloConfig(listenPort: running.listen.port, replicas: 1, deployTimeout: "3s")
            let text = try String(contentsOfFile: config, encoding: .utf8)
                .replacingOccurrences(of: #"run: ["hello-app", "--port", "{{port}}", "--version", "{{version}}"]"#,
                                      with: #"run: ["/bin/sh", "-c", "echo token=$API_TOKEN; exec \#(hello) --port {{port}} --version {{version}}"]"#)
            #expect(text.contains("/bin/sh"))
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let apply = try await h.cli(["apply", "-f", config])
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")

            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--set-env", "FAULT_UNHEALTHY=1", "--wait"])
            #expect(deploy.status == 1, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("token=[secret API_TOKEN]"), "the log tail is shown, redacted: \(deploy.stdout)")
            #expect(!deploy.stdout.contains(value) && !deploy.stderr.contains(value))
            let history = try await h.cli(["history", "hello", "-o", "json"])
            #expect(history.stdout.contains("token=[secret API_TOKEN]"))
            #expect(!history.stdout.contains(value))
            let logs = try await h.cli(["logs", "hello", "--version", "v2"])
            #expect(logs.stdout.contains("token=[secret API_TOKEN]"), "\(logs.stdout)\(logs.stderr)")
            #expect(!logs.stdout.contains(value))
            // The instance's own log file does hold it (the app wrote it there): the file
            // search the leak test relies on finds what is present.
            #expect(Self.files(under: h.stateDir, containing: value).contains { $0.hasPrefix("logs/hello/") })

            // A new value set after redaction was in use is hidden as well (the control
            // plane keeps its redaction only while the stored secrets stay the same).
            let rotated = Self.randomHex()
            #expect(try await h.cli(["secrets", "set", "hello", "API_TOKEN"], stdin: rotated).status == 0)
            let again = try await h.cli(["deploy", "hello", "--version", "v3", "--set-env", "FAULT_UNHEALTHY=1", "--wait"])
            #expect(again.status == 1, "\(again.stdout)\(again.stderr)")
            #expect(again.stdout.contains("token=[secret API_TOKEN]"), "the new value is redacted: \(again.stdout)")
            #expect(!again.stdout.contains(rotated) && !again.stderr.contains(rotated))
            let logs3 = try await h.cli(["logs", "hello", "--version", "v3"])
            #expect(logs3.stdout.contains("token=[secret API_TOKEN]") && !logs3.stdout.contains(rotated), "\(logs3.stdout)\(logs3.stderr)")
        }
    }

    @Test func badInputGetsPreciseErrors() async throws {
        try await withHello(replicas: 1) { h, _ in
            let unknown = try await h.cli(["secrets", "list", "nope"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("unknown service nope"), "\(unknown.stderr)")
            let unknownSet = try await h.cli(["secrets", "set", "nope", "A"], stdin: "x")
            #expect(unknownSet.status == 1)
            #expect(unknownSet.stderr.contains("unknown service nope"), "\(unknownSet.stderr)")
            let badName = try await h.cli(["secrets", "set", "hello", "9X"], stdin: "x")
            #expect(badName.status == 64)
            #expect(badName.stderr.contains("not a valid environment variable name"), "\(badName.stderr)")
            let empty = try await h.cli(["secrets", "set", "hello", "A"], stdin: "\n")
            #expect(empty.status == 1)
            #expect(empty.stderr.contains("the value of secret A is empty"), "\(empty.stderr)")
            let missing = try await h.cli(["secrets", "rm", "hello", "NOPE"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("service hello has no secret NOPE"), "\(missing.stderr)")
            // The API checks what the CLI checks.
            let reserved = try await TestHTTP.request(h.apiURL + "/v1/services/hello/secrets/PORT", method: .PUT,
                                                      headers: h.authorization + [("content-type", "application/json")], body: #"{"value": "x"}"#)
            #expect(reserved.status == 422)
            #expect(reserved.body.contains("reserved"), "\(reserved.body)")
            let badEnv = try await h.api("/v1/services/hello/secrets?env=a%20b")
            #expect(badEnv.status == 400)
            let badKey = try await TestHTTP.request(h.apiURL + "/v1/secrets/rotate-key", method: .POST,
                                                    headers: h.authorization + [("content-type", "application/json")], body: #"{"newKey": "AAAA"}"#)
            #expect(badKey.status == 422)
            #expect(badKey.body.contains("must hold 32 bytes"), "\(badKey.body)")
            #expect(try await h.cli(["secrets", "list", "hello"]).stdout.contains("hello has no secrets"))
        }
    }

    @Test func aCorruptRowFailsTheDeployPreciselyAndListStillWorks() async throws {
        try await withHello(replicas: 1) { h, port in
            #expect(try await h.cli(["secrets", "set", "hello", "API_TOKEN"], stdin: Self.randomHex()).status == 0)
            #expect(try await h.cli(["secrets", "set", "hello", "OTHER"], stdin: "fine").status == 0)
            let script = """
                import sqlite3, sys
                db = sqlite3.connect(sys.argv[1])
                db.execute("UPDATE secret SET sealed = zeroblob(48) WHERE name = 'API_TOKEN'")
                db.commit()
                """
            let python = try await runCommand("/usr/bin/env", ["python3", "-c", script, h.stateDir + "/slipway.sqlite"])
            #expect(python.status == 0, "\(python.stderr)")

            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 1)
            #expect(deploy.stderr.contains("secret API_TOKEN (version 1) of service hello cannot be decrypted"), "\(deploy.stderr)")
            #expect(try await h.versionAt(port: port) == "v1", "nothing was deployed")
            let list = try await h.cli(["secrets", "list", "hello", "-o", "json"])
            #expect(list.status == 0)
            #expect(try decode([SecretInfo].self, list.stdout).map(\.name) == ["API_TOKEN", "OTHER"])
            // Rotation refuses too, naming the row, and changes nothing.
            let rotate = try await h.cli(["secrets", "rotate-key"])
            #expect(rotate.status == 1)
            #expect(rotate.stderr.contains("secret API_TOKEN (version 1) of service hello cannot be decrypted"), "\(rotate.stderr)")
            // Setting it again repairs it.
            #expect(try await h.cli(["secrets", "set", "hello", "API_TOKEN"], stdin: "repaired").status == 0)
            let again = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        }
    }

    @Test func rotatingTheKeyFileKeepsEveryValue() async throws {
        let value = Self.randomHex()
        try await withHello(replicas: 1) { h, _ in
            let keyFile = h.stateDir + "/master.key"
            let before = try String(contentsOfFile: keyFile, encoding: .utf8)
            #expect(try await h.cli(["secrets", "set", "hello", "API_TOKEN"], stdin: value).status == 0)
            let rotate = try await h.cli(["secrets", "rotate-key"])
            #expect(rotate.status == 0, "\(rotate.stdout)\(rotate.stderr)")
            #expect(rotate.stdout.contains("1 secret value(s) re-encrypted"))
            let after = try String(contentsOfFile: keyFile, encoding: .utf8)
            #expect(after != before)
            #expect((try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(!FileManager.default.fileExists(atPath: keyFile + ".new"))

            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for instance in try await Self.runningInstances(h, version: "v2") {
                #expect(Self.environment(pid: instance.pid)["API_TOKEN"] == value)
            }
            // The rotated key works after a restart too.
            try await h.killServer()
            try await h.startServer()
            #expect(try await h.cli(["secrets", "list", "hello"]).stdout.contains("API_TOKEN"))
        }
    }

    @Test func aWrongMasterKeyStopsTheServerAndChangesNothing() async throws {
        let keyA = Self.randomHex(32), keyB = Self.randomHex(32), keyC = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try await withHarness { h in
            let (config, _) = try h.helloConfig(replicas: 1)
            try await h.startServer(configs: [config], environment: ["SLIPWAY_MASTER_KEY": keyA])
            #expect(try await h.cli(["secrets", "set", "hello", "API_TOKEN"], stdin: "sealed with A").status == 0)
            #expect(!FileManager.default.fileExists(atPath: h.stateDir + "/master.key"), "no key file when the variable is set")

            // With the variable, rotation needs the new key from the caller.
            let refused = try await h.cli(["secrets", "rotate-key"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("--new-key-stdin"), "\(refused.stderr)")
            #expect(try await h.cli(["down", "--control-plane-only"]).status == 0)
            _ = try await h.server?.wait(timeout: .seconds(30))

            let database = [h.stateDir + "/slipway.sqlite", h.stateDir + "/slipway.sqlite-wal"]
            let before = Self.contents(database)
            let server = { (key: String) async throws -> (status: Int32, stdout: String, stderr: String) in
                try await runCommand(h.slipway, ["server", "--state-dir", h.stateDir, "--api", "127.0.0.1:0"], environment: ["SLIPWAY_MASTER_KEY": key], timeout: .seconds(60))
            }
            let wrong = try await server(keyB)
            #expect(wrong.status == 1)
            #expect(wrong.stderr.contains("the master key from SLIPWAY_MASTER_KEY (key id "), "\(wrong.stderr)")
            #expect(wrong.stderr.contains("does not open this state directory's secrets (they were sealed with key id "))
            #expect(wrong.stderr.contains("nothing was changed"))
            #expect(!wrong.stderr.contains(keyB) && !wrong.stdout.contains(keyB))
            let malformed = try await server(Data(repeating: 7, count: 16).base64EncodedString())
            #expect(malformed.status == 1)
            #expect(malformed.stderr.contains("SLIPWAY_MASTER_KEY must hold 32 bytes"), "\(malformed.stderr)")
            #expect(Self.contents(database) == before, "the database is byte-for-byte unchanged")

            // The right key starts it; rotate to C with the key on stdin.
            try await h.startServer(environment: ["SLIPWAY_MASTER_KEY": keyA])
            let rotate = try await h.cli(["secrets", "rotate-key", "--new-key-stdin"], stdin: keyC + "\n")
            #expect(rotate.status == 0, "\(rotate.stdout)\(rotate.stderr)")
            #expect(rotate.stdout.contains("SLIPWAY_MASTER_KEY"))
            #expect(try await h.cli(["down", "--control-plane-only"]).status == 0)
            _ = try await h.server?.wait(timeout: .seconds(30))
            #expect(try await server(keyA).status == 1, "the old key no longer opens the secrets")
            try await h.startServer(environment: ["SLIPWAY_MASTER_KEY": keyC])
            let list = try await h.cli(["secrets", "list", "hello", "-o", "json"])
            #expect(try decode([SecretInfo].self, list.stdout).map(\.version) == [1])
        }
    }
}
