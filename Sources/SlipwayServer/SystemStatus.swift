import Foundation
import Hummingbird
import SlipwayCore
import SlipwayTargets
import Synchronization

/// What `GET /v1/system` reports about the control plane itself, for `slipway doctor`: its
/// clock, the API's own certificate, the scheduled backups of its state and the container
/// engine its `image:` services need.
public struct SystemStatus: Codable, Sendable, ResponseEncodable {
    /// The control plane's wall clock when it answered (seconds since 1970).
    public var time: Double
    public var version: String
    /// The API's certificate (`--tls-cert`); nil when the API serves plain HTTP.
    public var apiCertificate: CertificateStatus?
    /// Scheduled backups of the state database (`--backup-every`); nil when none are scheduled.
    public var stateBackups: StateBackupStatus?
    /// The container engine, asked when a service runs containers on this machine; nil otherwise.
    public var engine: EngineStatus?
}

public struct StateBackupStatus: Codable, Sendable, Equatable {
    /// The interval, in seconds.
    public var every: Double
    public var directory: String
    public var keep: Int
    /// When the schedule started (the control plane's start).
    public var since: Double
    public var lastSuccess: Double?
    public var lastFile: String?
    public var lastFailure: Double?
    public var lastError: String?

    public init(every: Double, directory: String, keep: Int, since: Double, lastSuccess: Double? = nil, lastFile: String? = nil, lastFailure: Double? = nil, lastError: String? = nil) {
        self.every = every
        self.directory = directory
        self.keep = keep
        self.since = since
        self.lastSuccess = lastSuccess
        self.lastFile = lastFile
        self.lastFailure = lastFailure
        self.lastError = lastError
    }
}

public struct EngineStatus: Codable, Sendable, Equatable {
    /// The engine's socket and where it was configured (`--docker-host`, `$DOCKER_HOST`, the default).
    public var endpoint: String
    /// The services on this machine that run containers.
    public var services: [String]
    /// The engine's name and version when it answered.
    public var version: String?
    /// Why it could not be asked.
    public var error: String?

    public init(endpoint: String, services: [String], version: String? = nil, error: String? = nil) {
        self.endpoint = endpoint
        self.services = services
        self.version = version
        self.error = error
    }
}

/// The outcomes of the scheduled state backups, written by `ScheduledBackupService`, read by
/// `GET /v1/system`.
public final class StateBackupLedger: Sendable {
    private let state: Mutex<StateBackupStatus>

    public init(every: Duration, directory: String, keep: Int, since: Double) {
        state = Mutex(StateBackupStatus(every: every.seconds, directory: directory, keep: keep, since: since))
    }

    public var status: StateBackupStatus { state.withLock { $0 } }

    func succeeded(at time: Double, file: String) {
        state.withLock {
            $0.lastSuccess = time
            $0.lastFile = file
        }
    }

    func failed(at time: Double, error: String) {
        state.withLock {
            $0.lastFailure = time
            $0.lastError = error
        }
    }
}

extension Controller {
    /// What the server knows about the installation besides its services (`slipway doctor`).
    public func system(apiCertificate: String?, stateBackups: StateBackupLedger?) async throws -> SystemStatus {
        var status = SystemStatus(time: Date().timeIntervalSince1970, version: SlipwayVersion.current)
        status.apiCertificate = apiCertificate.map { certificateStatus($0) }
        status.stateBackups = stateBackups?.status
        // The engine is asked only when a service on this machine runs containers.
        var containerServices: [String] = []
        for name in try store.serviceNames() {
            if let service = try store.service(name), service.spec.target == .container, service.spec.servers.isEmpty {
                containerServices.append(name)
            }
        }
        if !containerServices.isEmpty {
            var engine = EngineStatus(endpoint: drivers.container.engine.endpoint.description, services: containerServices)
            do {
                engine.version = try await drivers.container.ping()
            } catch {
                engine.error = error.message
            }
            status.engine = engine
        }
        return status
    }
}
