import Foundation
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

/// Tokens, login, the audit log and HTTPS, through the real `slipway` binary.
@Suite(.serialized) struct AccessTests {
    /// Environment for a CLI call that has no token of its own (and no fallbacks).
    static func bare(_ h: SlipwayHarness, _ extra: [String: String] = [:]) -> [String: String] {
        var env = ["SLIPWAY_TOKEN": "", "SLIPWAY_CREDENTIALS": h.directory.file("no-credentials.json"), "SLIPWAY_STATE_DIR": h.directory.file("no-state")]
        env.merge(extra) { _, new in new }
        return env
    }

    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func theFirstStartMintsAnAdminTokenAndEveryCommandNeedsAToken() async throws {
        try await withHarness { h in
            try await h.startServer()
            let printed = try #require(h.server?.stdout)
            #expect(printed.contains("admin token (shown once"), "\(printed)")
            #expect(printed.contains(h.adminToken), "the token is printed once at first start")
            #expect(h.adminToken.hasPrefix("slw_"))
            #expect(try Self.mode(h.stateDir + "/admin.token") == 0o600)
            #expect(try Self.mode(h.stateDir) == 0o700)
            #expect(try Self.mode(h.stateDir + "/slipway.sqlite") == 0o600, "the server's files are private")

            let anonymous = try await h.cli(["status"], environment: Self.bare(h))
            #expect(anonymous.status == 1)
            #expect(anonymous.stderr.contains("no API token"), "\(anonymous.stderr)")
            #expect(anonymous.stderr.contains("set SLIPWAY_TOKEN, run `slipway login`"), "\(anonymous.stderr)")
            let forged = try await h.cli(["status"], environment: Self.bare(h, ["SLIPWAY_TOKEN": "slw_" + String(repeating: "x", count: 43)]))
            #expect(forged.status == 1 && forged.stderr.contains("unknown API token"), "\(forged.stderr)")
            let malformed = try await h.cli(["status"], environment: Self.bare(h, ["SLIPWAY_TOKEN": "hunter2"]))
            #expect(malformed.status == 1 && malformed.stderr.contains("malformed API token: expected it to start with slw_"), "\(malformed.stderr)")

            // A deployer token: may deploy-level things, not admin ones.
            let created = try await h.cli(["token", "create", "ci", "--role", "deployer"])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stderr.contains("only time it is shown"))
            let ci = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let whoami = try await h.cli(["whoami"], environment: Self.bare(h, ["SLIPWAY_TOKEN": ci]))
            #expect(whoami.stdout.hasPrefix("ci (deployer, token "), "\(whoami.stdout)")
            let listAsCI = try await h.cli(["token", "list"], environment: Self.bare(h, ["SLIPWAY_TOKEN": ci]))
            #expect(listAsCI.status == 1 && listAsCI.stderr.contains("ci has the deployer role; GET /v1/tokens needs admin or higher"), "\(listAsCI.stderr)")
            let badRole = try await h.cli(["token", "create", "x", "--role", "root"])
            #expect(badRole.status == 64 && badRole.stderr.contains("unknown role \"root\"; roles are viewer, deployer, approver, admin"), "\(badRole.stderr)")
            let twice = try await h.cli(["token", "create", "ci", "--role", "viewer"])
            #expect(twice.status == 1 && twice.stderr.contains("ci already has a live token"), "\(twice.stderr)")

            let list = try decode([TokenRecord].self, try await h.cli(["token", "list", "-o", "json"]).stdout)
            #expect(Set(list.map(\.name)) == ["admin", "ci"])
            #expect(try await h.cli(["token", "list"]).stdout.contains(ci) == false, "secrets are never listed")

            #expect(try await h.cli(["token", "revoke", "ci"]).status == 0)
            let revoked = try await h.cli(["whoami"], environment: Self.bare(h, ["SLIPWAY_TOKEN": ci]))
            #expect(revoked.status == 1 && revoked.stderr.contains("the API token of ci was revoked at"), "\(revoked.stderr)")

            let brief = try await h.cli(["token", "create", "brief", "--role", "viewer", "--expires-in", "1s"])
            let briefToken = brief.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try await eventually("the one-second token to expire", timeout: .seconds(15)) { () async throws -> Bool? in
                let r = try await h.cli(["whoami"], environment: Self.bare(h, ["SLIPWAY_TOKEN": briefToken]))
                return r.status == 1 && r.stderr.contains("the API token of brief expired at") ? true : nil
            }

            // The state directory's admin token is found on this machine without any setting.
            let local = try await h.cli(["whoami"], environment: Self.bare(h, ["SLIPWAY_STATE_DIR": h.stateDir]))
            #expect(local.stdout.hasPrefix("admin (admin"), "\(local.stdout)\(local.stderr)")

            // A lost admin token is recovered by whoever can write the state directory.
            let rescue = try await h.cli(["token", "create", "rescue", "--role", "admin", "--state-dir", h.stateDir], environment: Self.bare(h))
            #expect(rescue.status == 0, "\(rescue.stderr)")
            let rescued = try await h.cli(["whoami"], environment: Self.bare(h, ["SLIPWAY_TOKEN": rescue.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]))
            #expect(rescued.stdout.hasPrefix("rescue (admin"), "\(rescued.stdout)\(rescued.stderr)")

            // A restarted server does not print the token again.
            try await h.killServer()
            try await h.startServer()
            #expect(h.server?.stdout.contains(h.adminToken) == false)
            #expect(h.server?.stdout.contains("admin token (shown once") == false)
        }
    }

    @Test func loginStoresTheTokenInAPrivateCredentialsFile() async throws {
        try await withHarness { h in
            try await h.startServer()
            let viewer = try await h.cli(["token", "create", "dana", "--role", "viewer"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let credentials = h.directory.file("home/credentials.json")
            let env = Self.bare(h, ["SLIPWAY_CREDENTIALS": credentials])
            let wrong = try await h.cli(["login"], environment: env, stdin: "slw_" + String(repeating: "A", count: 43) + "\n")
            #expect(wrong.status == 1 && wrong.stderr.contains("unknown API token"), "\(wrong.stderr)")
            #expect(!FileManager.default.fileExists(atPath: credentials), "a refused token is not saved")

            let login = try await h.cli(["login"], environment: env, stdin: viewer + "\n")
            #expect(login.status == 0, "\(login.stderr)")
            #expect(login.stdout.contains("as dana (viewer)"))
            #expect(try Self.mode(credentials) == 0o600)
            let status = try await h.cli(["status"], environment: env)
            #expect(status.status == 0, "\(status.stderr)")
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2"], environment: env)
            #expect(deploy.status == 1 && deploy.stderr.contains("dana has the viewer role"), "\(deploy.stderr)")

            chmod(credentials, 0o644)
            let exposed = try await h.cli(["status"], environment: env)
            #expect(exposed.status == 1)
            #expect(exposed.stderr.contains("is readable by other users (mode 644); run `chmod 600 \(credentials)`"), "\(exposed.stderr)")
        }
    }

    @Test func theAuditLogRecordsWhoDidWhatAndVerifyNamesTheEditedEntry() async throws {
        try await withHello(replicas: 1) { h, _ in
            let deploy = try await h.cli(["deploy", "hello", "--version", "v2", "--wait"])
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let rollback = try await h.cli(["rollback", "hello"])
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            let denied = try await h.cli(["token", "create", "v", "--role", "viewer"])
            let viewer = denied.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try await h.cli(["deploy", "hello", "--version", "v3"], environment: Self.bare(h, ["SLIPWAY_TOKEN": viewer]))

            let entries = try decode([AuditEntry].self, try await h.cli(["audit", "list", "--limit", "500", "-o", "json"]).stdout)
            let deployEntry = try #require(entries.first { $0.action == "rollout.deploy" && $0.details.contains(#""version":"v2""#) })
            #expect(deployEntry.principal == "admin")
            #expect(deployEntry.target == "service/hello")
            #expect(deployEntry.details.contains(#""outcome":"ok""#))
            #expect(entries.contains { $0.action == "rollout.rollback" && $0.principal == "admin" })
            #expect(entries.contains { $0.action == "config.apply" })
            #expect(entries.contains { $0.action == "rollout.succeeded" && $0.principal == "slipway" && $0.details.contains(#""to":"v2""#) }, "how a rollout ended is recorded")
            #expect(entries.contains { $0.action == "rollout.deploy" && $0.principal == "v" && $0.details.contains(#""outcome":"denied""#) })
            #expect(entries.map(\.seq) == Array(1...Int64(entries.count)))

            let verify = try await h.cli(["audit", "verify"])
            #expect(verify.status == 0 && verify.stdout.contains("audit log intact: \(entries.count) entries"), "\(verify.stdout)\(verify.stderr)")
            let export = try await h.cli(["audit", "export", "--since", "1h"])
            let lines = export.stdout.split(separator: "\n")
            #expect(lines.count == entries.count)
            let first = try #require(lines.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(first["seq"] as? Int == 1 && first["hash"] as? String == entries[0].hash)
            #expect(try await h.cli(["audit", "list"], environment: Self.bare(h, ["SLIPWAY_TOKEN": viewer])).status == 1, "the audit log is the admin's")

            // Edit one entry directly in the SQLite file: verify (online and offline) names it.
            let db = h.stateDir + "/slipway.sqlite"
            let edit = try await runCommand("/usr/bin/env", ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE audit SET principal='mallory' WHERE seq=\" + sys.argv[2]); c.commit()", db, String(deployEntry.seq)])
            #expect(edit.status == 0, "\(edit.stderr)")
            let broken = try await h.cli(["audit", "verify"])
            #expect(broken.status == 1)
            #expect(broken.stdout.contains("audit log BROKEN at entry \(deployEntry.seq): entry \(deployEntry.seq) was changed"), "\(broken.stdout)")
            let offline = try await h.cli(["audit", "verify", "--state-dir", h.stateDir])
            #expect(offline.status == 1 && offline.stdout.contains("BROKEN at entry \(deployEntry.seq)"), "\(offline.stdout)\(offline.stderr)")
        }
    }

    /// A self-signed certificate for 127.0.0.1 (and a second, unrelated key).
    static func makeCertificate(in dir: TemporaryDirectory) async throws -> (cert: String, key: String, otherKey: String) {
        let cert = dir.file("api-cert.pem"), key = dir.file("api-key.pem"), other = dir.file("other-key.pem")
        let r = try await runCommand("/usr/bin/env", ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                      "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        guard r.status == 0 else { throw PrometheusProviderTests.Failure(description: "openssl req: \(r.stderr)") }
        let o = try await runCommand("/usr/bin/env", ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", other])
        guard o.status == 0 else { throw PrometheusProviderTests.Failure(description: "openssl genpkey: \(o.stderr)") }
        return (cert, key, other)
    }

    @Test func theAPIServesHTTPSAndRefusesCertificateFilesThatDoNotMatch() async throws {
        try await withHarness { h in
            let files = try await Self.makeCertificate(in: h.directory)
            let mismatched = try await runCommand(h.slipway, ["server", "--state-dir", h.directory.file("bad"), "--api", "127.0.0.1:0", "--tls-cert", files.cert, "--tls-key", files.otherKey])
            #expect(mismatched.status == 1)
            #expect(mismatched.stderr.contains("--tls-key: the private key in \(files.otherKey) does not belong to the certificate in \(files.cert)"), "\(mismatched.stderr)")
            let notPEM = try h.directory.write("garbage.pem", "hello")
            let garbage = try await runCommand(h.slipway, ["server", "--state-dir", h.directory.file("bad"), "--api", "127.0.0.1:0", "--tls-cert", notPEM, "--tls-key", files.key])
            #expect(garbage.status == 1 && garbage.stderr.contains("--tls-cert: \(notPEM) holds no PEM certificate"), "\(garbage.stderr)")
            let half = try await runCommand(h.slipway, ["server", "--state-dir", h.directory.file("bad"), "--tls-cert", files.cert])
            #expect(half.status == 64 && half.stderr.contains("--tls-cert needs --tls-key"), "\(half.stderr)")

            try await h.startServer(extraArguments: ["--tls-cert", files.cert, "--tls-key", files.key])
            #expect(h.apiURL.hasPrefix("https://127.0.0.1:"), "\(h.apiURL)")
            let trusted = try await h.cli(["whoami"], environment: ["SLIPWAY_CA_CERT": files.cert])
            #expect(trusted.status == 0 && trusted.stdout.hasPrefix("admin (admin"), "\(trusted.stdout)\(trusted.stderr)")
            // Doctor reads the API's own certificate from the server: valid for 2 days, a warning.
            let doctor = try await h.cli(["doctor", "--state-dir", h.stateDir], environment: ["SLIPWAY_CA_CERT": files.cert])
            #expect(doctor.stdout.contains("WARNING API certificate: \(files.cert) expires in 2.0 days"), "\(doctor.stdout)\(doctor.stderr)")
            #expect(doctor.stdout.contains("fix: renew \(files.cert) (and its key) and restart slipway server"), "\(doctor.stdout)")
            let untrusted = try await h.cli(["whoami"])
            #expect(untrusted.status == 3, "a certificate nobody vouched for is refused: \(untrusted.stderr)")
            let plain = try await h.cli(["whoami"], environment: ["SLIPWAY_SERVER": h.apiURL.replacingOccurrences(of: "https://", with: "http://")])
            #expect(plain.status != 0, "plain HTTP to the HTTPS port does not work")
            // `down` needs the CA as well; the harness's shutdown falls back to killing.
            #expect(try await h.cli(["down"], environment: ["SLIPWAY_CA_CERT": files.cert]).status == 0)
        }
    }
}
