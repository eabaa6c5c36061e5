import Foundation
import SlipwayCore
import SlipwayServer
import Testing

/// `slipway doctor`'s checks that need no server: a service's status with a real TCP probe
/// of its address, and the state directory's files.
@Suite struct DoctorTests {
    func instance(_ version: String, _ state: InstanceState) throws -> InstanceRecord {
        let json = """
            {"id": "\(version)-\(UUID().uuidString.prefix(4))", "service": "web", "version": "\(version)", "port": 1, "pid": 1, "pidStartTime": 0,
             "state": "\(state.rawValue)", "restarts": 0, "startedAt": 0, "logPath": "/dev/null"}
            """
        return try JSONDecoder().decode(InstanceRecord.self, from: Data(json.utf8))
    }

    func status(port: Int, stable: String?, instances: [InstanceRecord]) -> ServiceStatus {
        ServiceStatus(service: "web", configVersion: 1, listen: ListenAddress(host: "127.0.0.1", port: port), stableVersion: stable, previousVersion: nil,
                      previousRetireAt: nil, activeRollout: nil, instances: instances, serviceURL: "http://127.0.0.1:\(port)")
    }

    /// A loopback socket that listens (the kernel completes connections without accept).
    func listeningSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(fd >= 0 && bound == 0 && listen(fd, 8) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func aServiceIsHealthyOnlyWhenItsAddressAnswersAndItsStableReleaseRuns() throws {
        let (fd, port) = try listeningSocket()
        defer { close(fd) }
        let good = Doctor.serviceFinding(status(port: port, stable: "v2", instances: [try instance("v2", .running), try instance("v2", .running), try instance("v1", .stopped)]))
        #expect(good.status == .ok && good.detail.contains("v2: 2 instance(s) running"), "\(good)")

        let degraded = Doctor.serviceFinding(status(port: port, stable: "v2", instances: [try instance("v2", .running), try instance("v2", .crashed)]))
        #expect(degraded.status == .warning && degraded.detail == "1 of 2 instances of v2 running", "\(degraded)")

        let down = Doctor.serviceFinding(status(port: port, stable: "v2", instances: [try instance("v2", .crashed)]))
        #expect(down.status == .problem && down.detail.contains("no running instance of its stable release v2"), "\(down)")

        let never = Doctor.serviceFinding(status(port: port, stable: nil, instances: []))
        #expect(never.status == .warning && never.fix == "slipway deploy web --version VERSION")
    }

    @Test func anAddressNobodyServesIsAProblem() throws {
        let (fd, port) = try listeningSocket()
        close(fd)
        #expect(!Doctor.canConnect(host: "127.0.0.1", port: port), "the premise: the socket is closed")
        let finding = Doctor.serviceFinding(status(port: port, stable: "v1", instances: [try instance("v1", .running)]))
        #expect(finding.status == .problem && finding.detail == "nothing accepts connections on 127.0.0.1:\(port) (its listen address)", "\(finding)")
        #expect(finding.fix?.contains("is the router running?") == true)
    }

    @Test func aCertificateNearItsEndIsAWarningAndAnExpiredOneAProblem() throws {
        let (fd, port) = try listeningSocket()
        defer { close(fd) }
        let now = 1_800_000_000.0
        func finding(_ certificate: CertificateStatus) throws -> Doctor.Finding {
            var service = status(port: port, stable: "v1", instances: [try instance("v1", .running)])
            service.certificate = certificate
            let findings = Doctor.serviceFindings(service, now: now)
            #expect(findings.count == 2 && findings[0].status == .ok)
            return findings[1]
        }
        let fresh = try finding(CertificateStatus(path: "/etc/web.pem", expiresAt: now + 60 * 86_400))
        #expect(fresh.status == .ok && fresh.detail.contains("valid for 60 more days"), "\(fresh)")
        let soon = try finding(CertificateStatus(path: "/etc/web.pem", expiresAt: now + 3 * 86_400))
        #expect(soon.status == .warning && soon.detail.contains("expires in 3.0 days") && soon.fix?.contains("renew /etc/web.pem") == true, "\(soon)")
        let expired = try finding(CertificateStatus(path: "/etc/web.pem", expiresAt: now - 1))
        #expect(expired.status == .problem && expired.detail.contains("expired on"), "\(expired)")
        let unreadable = try finding(CertificateStatus(path: "/etc/web.pem", expiresAt: nil, error: "no PEM certificate"))
        #expect(unreadable.status == .problem && unreadable.detail == "no PEM certificate")
        // Without TLS there is no certificate finding.
        #expect(Doctor.serviceFindings(status(port: port, stable: "v1", instances: [try instance("v1", .running)]), now: now).count == 1)
    }

    @Test func theStateDirectorysFilesAreChecked() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-doctor-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }

        var findings = Doctor.localChecks(stateDir: directory, environment: [:])
        #expect(findings.lockHeld == false)
        func status(_ check: String) -> Doctor.Status? { findings.findings.first { $0.check == check }?.status }
        #expect(status("state directory") == .ok && status("free space") == .ok && status("master key") == .ok)
        #expect(status("state database") == .warning && status("control plane") == .warning, "no database or server yet")

