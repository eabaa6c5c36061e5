import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayServer
import SlipwayStore

/// `slipway doctor`: checks an installation and names the fix for each problem.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this installation (state directory, keys, database, control plane, router, services, tokens, fleet servers) and name the fix for each problem.",
        discussion: """
            Local checks read the state directory (--state-dir) when it is on this machine; the \
            others ask the server (--server, with the token the CLI uses; tokens are listed with \
            an admin token only). Exit 0 when nothing is wrong (warnings allowed), 1 with the list \
            of problems.
            """
    )

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: ArgumentHelp("The state directory to check.", valueName: "DIR"))
    var stateDir: String = ".slipway"

    @Option(name: .customLong("expiry-warning"), help: ArgumentHelp("Warn about tokens that expire within this long.", valueName: "DURATION"))
    var expiryWarning: String = "7d"

    typealias Finding = Doctor.Finding

    struct Report: Codable {
        var healthy: Bool
        var findings: [Finding]
    }

    func validate() throws {
        guard DurationText.parse(expiryWarning) != nil else {
            throw ValidationError("--expiry-warning: \"\(expiryWarning)\" is not a duration (7d, 48h, 30m)")
        }
    }

    func run() async throws {
        var findings: [Finding] = []
        let now = Date().timeIntervalSince1970
        let local = Doctor.localChecks(stateDir: stateDir, environment: ProcessInfo.processInfo.environment)
        findings += local.findings
        findings += await serverChecks(now: now, stateDirHeld: local.lockHeld)
        let report = Report(healthy: !findings.contains { $0.status == .problem }, findings: findings)
        if client.output == .json {
            try printJSON(report)
        } else {
            for finding in findings {
                let mark = switch finding.status {
                case .ok: "ok     "
                case .warning: "WARNING"
                case .problem: "PROBLEM"
                case .skipped: "skipped"
                }
                print("\(mark) \(finding.check): \(finding.detail)")
                if let fix = finding.fix, finding.status == .problem || finding.status == .warning { print("        fix: \(fix)") }
            }
            let problems = findings.filter { $0.status == .problem }.count, warnings = findings.filter { $0.status == .warning }.count
            print(problems == 0 ? "healthy (\(warnings) warning(s))" : "\(problems) problem(s), \(warnings) warning(s)")
        }
        if !report.healthy { throw Exit.failed }
    }

    // MARK: - The server

    func serverChecks(now: Double, stateDirHeld: Bool?) async -> [Finding] {
        var findings: [Finding] = []
        let url = client.serverURL
        let api: APIClient
        do {
            api = try client.client()
            let liveness = try await api.send(.GET, "/healthz", as: LivenessReply.self, timeout: .seconds(5))
            if liveness.version == SlipwayVersion.current {
                findings.append(Finding(check: "server", status: .ok, detail: "\(url) answers, slipway \(liveness.version)"))
            } else {
                findings.append(Finding(check: "server", status: .warning, detail: "\(url) runs slipway \(liveness.version), this CLI is \(SlipwayVersion.current)", fix: "run the same build on both (slipway version shows each)"))
            }
        } catch {
            findings.append(Finding(check: "server", status: .problem, detail: "\(url) does not answer: \(Self.message(error))",
                                    fix: stateDirHeld == true ? "a control plane holds the state directory but its API does not answer at \(url): pass --server with the URL it printed" : "start it (slipway server) or pass --server URL"))
            return findings
        }

        findings += await systemChecks(api, url: url, now: now)

        do {
            let services = try await api.send(.GET, "/v1/services", as: [ServiceStatus].self, timeout: .seconds(10))
            if services.isEmpty {
                findings.append(Finding(check: "services", status: .ok, detail: "none registered"))
            }
            for service in services {
                findings += Doctor.serviceFindings(service, now: now)
            }
        } catch {
            findings.append(Finding(check: "services", status: Self.isForbidden(error) ? .skipped : .problem, detail: "cannot list services: \(Self.message(error))"))
        }

        do {
            let tokens = try await api.send(.GET, "/v1/tokens", as: [TokenRecord].self, timeout: .seconds(10))
            let horizon = DurationText.parse(expiryWarning)?.seconds ?? 7 * 86_400
            let soon = tokens.filter { $0.revokedAt == nil && ($0.expiresAt.map { $0 > now && $0 - now < horizon } ?? false) }
            if soon.isEmpty {
                findings.append(Finding(check: "tokens", status: .ok, detail: "\(tokens.filter { $0.revokedAt == nil }.count) active, none expiring within \(expiryWarning)"))
            }
            for token in soon {
                let hours = ((token.expiresAt ?? now) - now) / 3600
                findings.append(Finding(check: "token \(token.name)", status: .warning, detail: String(format: "expires in %.1f h (%@)", hours, Timestamps.format(token.expiresAt ?? now)),
                                        fix: "slipway token create \(token.name)-2 --role \(token.role.rawValue)\(token.environments.map { " --env \($0)" }.joined()), hand it over, then slipway token revoke \(token.name)"))
            }
        } catch {
            findings.append(Finding(check: "tokens", status: .skipped, detail: "cannot list tokens (an admin token can): \(Self.message(error))"))
        }

        do {
            let servers = try await api.send(.GET, "/v1/servers", as: [FleetServer.Status].self, timeout: .seconds(30))
            for server in servers {
                if !server.reachable || server.problem != nil {
                    findings.append(Finding(check: "server \(server.server)", status: .problem, detail: server.problem ?? "not reachable over SSH",
                                            fix: "check SSH to it (ssh \(server.server)), then slipway servers setup --only \(server.server)"))
                } else if !server.current {
                    findings.append(Finding(check: "server \(server.server)", status: .warning, detail: "its router runs another build (\(server.version ?? "unknown version"))", fix: "slipway servers setup --only \(server.server)"))
                } else {
                    findings.append(Finding(check: "server \(server.server)", status: .ok, detail: "reachable, router current, \(server.healthy)/\(server.endpoints) endpoints healthy"))
                }
                if let skew = server.clockSkew {
                    findings.append(Doctor.clockFinding(check: "clock of \(server.server)", skew: skew, uncertainty: server.clockUncertainty ?? 0,
                                                        of: "\(server.server)'s clock, against the control plane's,",
                                                        fix: "run an NTP client on \(server.server) and on the control plane's machine (systemd-timesyncd, chrony): timedatectl status shows whether the clock is synchronized"))
                }
            }
        } catch {
            findings.append(Finding(check: "fleet servers", status: Self.isForbidden(error) ? .skipped : .problem, detail: "cannot list servers: \(Self.message(error))"))
        }
        return findings
    }

    /// The control plane itself (`GET /v1/system`): its clock against this machine's, the
    /// API's certificate, the scheduled state backups and the container engine.
    func systemChecks(_ api: APIClient, url: String, now: Double) async -> [Finding] {
        let sent = Date().timeIntervalSince1970
        let system: SystemStatus
        do {
            system = try await api.send(.GET, "/v1/system", as: SystemStatus.self, timeout: .seconds(20))
        } catch {
            let status = (error as? APIClient.Failure)?.status
            return [Finding(check: "control plane checks", status: status == 404 || Self.isForbidden(error) ? .skipped : .problem,
                            detail: "cannot read \(url)/v1/system: \(Self.message(error))")]
        }
        let received = Date().timeIntervalSince1970
        var findings: [Finding] = []
        findings.append(Doctor.clockFinding(check: "clock", skew: system.time - (sent + received) / 2, uncertainty: (received - sent) / 2,
                                            of: "the control plane's clock, against this machine's,",
                                            fix: "run an NTP client on both machines (systemd-timesyncd, chrony): timedatectl status shows whether the clock is synchronized"))
        if let certificate = system.apiCertificate,
           let finding = Doctor.certificateFinding(check: "API certificate", certificate, now: now,
                                                   fix: "renew \(certificate.path) (and its key) and restart slipway server: the API reads them at start") {
            findings.append(finding)
        }
        findings.append(Doctor.stateBackupFinding(system.stateBackups, now: system.time))
        if let engine = system.engine { findings.append(Doctor.engineFinding(engine)) }
        return findings
    }

    static func message(_ error: any Error) -> String {
        (error as? APIClient.Failure)?.message ?? "\(error)"
    }

    static func isForbidden(_ error: any Error) -> Bool {
        guard let status = (error as? APIClient.Failure)?.status else { return false }
        return status == 401 || status == 403
    }
}
