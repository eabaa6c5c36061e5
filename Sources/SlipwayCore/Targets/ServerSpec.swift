/// One server of a fleet (`servers:` in slipway.yml): where the control plane reaches it
/// over SSH, and what it is for. Every server runs its own data plane (the router) and
/// its instances; the control plane drives it through the system's OpenSSH client.
public struct ServerSpec: Codable, Sendable, Hashable {
    /// The SSH login user; nil leaves it to `~/.ssh/config` (or the local user).
    public var user: String?
    /// Host name or address as SSH resolves it (a `Host` alias of `~/.ssh/config` works).
    public var host: String
    /// The SSH port; nil leaves it to `~/.ssh/config` (or 22).
    public var port: Int?
    /// Free-form roles (`web`, `worker`): waves and `slipway servers` can select by them.
    public var roles: [String]
    /// Free-form labels (`zone: eu-1`).
    public var labels: [String: String]
    /// Where Slipway keeps its binary, router state and instance logs on that server
    /// (default `~/.slipway-host` of the login user: `Defaults.serverDirectory`).
    public var dir: String?
    /// The container engine's socket on that server (`unix:///run/podman/podman.sock`) for
    /// services with `image:`; nil: the server's `DOCKER_HOST`, else `/var/run/docker.sock`.
    public var dockerHost: String?

    public init(user: String? = nil, host: String, port: Int? = nil, roles: [String] = [], labels: [String: String] = [:], dir: String? = nil, dockerHost: String? = nil) {
        self.user = user
        self.host = host
        self.port = port
        self.roles = roles
        self.labels = labels
        self.dir = dir
        self.dockerHost = dockerHost
    }

    /// The server's identity in records, events, metrics labels and file names:
    /// `host` or `host:port` (the user is not part of it: one server, one router).
    public var id: String { port.map { "\(host):\($0)" } ?? host }

    /// `ssh://user@host:port` as written.
    public var url: String {
        "ssh://" + (user.map { "\($0)@" } ?? "") + (host.contains(":") ? "[\(host)]" : host) + (port.map { ":\($0)" } ?? "")
    }

    /// The directory on the server, as the remote shell should see it (`~` expanded there).
    public var directory: String { dir ?? Defaults.serverDirectory }

    /// Parses `ssh://[user@]host[:port]` (an IPv6 address in brackets). Returns the reason
    /// when the text is not such a URL.
    public static func parse(_ text: String) -> Result<ServerSpec, ServerURLError> {
        guard text.hasPrefix("ssh://") else {
            return .failure(ServerURLError("\(text.debugDescription) is not an ssh:// URL: write ssh://USER@HOST[:PORT], e.g. ssh://deploy@web-1.example.com"))
        }
        var rest = Substring(text.dropFirst("ssh://".count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("?"), !rest.contains("#") else {
            return .failure(ServerURLError("\(text.debugDescription) has a path or query; write ssh://USER@HOST[:PORT]"))
        }
        var user: String?
        if let at = rest.lastIndex(of: "@") {
            let name = String(rest[..<at])
            guard Self.isValidUser(name) else {
                return .failure(ServerURLError("the user \(name.debugDescription) in \(text.debugDescription) is not a login name (letters, digits, '.', '_', '-')"))
            }
            user = name
            rest = rest[rest.index(after: at)...]
        }
        var host: String
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                return .failure(ServerURLError("\(text.debugDescription) opens an IPv6 address with '[' but never closes it"))
            }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(ServerURLError("\(text.debugDescription): expected ':PORT' after the address")) }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard Self.isValidHost(host) else {
            return .failure(ServerURLError("the host \(host.debugDescription) in \(text.debugDescription) is not a host name or address"))
        }
        var port: Int?
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                return .failure(ServerURLError("the port \(String(portText).debugDescription) in \(text.debugDescription) must be 1-65535"))
            }
            port = value
        }
        return .success(ServerSpec(user: user, host: host, port: port))
    }

    static func isValidUser(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.hasPrefix("-")
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSetLite.alphanumerics($0) || "._-".unicodeScalars.contains($0)) }
    }

    static func isValidHost(_ host: String) -> Bool {
        !host.isEmpty && host.count <= 253 && !host.hasPrefix("-")
            && host.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSetLite.alphanumerics($0) || ".-_:%".unicodeScalars.contains($0)) }
    }

    enum CodingKeys: String, CodingKey { case user, host, port, roles, labels, dir, dockerHost }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        host = try c.decode(String.self, forKey: .host)
        port = try c.decodeIfPresent(Int.self, forKey: .port)
        roles = try c.decodeIfPresent([String].self, forKey: .roles) ?? []
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        dir = try c.decodeIfPresent(String.self, forKey: .dir)
        dockerHost = try c.decodeIfPresent(String.self, forKey: .dockerHost)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(user, forKey: .user)
        try c.encode(host, forKey: .host)
        try c.encodeIfPresent(port, forKey: .port)
        if !roles.isEmpty { try c.encode(roles, forKey: .roles) }
        if !labels.isEmpty { try c.encode(labels, forKey: .labels) }
        try c.encodeIfPresent(dir, forKey: .dir)
        try c.encodeIfPresent(dockerHost, forKey: .dockerHost)
    }
}

public struct ServerURLError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// ASCII letters and digits without Foundation.
enum CharacterSetLite {
    static func alphanumerics(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}
