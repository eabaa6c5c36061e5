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
        FileManager.default.createFile(atPath: directory + "/master.key", contents: Data("short".utf8), attributes: [.posixPermissions: 0o644])
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
}
