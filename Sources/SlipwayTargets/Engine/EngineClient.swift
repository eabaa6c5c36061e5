import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SlipwayCore

/// The Docker Engine REST API (v1.41, which Docker 20.10+ and Podman 4+ both serve) over
/// the engine's unix socket, with AsyncHTTPClient. JSON in, JSON out; a non-2xx answer
/// becomes a `DriverError` carrying the engine's own message.
public struct EngineClient: Sendable {
    public let endpoint: EngineEndpoint
    let http: HTTPClient
    /// Bodies larger than this are refused (inspect and list answers are small).
    static let bodyLimit = 16 << 20

    /// One client for every engine: a missing or dead socket fails at once (no retried
    /// connection attempts), so the controller loop never waits on an engine that is down.
    public static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(2)
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(endpoint: EngineEndpoint, http: HTTPClient = EngineClient.sharedHTTP) {
        self.endpoint = endpoint
        self.http = http
    }

    /// A request's answer: status and the whole body.
    public struct Answer: Sendable {
        public var status: Int
        public var body: ByteBuffer

        public var ok: Bool { (200..<300).contains(status) }
        public var text: String { String(buffer: body) }

        public func decode<T: Decodable>(_ type: T.Type) throws(DriverError) -> T {
            do {
                return try JSONDecoder().decode(type, from: Data(buffer: body))
            } catch {
                throw DriverError(.failed, "the engine answered something that is not the expected JSON (\(T.self)): \(String(text.prefix(200)))")
            }
        }

        /// The engine's `{"message": …}`, else the body.
        public var message: String {
            if let error = try? JSONDecoder().decode(EngineModels.ErrorMessage.self, from: Data(buffer: body)) { return error.message }
            let raw = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return raw.isEmpty ? "HTTP \(status)" : String(raw.prefix(500))
        }
    }

    /// The URL of an API path (`/containers/json`) with its query, versioned.
    public func url(_ path: String, query: [(String, String)] = []) -> String {
        var uri = "/v\(Defaults.engineAPIVersion)" + path
        if !query.isEmpty {
            uri += "?" + query.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        return URL(httpURLWithSocketPath: endpoint.socketPath, uri: uri)?.absoluteString ?? "http+unix://invalid" + uri
    }

    /// A query value, percent-encoded.
    public static func escape(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// An image reference or id as a path segment: `/`, `:` and `@` stay (the engine's
    /// router takes `/images/ghcr.io/acme/web:v1/json` as written), anything else is encoded.
    public static func path(_ reference: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/:@")
        return reference.addingPercentEncoding(withAllowedCharacters: allowed) ?? reference
    }

    /// Sends a request and reads the whole answer.
    public func request(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: (any Encodable)? = nil,
                        body: ByteBuffer? = nil, headers: [(String, String)] = [], timeout: Duration = .seconds(30)) async throws(DriverError) -> Answer {
        let response = try await send(method, path, query: query, json: json, body: body, headers: headers, timeout: timeout)
        do {
            let bytes = try await response.body.collect(upTo: Self.bodyLimit)
            return Answer(status: Int(response.status.code), body: bytes)
        } catch {
            throw DriverError(.failed, "reading the engine's answer to \(method) \(path) failed: \(error)")
        }
    }

    /// Sends a request and returns once the answer's head arrived; its body streams.
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: (any Encodable)? = nil,
                     body: ByteBuffer? = nil, streaming: HTTPClientRequest.Body? = nil, headers: [(String, String)] = [], timeout: Duration) async throws(DriverError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        request.headers.add(name: "host", value: "docker")
        request.headers.add(name: "user-agent", value: "slipway/\(SlipwayVersion.current)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let data = try? encoder.encode(json) else {
                throw DriverError(.failed, "cannot encode the request body for \(path)")
            }
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        } else if let body {
            request.body = .bytes(body)
        } else if let streaming {
            request.body = streaming
        }
        do {
            return try await http.execute(request, timeout: .milliseconds(timeout.milliseconds))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw DriverError(.failed, "the engine at \(endpoint) did not answer \(method) \(path) within \(DurationText.format(timeout))")
        } catch {
            throw DriverError(.unreachable, "cannot reach the container engine at \(endpoint): \(Self.describe(error)); start Docker (dockerd) or Podman's service (podman system service), or point `slipway server --docker-host` (or DOCKER_HOST) at its socket")
        }
    }

    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("No such file") || text.contains("ENOENT") { return "no socket at that path" }
        if text.contains("Connection refused") || text.contains("ECONNREFUSED") { return "connection refused (nothing listens on the socket)" }
        if text.contains("Permission denied") || text.contains("EACCES") { return "permission denied on the socket" }
        return text
    }

    /// `GET /_ping` plus `GET /version`: `Docker Engine 20.10.24 (API 1.41)` or Podman's.
    /// Podman answers `/version` after collecting host details, which took over 10 s on a
    /// loaded machine: it gets the requests' usual 30 s (a dead socket fails at once anyway).
    public func version() async throws(DriverError) -> String {
        let answer = try await request(.GET, "/version")
        guard answer.ok else { throw DriverError(.failed, "the engine at \(endpoint) answered GET /version with \(answer.message)") }
        let version = try answer.decode(EngineModels.Version.self)
        let name = version.Components?.first?.Name ?? "Engine"
        return "\(name) \(version.Version) (API \(version.ApiVersion))"
    }
}
