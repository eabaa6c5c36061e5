import Foundation
import SlipwayCore
import SlipwayStore

/// The checks of `slipway doctor` that need no API client: the state directory on this
/// machine, and what a service's status says (with a TCP probe of its address).
public enum Doctor {
    public enum Status: String, Codable, Sendable, CaseIterable { case ok, warning, problem, skipped }

    public struct Finding: Codable, Sendable {
        public var check: String
        public var status: Status
        public var detail: String
        public var fix: String?

        public init(check: String, status: Status, detail: String, fix: String? = nil) {
            self.check = check
            self.status = status
            self.detail = detail
            self.fix = fix
        }
    }

    // MARK: - The state directory

    /// Checks of the state directory on this machine; `lockHeld` tells whether a control
    /// plane holds it (nil when there is no state directory here).
    public static func localChecks(stateDir: String, environment: [String: String]) -> (findings: [Finding], lockHeld: Bool?) {
        let fm = FileManager.default
        let absolute = (stateDir.hasPrefix("/") ? stateDir : fm.currentDirectoryPath + "/" + stateDir) as NSString
        let path = absolute.standardizingPath
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return ([Finding(check: "state directory", status: .skipped, detail: "\(path) is not on this machine; local checks skipped (--state-dir DIR to check one)")], nil)
        }
        guard isDirectory.boolValue else {
            return ([Finding(check: "state directory", status: .problem, detail: "\(path) is not a directory", fix: "point --state-dir (and slipway server --state-dir) at a directory")], nil)
        }
        var findings: [Finding] = []
        let mode = Self.mode(path) ?? 0
        if mode & 0o077 != 0 {
            findings.append(Finding(check: "state directory", status: .problem, detail: "\(path) is open to other users (mode \(String(mode, radix: 8))); it holds token hashes, the audit log and secrets", fix: "chmod 700 \(path)"))
        } else if access(path, W_OK) != 0 {
            findings.append(Finding(check: "state directory", status: .problem, detail: "\(path) is not writable by this user", fix: "run slipway as the directory's owner, or chown it to the user that runs slipway server"))
        } else {
            findings.append(Finding(check: "state directory", status: .ok, detail: "\(path) (mode \(String(mode, radix: 8)))"))
        }

        var fs = statvfs()
        if statvfs(path, &fs) == 0 {
            let free = Double(fs.f_bavail) * Double(fs.f_frsize), total = Double(fs.f_blocks) * Double(fs.f_frsize)
            let text = String(format: "%.1f GiB free of %.1f GiB", free / 1_073_741_824, total / 1_073_741_824)
            if free < 256 * 1_048_576 {
                findings.append(Finding(check: "free space", status: .problem, detail: "\(text) under \(path): the state database cannot grow (writes fail with 507 once it is full)", fix: "free space on that file system, or move the state directory"))
            } else if free < 1_073_741_824 {
                findings.append(Finding(check: "free space", status: .warning, detail: "\(text) under \(path)", fix: "free space on that file system before it fills"))
            } else {
                findings.append(Finding(check: "free space", status: .ok, detail: text))
            }
        }

        let keyFile = path + "/master.key"
        if environment[MasterKey.environmentVariable] != nil {
            findings.append(Finding(check: "master key", status: .ok, detail: "from \(MasterKey.environmentVariable)"))
        } else if fm.fileExists(atPath: keyFile) {
            let keyMode = Self.mode(keyFile) ?? 0
            if keyMode & 0o077 != 0 {
                findings.append(Finding(check: "master key", status: .problem, detail: "\(keyFile) is readable by other users (mode \(String(keyMode, radix: 8))): it decrypts every secret", fix: "chmod 600 \(keyFile)"))
            } else {
                do {
                    _ = try MasterKeyFile.read(keyFile)
                    findings.append(Finding(check: "master key", status: .ok, detail: "\(keyFile) (mode \(String(keyMode, radix: 8)))"))
                } catch {
                    findings.append(Finding(check: "master key", status: .problem, detail: "\(keyFile) cannot be read as a key: \(error)", fix: "restore the key file from your backup of it; secrets cannot be opened without it"))
                }
            }
        } else {
            findings.append(Finding(check: "master key", status: .ok, detail: "none yet (made with the first secret)"))
        }

        let tokenFile = path + "/admin.token"
        if fm.fileExists(atPath: tokenFile), let tokenMode = Self.mode(tokenFile), tokenMode & 0o077 != 0 {
            findings.append(Finding(check: "admin token file", status: .problem, detail: "\(tokenFile) is readable by other users (mode \(String(tokenMode, radix: 8)))", fix: "chmod 600 \(tokenFile)"))
        }

