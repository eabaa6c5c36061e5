import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A tiny HTTP client for tests (real HTTP on loopback through AsyncHTTPClient).
public enum TestHTTP {
    public struct Reply: Sendable {
        public var status: Int
        public var body: String
        public var headers: [(String, String)]
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    public static func get(_ url: String, timeout: Duration = .seconds(10)) async throws -> Reply {
        try await request(url, method: .GET, timeout: timeout)
    }

    /// Like `request`, but a GET or HEAD that met a pooled keep-alive connection already
    /// closed by the server (NIO's `ioOnClosedChannel`: nothing of the request was written)
    /// is sent once more on a new connection, as RFC 9112 section 9.3.1 lets a client do and
    /// browsers and curl do. A server that closes a connection it read a request from fails
    /// with another error and is not retried. Returns the reply and whether it was retried.
    public static func requestRetryingClosedIdle(_ url: String, method: HTTPMethod, headers: [(String, String)] = [],
                                                 timeout: Duration = .seconds(10)) async throws -> (reply: Reply, retried: Bool) {
        precondition(method == .GET || method == .HEAD, "only idempotent requests without a body are retried")
        do {
            return (try await request(url, method: method, headers: headers, timeout: timeout), false)
        } catch let error as ChannelError where error == .ioOnClosedChannel {
            return (try await request(url, method: method, headers: headers, timeout: timeout), true)
        }
    }

    public static func request(_ url: String, method: HTTPMethod, headers: [(String, String)] = [], body: String? = nil, timeout: Duration = .seconds(10)) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(timeout.milliseconds))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), body: String(buffer: bytes), headers: response.headers.map { ($0.name, $0.value) })
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, a) = components
        return s * 1000 + a / 1_000_000_000_000_000
    }
}