        // A database that is not one, a key that is readable and not a key, an open directory.
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: directory + "/slipway.sqlite"))
        _ = FileManager.default.createFile(atPath: directory + "/master.key", contents: Data("short".utf8), attributes: [.posixPermissions: 0o644])
        #expect(chmod(directory, 0o755) == 0)
        findings = Doctor.localChecks(stateDir: directory, environment: [:])
        #expect(status("state directory") == .problem && status("master key") == .problem && status("state database") == .problem)
        #expect(findings.findings.first { $0.check == "master key" }?.fix == "chmod 600 \(directory)/master.key")
        #expect(findings.findings.first { $0.check == "state directory" }?.fix == "chmod 700 \(directory)")
        // Private again, the key still is not one: named as unreadable, not as exposed.
        #expect(chmod(directory, 0o700) == 0 && chmod(directory + "/master.key", 0o600) == 0)
        findings = Doctor.localChecks(stateDir: directory, environment: [:])
        #expect(findings.findings.first { $0.check == "master key" }?.detail.contains("cannot be read as a key") == true, "\(findings.findings)")
        #expect(status("state directory") == .ok)

        // A control plane's lock is seen as one running (here: this process holds it).
        let fd = open(directory + "/server.lock", O_RDWR | O_CREAT, 0o600)
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        defer { close(fd) }
        findings = Doctor.localChecks(stateDir: directory, environment: [:])
        #expect(findings.lockHeld == true && status("control plane") == .ok)
        #expect(status("router") == .problem, "no router.pid: the router is not running")
    }

    /// Skew counts only beyond what the measurement can tell apart (half its round trip).
    @Test func clockSkewIsJudgedBeyondTheMeasurementsUncertainty() {
        func status(_ skew: Double, _ uncertainty: Double = 0.001) -> Doctor.Status {
            Doctor.clockFinding(check: "clock", skew: skew, uncertainty: uncertainty, of: "the clock", fix: "ntp").status
        }
        #expect(status(0.002) == .ok)
        #expect(status(-0.9) == .ok)
        #expect(status(1.5) == .warning && status(-1.5) == .warning)
        #expect(status(1.5, 0.8) == .ok, "1.5 s measured to ±0.8 s may be 0.7 s")
        #expect(status(45) == .problem && status(-45) == .problem)
        let behind = Doctor.clockFinding(check: "clock of h1", skew: -2.25, uncertainty: 0.004, of: "h1's clock", fix: "run an NTP client")
        #expect(behind.detail == "h1's clock is 2.250 s behind (measured to ±0.004 s)" && behind.fix == "run an NTP client", "\(behind)")
    }

    @Test func stateBackupsAreJudgedByTheirLastSuccessAndFailure() {
        let now = 1_800_000_000.0
        let hour = 3600.0
        func finding(_ change: (inout StateBackupStatus) -> Void) -> Doctor.Finding {
            var status = StateBackupStatus(every: hour, directory: "/var/backups/slipway", keep: 24, since: now - 5 * hour)
            change(&status)
            return Doctor.stateBackupFinding(status, now: now)
        }
        let none = Doctor.stateBackupFinding(nil, now: now)
        #expect(none.status == .warning && none.fix?.contains("--backup-every") == true, "\(none)")
        let good = finding { $0.lastSuccess = now - 20 * 60; $0.lastFile = "/var/backups/slipway/slipway-1.sqlite" }
        #expect(good.status == .ok && good.detail == "last one 20 min ago: /var/backups/slipway/slipway-1.sqlite (every 1h, keeping 24)", "\(good)")
        let old = finding { $0.lastSuccess = now - 3 * hour }
        #expect(old.status == .problem && old.detail == "the last scheduled backup succeeded 3.0 h ago; they run every 1h", "\(old)")
        let failed = finding { $0.lastSuccess = now - 2 * hour; $0.lastFailure = now - hour; $0.lastError = "disk I/O error" }
        #expect(failed.status == .problem && failed.detail == "the last scheduled backup failed 60 min ago: disk I/O error" && failed.fix?.contains("/var/backups/slipway") == true, "\(failed)")
        let recovered = finding { $0.lastFailure = now - 2 * hour; $0.lastSuccess = now - hour }
        #expect(recovered.status == .ok, "a success after the failure: \(recovered)")
        let never = finding { $0.lastSuccess = nil }
        #expect(never.status == .problem && never.detail.contains("no scheduled backup succeeded since the control plane started 5.0 h ago"), "\(never)")
        let starting = Doctor.stateBackupFinding(StateBackupStatus(every: hour, directory: "/b", keep: 3, since: now - 5), now: now)
        #expect(starting.status == .ok && starting.detail.contains("under way"), "\(starting)")
    }

    @Test func theEngineAndTheAPICertificateNameTheirFix() {
        let down = Doctor.engineFinding(EngineStatus(endpoint: "unix:///run/docker.sock (the default)", services: ["web"], error: "no socket at that path"))
        #expect(down.status == .problem && down.detail == "no socket at that path (web runs containers)" && down.fix?.contains("--docker-host") == true, "\(down)")
        let up = Doctor.engineFinding(EngineStatus(endpoint: "unix:///run/docker.sock (the default)", services: ["web", "api"], version: "Docker Engine 20.10.24"))
        #expect(up.status == .ok && up.detail == "unix:///run/docker.sock (the default) answers: Docker Engine 20.10.24 (for web, api)", "\(up)")
        let now = 1_800_000_000.0
        let certificate = Doctor.certificateFinding(check: "API certificate", CertificateStatus(path: "/etc/api.pem", expiresAt: now + 86_400), now: now, fix: "renew it")
        #expect(certificate?.status == .warning && certificate?.detail.contains("expires in 1.0 days") == true)
        #expect(Doctor.certificateFinding(check: "API certificate", CertificateStatus(path: "/etc/api.pem", expiresAt: nil), now: now, fix: "x") == nil)
    }
}
