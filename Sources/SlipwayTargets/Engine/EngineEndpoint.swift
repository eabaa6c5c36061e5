import SlipwayCore

/// Where the container engine's API listens: a unix socket, found the way the Docker
/// ecosystem finds it — `slipway server --docker-host`, else `DOCKER_HOST`, else
/// `/var/run/docker.sock`. Podman's Docker-compatible service is reached the same way
/// (`DOCKER_HOST=unix:///run/podman/podman.sock`).
public struct EngineEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var socketPath: String
    /// Where the address came from, for messages: `--docker-host`, `DOCKER_HOST`, `the default`.
    public var source: String

    public init(socketPath: String, source: String) {
        self.socketPath = socketPath
        self.source = source
    }

    public var description: String { "unix://\(socketPath) (\(source))" }

    /// The endpoint the flag, else the environment, else the default names.
    public static func resolve(flag: String?, environment: [String: String]) throws(DriverError) -> EngineEndpoint {
        if let flag, !flag.isEmpty { return try parse(flag, source: "--docker-host") }
        if let value = environment["DOCKER_HOST"], !value.isEmpty { return try parse(value, source: "DOCKER_HOST") }
        return EngineEndpoint(socketPath: Defaults.dockerSocket, source: "the default")
    }

    /// `unix:///path` or a plain absolute path; other schemes are refused with the reason.
    public static func parse(_ text: String, source: String) throws(DriverError) -> EngineEndpoint {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw DriverError(.invalid, "\(source) \(text) names no absolute socket path; write unix:///path/to/docker.sock")
            }
            return EngineEndpoint(socketPath: path, source: source)
        }
        if text.hasPrefix("/") { return EngineEndpoint(socketPath: text, source: source) }
        let scheme = text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? text
        throw DriverError(.invalid, "\(source) \(text) is not a unix socket; Slipway talks to the engine on this machine over unix://PATH (\(scheme):// engines are not supported: run Slipway on the engine's machine)")
    }
}
