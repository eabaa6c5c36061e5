import Foundation
import SlipwayCore

/// Everything a driver needs to start one instance of a release.
public struct InstanceLaunch: Sendable, Codable {
    public var instanceID: String
    public var service: String
    public var version: String
    public var port: Int
    /// Local processes: argv with `{{port}}` / `{{version}}` already substituted (the
    /// driver substitutes `{{artifact}}`). Containers: empty (see `release.spec.container`).
    public var arguments: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    public var logPath: String
    /// The release being started: its spec and its recorded artifacts.
    public var release: ReleaseRecord

    public init(instanceID: String, service: String, version: String, port: Int, arguments: [String], environment: [String: String],
                workingDirectory: String?, logPath: String, release: ReleaseRecord) {
        self.instanceID = instanceID
        self.service = service
        self.version = version
        self.port = port
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logPath = logPath
        self.release = release
    }

    /// What every program Slipway starts on this machine (instances, hooks, backup tools)
    /// inherits from the control plane's environment; nothing else of it passes (never the
    /// master key).
    public static func baseEnvironment(_ inherited: [String: String]) -> [String: String] {
        inherited.filter { ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "TMPDIR"].contains($0.key) }
    }

    /// `{{port}}` and `{{version}}` replaced in each argument.
    public static func substitute(_ arguments: [String], port: Int, version: String) -> [String] {
        arguments.map {
            $0.replacingOccurrences(of: "{{port}}", with: String(port))
              .replacingOccurrences(of: "{{version}}", with: version)
        }
    }

    /// Builds the launch of `release` on `port`: placeholders substituted, environment =
    /// a minimal inherited base (local processes only: a container has its image's) +
    /// PORT/SLIPWAY_* + config `env` + release `--set-env` + the service's secrets. A secret
    /// wins over a config `env:` entry of the same name (the config is usually in version
    /// control, the secret is the operator's value); `--set-env` cannot name a secret (the
    /// controller refuses it).
    public static func make(release: ReleaseRecord, instanceID: String, port: Int, logPath: String, inherited: [String: String], secrets: [String: String] = [:]) -> InstanceLaunch {
        let spec = release.spec
        var env = spec.target == .local ? baseEnvironment(inherited) : [:]
        env["PORT"] = String(port)
        env["SLIPWAY_SERVICE"] = UnitName.split(release.service).service
        if let environment = UnitName.split(release.service).environment { env["SLIPWAY_ENVIRONMENT"] = environment }
        env["SLIPWAY_VERSION"] = release.version
        env["SLIPWAY_INSTANCE"] = instanceID
        env.merge(spec.env) { _, new in new }
        env.merge(release.extraEnv) { _, new in new }
        env.merge(secrets.filter { $0.key != "PORT" && !$0.key.hasPrefix("SLIPWAY_") }) { _, new in new }
        return InstanceLaunch(instanceID: instanceID, service: release.service, version: release.version, port: port,
                              arguments: substitute(spec.run, port: port, version: release.version), environment: env,
                              workingDirectory: spec.workingDirectory, logPath: logPath, release: release)
    }
}
