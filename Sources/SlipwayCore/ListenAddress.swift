/// A host and port, written `HOST:PORT` (`[::1]:8080` for IPv6) or `:PORT`.
public struct ListenAddress: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Whether only this machine can connect (127.0.0.0/8, ::1, localhost).
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, `:PORT` (all interfaces) or `PORT`.
    /// Returns nil with no partial result on malformed input. Brackets hold an IPv6 address
    /// only (it has a `:`) and appear nowhere else, so what `description` writes parses back
    /// to the same address (fuzzing the route table found `[Set]:8080` read as host `Set`,
    /// written back as `Set:8080`, and `[[Set]:8080` written as `[[Set:8080`, which no longer parsed).
    public init?(parsing text: String, defaultHost: String = "0.0.0.0") {
        var host = defaultHost
        var portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            guard host.contains(":"), !host.contains("[") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            let h = text[..<colon]
            if h.contains(":") || h.contains("[") || h.contains("]") { return nil }
            if !h.isEmpty { host = String(h) }
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port), !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = ListenAddress(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not HOST:PORT: \(text)"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