        let database = path + "/slipway.sqlite"
        if fm.fileExists(atPath: database) {
            do {
                try SQLiteFileBackup.check(database)
                findings.append(Finding(check: "state database", status: .ok, detail: "\(database) passes SQLite's integrity check"))
            } catch {
                findings.append(Finding(check: "state database", status: .problem, detail: error.description, fix: "restore the last good backup: slipway restore FILE --state-dir \(path) (with the control plane stopped)"))
            }
        } else {
            findings.append(Finding(check: "state database", status: .warning, detail: "\(database) does not exist yet", fix: "start the control plane: slipway server --state-dir \(path)"))
        }

        // The control plane holds an exclusive lock on server.lock for its whole life.
        let lockPath = path + "/server.lock"
        var held: Bool?
        let fd = open(lockPath, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            if flock(fd, LOCK_SH | LOCK_NB) == 0 {
                held = false
                flock(fd, LOCK_UN)
            } else {
                held = true
            }
            close(fd)
        } else {
            held = false
        }
        let serverPID = (try? String(contentsOfFile: path + "/server.pid", encoding: .utf8))?.split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
        if held == true {
            findings.append(Finding(check: "control plane", status: .ok, detail: "running on this state directory" + (serverPID.map { " (pid \($0))" } ?? "")))
            let routerPID = (try? String(contentsOfFile: path + "/router.pid", encoding: .utf8))?.split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
            if let routerPID, kill(routerPID, 0) == 0 {
                findings.append(Finding(check: "router", status: .ok, detail: "running (pid \(routerPID))"))
            } else {
                findings.append(Finding(check: "router", status: .problem, detail: "no router process runs for this state directory" + (routerPID.map { " (pid \($0) in router.pid is gone)" } ?? ""), fix: "read \(path)/logs/router.log; restarting slipway server starts the router again"))
            }
        } else {
            findings.append(Finding(check: "control plane", status: .warning, detail: "no control plane runs on this state directory", fix: "slipway server --state-dir \(path)"))
        }
        return (findings, held)
    }

    public static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    /// A service: its stable release's instances are running, and its address accepts
    /// connections (the router listens there).
    public static func serviceFinding(_ service: ServiceStatus) -> Finding {
        serviceFindings(service, now: Date().timeIntervalSince1970)[0]
    }

    /// The service's finding, and its certificate's when it serves TLS: expired or
    /// unreadable is a problem, expiring within `certificateWarning` seconds a warning.
    public static func serviceFindings(_ service: ServiceStatus, now: Double, certificateWarning: Double = 14 * 86_400) -> [Finding] {
        var findings = [instanceFinding(service)]
        if let certificate = service.certificate,
           let finding = certificateFinding(check: "certificate of \(service.service)", certificate, now: now, warning: certificateWarning,
                                            fix: "renew \(certificate.path); the router reads it again at the next deploy or `slipway apply`") {
            findings.append(finding)
        }
        return findings
    }

    /// A certificate file: expired or unreadable is a problem, expiring within `warning`
    /// seconds a warning.
    public static func certificateFinding(check: String, _ certificate: CertificateStatus, now: Double, warning: Double = 14 * 86_400, fix: String) -> Finding? {
        if let error = certificate.error {
            return Finding(check: check, status: .problem, detail: error, fix: fix)
        }
        guard let expiry = certificate.expiresAt else { return nil }
        let days = (expiry - now) / 86_400
        let when = Timestamps.format(expiry)
        if expiry <= now {
            return Finding(check: check, status: .problem, detail: "\(certificate.path) expired on \(when): clients refuse the connection", fix: fix)
        } else if expiry - now < warning {
            return Finding(check: check, status: .warning, detail: String(format: "%@ expires in %.1f days (%@)", certificate.path, days, when), fix: fix)
        }
        return Finding(check: check, status: .ok, detail: String(format: "%@ valid for %.0f more days (until %@)", certificate.path, days, when))
    }

    // MARK: - Clocks, backups, the engine

    /// Clock skew (beyond what the measurement can tell apart) above this many seconds is a
    /// warning: logs and events of two machines no longer line up.
    public static let clockSkewWarning = 1.0
    /// Above this it is a problem: certificates and token expiries are judged differently on
    /// each side.
    public static let clockSkewProblem = 30.0

    /// `what`'s clock against this side's: `skew` is theirs minus ours, `uncertainty` how far
    /// off the measurement can be (half the round trip).
    public static func clockFinding(check: String, skew: Double, uncertainty: Double, of what: String, fix: String) -> Finding {
        let least = abs(skew) - uncertainty
        let detail = String(format: "%@ is %.3f s %@ (measured to ±%.3f s)", what, abs(skew), skew >= 0 ? "ahead" : "behind", uncertainty)
        if least > clockSkewProblem {
            return Finding(check: check, status: .problem, detail: detail, fix: fix)
        } else if least > clockSkewWarning {
            return Finding(check: check, status: .warning, detail: detail, fix: fix)
        }
        return Finding(check: check, status: .ok, detail: detail)
    }

    /// The scheduled backups of the state database: none scheduled is a warning; a failure
    /// since the last success, or no success for two intervals, a problem.
    public static func stateBackupFinding(_ status: StateBackupStatus?, now: Double) -> Finding {
        let check = "state backups"
        guard let status else {
            return Finding(check: check, status: .warning, detail: "no scheduled backups of the state database (services, releases, tokens, secrets, the audit log)",
                           fix: "start the server with --backup-every 1h (it keeps 24), or run `slipway backup --to FILE` from cron; keep the master key's backup apart")
        }
        let every = DurationText.format(.milliseconds(Int64(status.every * 1000)))
        let fix = "check \(status.directory) (free space, permissions) and the control plane's log; slipway_state_backup_failures_total counts the failures"
        if let failed = status.lastFailure, failed >= (status.lastSuccess ?? 0) {
            return Finding(check: check, status: .problem, detail: "the last scheduled backup failed \(ago(now - failed)) ago: \(status.lastError ?? "unknown error")", fix: fix)
        }
        guard let success = status.lastSuccess else {
            if now - status.since > status.every + 60 {
                return Finding(check: check, status: .problem, detail: "no scheduled backup succeeded since the control plane started \(ago(now - status.since)) ago (every \(every))", fix: fix)
            }
            return Finding(check: check, status: .ok, detail: "the first scheduled backup (every \(every)) is under way")
        }
        if now - success > 2 * status.every + 60 {
            return Finding(check: check, status: .problem, detail: "the last scheduled backup succeeded \(ago(now - success)) ago; they run every \(every)", fix: fix)
        }
        return Finding(check: check, status: .ok, detail: "last one \(ago(now - success)) ago: \(status.lastFile ?? status.directory) (every \(every), keeping \(status.keep))")
    }

    /// The container engine, when services on this machine run containers.
    public static func engineFinding(_ engine: EngineStatus) -> Finding {
        let services = engine.services.joined(separator: ", ")
        if let error = engine.error {
            return Finding(check: "container engine", status: .problem, detail: "\(error) (\(services) run\(engine.services.count == 1 ? "s" : "") containers)",
                           fix: "start Docker (dockerd) or Podman's service, or point slipway server --docker-host at its socket")
        }
        return Finding(check: "container engine", status: .ok, detail: "\(engine.endpoint) answers: \(engine.version ?? "unknown version") (for \(services))")
    }

    /// An age in words: `45 s`, `12 min`, `5.5 h`, `3.0 days`.
    static func ago(_ seconds: Double) -> String {
        let s = max(0, seconds)
        if s < 90 { return String(format: "%.0f s", s) }
        if s < 90 * 60 { return String(format: "%.0f min", s / 60) }
        if s < 48 * 3600 { return String(format: "%.1f h", s / 3600) }
        return String(format: "%.1f days", s / 86_400)
    }

    static func instanceFinding(_ service: ServiceStatus) -> Finding {
        let check = "service \(service.service)"
        guard let stable = service.stableVersion else {
            return Finding(check: check, status: .warning, detail: "registered but never deployed", fix: "slipway deploy \(service.service) --version VERSION")
        }
        let instances = service.instances.filter { $0.version == stable }
        let running = instances.filter { $0.state == .running }.count
        let host = service.listen.host == "0.0.0.0" || service.listen.host == "::" || service.listen.host.isEmpty ? "127.0.0.1" : service.listen.host
        let listening = canConnect(host: host, port: service.listen.port)
        if !listening {
            return Finding(check: check, status: .problem, detail: "nothing accepts connections on \(host):\(service.listen.port) (its listen address)", fix: "is the router running? slipway status \(service.service); another process may hold the port")
        }
        if running == 0 {
            return Finding(check: check, status: .problem, detail: "no running instance of its stable release \(stable)", fix: "slipway status \(service.service) and slipway logs \(service.service) --version \(stable)")
        }
        if running < instances.count {
            return Finding(check: check, status: .warning, detail: "\(running) of \(instances.count) instances of \(stable) running", fix: "slipway logs \(service.service) --version \(stable)")
        }
        return Finding(check: check, status: .ok, detail: "\(stable): \(running) instance(s) running, \(host):\(service.listen.port) accepts connections" + (service.activeRollout.map { ", rollout \($0.id) \($0.phase.rawValue)" } ?? ""))
    }

    /// A TCP connection to host:port within 2 s.
    public static func canConnect(host: String, port: Int) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return false }
        defer { freeaddrinfo(result) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            if fd >= 0 {
                defer { close(fd) }
                if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return true }
                if errno == EINPROGRESS {
                    var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    if poll(&pfd, 1, 2000) == 1 {
                        var error: Int32 = 0
                        var length = socklen_t(MemoryLayout<Int32>.size)
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                        if error == 0 { return true }
                    }
                }
            }
            entry = info.pointee.ai_next
        }
        return false
    }

}
