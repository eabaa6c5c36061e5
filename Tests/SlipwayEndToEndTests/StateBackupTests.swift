import Foundation
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `slipway backup` / `slipway restore` of Slipway's own state, with the recovery drill:
/// back up while serving, lose the machine's processes and the state directory, restore,
/// start, and the service serves its release with its history, secrets and audit log.
@Suite(.serialized) struct StateBackupTests {
    @Test func recoveryDrill() async throws {
        try await withHello(replicas: 1) { h, port in
            #expect(try await h.cli(["deploy", "hello", "--version", "v2", "--wait"]).status == 0)
            #expect(try await h.cli(["secrets", "set", "hello", "API_TOKEN"], stdin: "s3cr3t-value\n").status == 0)
            let historyBefore = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
            let auditBefore = try decode([AuditEntry].self, try await h.cli(["audit", "list", "--limit", "1000", "-o", "json"]).stdout)

            // Online backup under traffic, through the API.
            let keys = try h.directory.write("saved-master.key", try String(contentsOfFile: h.stateDir + "/master.key", encoding: .utf8))
            chmod(keys, 0o600)
            let token = h.adminToken
            let probe = TrafficProbe(port: port)
            let backupFile = h.directory.file("state-backup.sqlite")
            let backup = try await h.cli(["backup", "--to", backupFile])
            let traffic = await probe.stop()
            #expect(backup.status == 0, "\(backup.stdout)\(backup.stderr)")
            #expect(backup.stdout.contains("1 services, 2 rollouts"), "\(backup.stdout)")
            #expect(traffic.failures.isEmpty, "\(traffic.failures.prefix(3))")
            let audited = try decode([AuditEntry].self, try await h.cli(["audit", "list", "--limit", "1000", "-o", "json"]).stdout)
            #expect(audited.contains { $0.action == "state.backup" }, "the backup is audited")

            // The machine is lost: every process killed, the state directory gone.
            let status = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout)
            let routerPID = try #require(Int32(try String(contentsOfFile: h.stateDir + "/router.pid", encoding: .utf8).split(separator: "\n").first ?? ""))
            try await h.killServer()
            kill(routerPID, SIGKILL)
            for i in status.instances { kill(i.pid, SIGKILL) }
            try FileManager.default.removeItem(atPath: h.stateDir)
            _ = try await eventually("the old router to be gone") { (try? await TestHTTP.get("http://127.0.0.1:\(port)/", timeout: .seconds(1))) == nil ? true : nil }

            // Restore and start: the service serves v2 again, its history and audit intact.
            let restore = try await h.cli(["restore", backupFile, "--state-dir", h.stateDir, "--master-key-file", keys])
            #expect(restore.status == 0, "\(restore.stdout)\(restore.stderr)")
            guard restore.status == 0 else { return }
            #expect(restore.stdout.contains("head signature verified"), "\(restore.stdout)")
            try token.write(toFile: h.stateDir + "/admin.token", atomically: true, encoding: .utf8)
            try await h.startServer()
            _ = try await eventually("v2 to serve again", timeout: .seconds(60)) { (try? await h.versionAt(port: port)) == "v2" ? true : nil }
            let historyAfter = try decode([RolloutRecord].self, try await h.cli(["history", "hello", "-o", "json"]).stdout)
            #expect(historyAfter.map(\.id) == historyBefore.map(\.id))
            #expect(historyAfter.map(\.phase) == historyBefore.map(\.phase))
            let verify = try await h.cli(["audit", "verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            let auditAfter = try decode([AuditEntry].self, try await h.cli(["audit", "list", "--limit", "1000", "-o", "json"]).stdout)
            #expect(Array(auditAfter.prefix(auditBefore.count)).map(\.hash) == auditBefore.map(\.hash), "the entries from before are the same entries")
            let secrets = try await h.cli(["secrets", "list", "hello"])
            #expect(secrets.stdout.contains("API_TOKEN"), "\(secrets.stdout)")
            // The restored secret reaches the restarted instance.
            let running = try decode(ServiceStatus.self, try await h.cli(["status", "hello", "-o", "json"]).stdout).instances.filter { $0.state == .running }
            let environ = try String(contentsOfFile: "/proc/\(try #require(running.first).pid)/environ", encoding: .isoLatin1)
            #expect(environ.contains("API_TOKEN=s3cr3t-value"))
        }
    }

    @Test func badBackupsAndABusyStateDirectoryAreRefusedAndNothingIsLost() async throws {
        try await withHello(replicas: 1) { h, _ in
            let good = h.directory.file("good.sqlite")
            #expect(try await h.cli(["backup", "--to", good, "--state-dir", h.stateDir]).status == 0)
            let target = h.directory.file("target-state")

            // The running server's own directory.
            let busy = try await h.cli(["restore", good, "--state-dir", h.stateDir])
            #expect(busy.status == 1)
            #expect(busy.stderr.contains("is already using the state directory"), "\(busy.stderr)")

            let garbage = try h.directory.write("garbage.sqlite", "not a database at all")
            let notSQLite = try await h.cli(["restore", garbage, "--state-dir", target])
            #expect(notSQLite.stderr.contains("is not a Slipway backup: not an SQLite database"), "\(notSQLite.stderr)")

            let foreign = h.directory.file("foreign.sqlite")
            #expect(try await runCommand("/usr/bin/sqlite3", [foreign, "CREATE TABLE notes (text)"]).status == 0)
            let other = try await h.cli(["restore", foreign, "--state-dir", target])
            #expect(other.stderr.contains("an SQLite database without Slipway's tables"), "\(other.stderr)")

            // Cut in half: damaged.
            let data = try Data(contentsOf: URL(fileURLWithPath: good))
            let truncated = h.directory.file("truncated.sqlite")
            try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
            let cut = try await h.cli(["restore", truncated, "--state-dir", target])
            #expect(cut.status == 1)
            #expect(cut.stderr.contains("damaged") || cut.stderr.contains("cannot be read"), "\(cut.stderr)")

            // From a newer Slipway.
            let newer = h.directory.file("newer.sqlite")
            try FileManager.default.copyItem(atPath: good, toPath: newer)
            #expect(try await runCommand("/usr/bin/sqlite3", [newer, "INSERT INTO grdb_migrations VALUES ('999-future')"]).status == 0)
            let future = try await h.cli(["restore", newer, "--state-dir", target])
            #expect(future.stderr.contains("was made by a newer Slipway (schema step 999-future"), "\(future.stderr)")

            // No master key for its secrets.
            let noKey = try await h.cli(["restore", good, "--state-dir", target])
            #expect(noKey.stderr.contains("the backup's secrets are sealed with master key"), "\(noKey.stderr)")

            // An edited audit log: refused, and the directory's current database stays.
            let keys = h.stateDir + "/master.key"
            #expect(try await h.cli(["restore", good, "--state-dir", target, "--master-key-file", keys]).status == 0)
            let before = try Data(contentsOf: URL(fileURLWithPath: target + "/slipway.sqlite"))
            let edited = h.directory.file("edited.sqlite")
            try FileManager.default.copyItem(atPath: good, toPath: edited)
            #expect(try await runCommand("/usr/bin/sqlite3", [edited, "UPDATE audit SET principal = 'mallory' WHERE seq = 1"]).status == 0)
            let tampered = try await h.cli(["restore", edited, "--state-dir", target])
            #expect(tampered.status == 1)
            #expect(tampered.stderr.contains("audit log is broken at entry 1"), "\(tampered.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/slipway.sqlite")) == before, "the refused restore changed nothing")
            let files = try FileManager.default.contentsOfDirectory(atPath: target)
            #expect(!files.contains { $0.contains("restoring") || $0.contains("replaced") }, "\(files)")

            // A second good restore keeps the first database aside.
            let again = try await h.cli(["restore", good, "--state-dir", target])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target).contains { $0.hasPrefix("slipway.sqlite.replaced-") })

            // The restored directory verifies on its own; an empty SLIPWAY_SERVER counts as unset.
            let verify = try await runCommand(h.slipway, ["audit", "verify", "--state-dir", target], environment: ["SLIPWAY_SERVER": ""])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            let badServer = try await runCommand(h.slipway, ["audit", "verify", "--state-dir", target], environment: ["SLIPWAY_SERVER": "ftp://x"])
            #expect(badServer.status == 64)
            #expect(badServer.stderr.contains("SLIPWAY_SERVER must be an http(s) URL"), "\(badServer.stderr)")

            let noDir = try await h.cli(["backup", "--to", "/nonexistent-dir/x.sqlite"])
            #expect(noDir.status == 64)
            #expect(noDir.stderr.contains("does not exist"), "\(noDir.stderr)")
            // A folder that exists but takes no new file (even for root): the error names the
            // file that could not be created, through the API and from a state directory.
            for extra in [[], ["--state-dir", h.stateDir]] {
                let unwritable = try await h.cli(["backup", "--to", "/proc/slipway-backup.sqlite"] + extra)
                #expect(unwritable.status == 1, "\(extra): \(unwritable.stderr)")
                #expect(unwritable.stderr.contains("cannot create /proc/slipway-backup.sqlite.partial-"), "\(extra): \(unwritable.stderr)")
            }
        }
    }

    @Test func scheduledBackupsStartAtOnceAndShowOnMetrics() async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 1)
            try await h.startServer(configs: [config], extraArguments: ["--backup-every", "1h", "--backup-keep", "3"])
            _ = try await eventually("v1 to serve") { (try? await h.versionAt(port: port)) == "v1" ? true : nil }
            let file = try await eventually("the first scheduled backup") { () -> String? in
                let names = (try? FileManager.default.contentsOfDirectory(atPath: h.stateDir + "/backups")) ?? []
                return names.first { $0.hasPrefix("slipway-") && $0.hasSuffix(".sqlite") }
            }
            let restore = try await h.cli(["restore", h.stateDir + "/backups/" + file, "--state-dir", h.directory.file("check"),
                                           "--master-key-file", h.stateDir + "/master.key", "--dry-run"])
            #expect(restore.status == 0, "\(restore.stderr)")
            #expect(restore.stdout.hasPrefix("would restore"), "\(restore.stdout)")
            let metrics = try await h.api("/metrics").body
            let line = try #require(metrics.split(separator: "\n").first { $0.hasPrefix("slipway_state_backup_last_success_timestamp_seconds ") })
            let value = try #require(Double(line.split(separator: " ")[1]))
            #expect(value > Date().timeIntervalSince1970 - 600)
            let bad = try await h.cli(["server", "--backup-every", "1s"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("--backup-every must be a duration of at least 10s"), "\(bad.stderr)")
        }
    }
}
