/// Where a service's instances run. The controller picks the driver from this; the rollout
/// machines never see it.
public enum TargetKind: String, Codable, Sendable, CaseIterable {
    /// Local processes (`run:`), each in its own session.
    case local
    /// Containers of an image (`image:`) on a Docker-compatible engine (Docker, Podman).
    case container
}

/// `image:` and its companions in slipway.yml: the service's instances are containers.
/// The application inside listens on `$PORT`, exactly as a local process does; Slipway
/// publishes that port on 127.0.0.1 (or uses the host's network) and the router reaches it there.
public struct ContainerSpec: Codable, Sendable, Equatable {
    public enum Network: String, Codable, Sendable, CaseIterable {
        /// The engine's default bridge; `$PORT` is published on 127.0.0.1 only.
        case bridge
        /// The host's network namespace: the app binds `$PORT` on the host itself.
        case host
    }

    /// When the engine fetches the image from its registry.
    public enum PullPolicy: String, Codable, Sendable, CaseIterable {
        /// Never: the image must already be on the engine.
        case never
        /// Only when the engine does not have the reference yet (the default).
        case missing
        /// On every new release, so a moved tag is seen; the release still pins the digest.
        case always
    }

    /// The image reference; `{{version}}` becomes the release's version label.
    public var image: String
    /// Replaces the image's ENTRYPOINT (`{{port}}` and `{{version}}` substituted).
    public var command: [String]?
    /// Replaces the image's CMD (`{{port}}` and `{{version}}` substituted).
    public var args: [String]?
    /// Bind mounts and named volumes, `SOURCE:TARGET[:ro|rw]`; a relative host path is
    /// resolved against the config file's directory when loaded.
    public var volumes: [String]
    /// CPU limit in cores (NanoCpus), nil: none.
    public var cpus: Double?
    /// Memory limit in bytes, nil: none.
    public var memory: Int64?
    /// `USER[:GROUP]` (names or ids) the process runs as, nil: the image's.
    public var user: String?
    /// Mount the container's root filesystem read-only.
    public var readOnly: Bool
    public var network: Network
    public var pull: PullPolicy
    /// Credentials for the image's registry; the password is a `${NAME}` reference to a secret.
    public var registry: RegistryCredentials?

    public init(image: String, command: [String]? = nil, args: [String]? = nil, volumes: [String] = [], cpus: Double? = nil,
                memory: Int64? = nil, user: String? = nil, readOnly: Bool = false, network: Network = .bridge,
                pull: PullPolicy = Defaults.pullPolicy, registry: RegistryCredentials? = nil) {
        self.image = image
        self.command = command
        self.args = args
        self.volumes = volumes
        self.cpus = cpus
        self.memory = memory
        self.user = user
        self.readOnly = readOnly
        self.network = network
        self.pull = pull
        self.registry = registry
    }

    enum CodingKeys: String, CodingKey {
        case image, command, args, volumes, cpus, memory, user, readOnly = "read_only", network, pull, registry
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        image = try c.decode(String.self, forKey: .image)
        command = try c.decodeIfPresent([String].self, forKey: .command)
        args = try c.decodeIfPresent([String].self, forKey: .args)
        volumes = try c.decodeIfPresent([String].self, forKey: .volumes) ?? []
        cpus = try c.decodeIfPresent(Double.self, forKey: .cpus)
        memory = try c.decodeIfPresent(Int64.self, forKey: .memory)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        readOnly = try c.decodeIfPresent(Bool.self, forKey: .readOnly) ?? false
        network = try c.decodeIfPresent(Network.self, forKey: .network) ?? .bridge
        pull = try c.decodeIfPresent(PullPolicy.self, forKey: .pull) ?? Defaults.pullPolicy
        registry = try c.decodeIfPresent(RegistryCredentials.self, forKey: .registry)
    }

    /// The reference for a release: `{{version}}` replaced by its label.
    public func reference(version: String) -> String {
        image.replacingOccurrences(of: "{{version}}", with: version)
    }
}

/// `registry:` — how the engine logs in to pull the image. Only the `${NAME}` reference is
/// stored; the value is read from the service's secrets when a pull runs.
public struct RegistryCredentials: Codable, Sendable, Equatable {
    /// The registry host (`ghcr.io`, `127.0.0.1:5000`); nil: the image reference's.
    public var server: String?
    public var username: String
    /// `${NAME}`: a secret of the service (or an environment variable of the server).
    public var password: String

    public init(server: String? = nil, username: String, password: String) {
        self.server = server
        self.username = username
        self.password = password
    }
}

/// Image references split the way the engine reads them.
public enum ImageReference {
    /// The registry host of `reference`: its first path component when that looks like a
    /// host (has a `.` or `:`, or is `localhost`), else Docker Hub.
    public static func registry(of reference: String) -> String {
        let name = reference.split(separator: "@").first.map(String.init) ?? reference
        let parts = name.split(separator: "/", maxSplits: 1)
        if parts.count == 2, let first = parts.first, first.contains(".") || first.contains(":") || first == "localhost" {
            return String(first)
        }
        return "docker.io"
    }

    /// `repo` and `tag` of a reference for the engine's pull (`repo@sha256:…` gives the digest as the tag).
    public static func split(_ reference: String) -> (repository: String, tag: String) {
        if let at = reference.firstIndex(of: "@") {
            return (String(reference[..<at]), String(reference[reference.index(after: at)...]))
        }
        // The tag is after the last ':' that comes after the last '/' (a registry port is not a tag).
        let slash = reference.lastIndex(of: "/") ?? reference.startIndex
        if let colon = reference[slash...].lastIndex(of: ":") {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, "latest")
    }

    /// The repository of `reference` without tag or digest.
    public static func repository(of reference: String) -> String { split(reference).repository }

    /// Why `reference` is not an image reference the engine accepts, or nil.
    public static func problem(_ reference: String) -> String? {
        let component = "[a-z0-9]+([._-][a-z0-9]+|__[a-z0-9]+)*"
        let host = "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]+)?"
        let pattern = "^(\(host)/)?\(component)(/\(component))*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
        if let regex = try? Regex(pattern), reference.wholeMatch(of: regex) != nil { return nil }
        return "\"\(reference)\" is not an image reference: write [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST] with a lowercase repository, such as ghcr.io/acme/web:v2"
    }

    /// Why `version` cannot stand for `{{version}}` in `image` (tags allow letters, digits,
    /// `_`, `.` and `-`; a version label may also hold `+`), or nil.
    public static func versionProblem(image: String, version: String) -> String? {
        guard image.contains("{{version}}") else { return nil }
        let reference = image.replacingOccurrences(of: "{{version}}", with: version)
        guard problem(reference) != nil else { return nil }
        return "version \(version) makes the image reference \(reference) (from \(image)), which the engine refuses: image tags allow letters, digits, '_', '.' and '-' (at most 128); use such a label or `deploy --image`"
    }
}
