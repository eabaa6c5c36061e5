import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SlipwayCore
import Synchronization

/// A count shared by the copies of a `RouterClient`.
public final class CallCounter: Sendable {
    let value = Atomic<Int>(0)
    public init() {}
    func add() { value.add(1, ordering: .relaxed) }
    public var count: Int { value.load(ordering: .relaxed) }
}

/// The control plane's side of the data-plane admin socket.
public struct RouterClient: Sendable {
    let socketPath: String
    let http: HTTPClient
    /// Counts the calls made (a fleet server's: the control plane's cost per server).
    let counter: CallCounter?

    /// Fails fast when the socket does not answer (the caller decides about retries).
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(2)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(socketPath: String, http: HTTPClient = RouterClient.sharedClient, counter: CallCounter? = nil) {
        self.socketPath = socketPath
        self.http = http
        self.counter = counter
    }

    /// Set (to the successor's pid) on the 503 a router answers after handing over.
    static let handedOverHeader = "Slipway-Handed-Over"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    func call<T: Decodable>(_ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<Int>.none, timeout: TimeAmount = .seconds(5), as: T.Type) async throws -> T {
        guard let url = URL(httpURLWithSocketPath: socketPath, uri: path) else {
            throw Failure(description: "bad router socket path \(socketPath)")
        }
        counter?.add()
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
        }
        var response: HTTPClientResponse
        var bytes: ByteBuffer
        var attempt = 0
        while true {
            do {
                response = try await http.execute(request, timeout: timeout)
            } catch {
                throw Failure(description: "the data plane (router) at \(socketPath) does not answer: \(error)")
            }
            bytes = try await response.body.collect(upTo: 64 << 20)
            // A pooled connection reached a router that has since handed its listeners over
            // (`slipway router upgrade`, a restart): it closed that connection; the call goes
            // again on a new one, which reaches the successor on the same socket path.
            attempt += 1
            guard response.status == .serviceUnavailable, response.headers.contains(name: Self.handedOverHeader), attempt < 3 else { break }
        }
        guard response.status == .ok else {
            throw Failure(description: "the data plane answered \(response.status.code) to \(method) \(path): \(String(buffer: bytes))")
        }
        return try JSONDecoder().decode(T.self, from: Data(buffer: bytes))
    }

    /// Streams a text answer line by line to `line` (the agent's logs), until it ends or
    /// the task is cancelled.
    func lines(_ method: HTTPMethod, _ path: String, body: some Encodable, line: (String) -> Void) async throws {
        guard let url = URL(httpURLWithSocketPath: socketPath, uri: path) else {
            throw Failure(description: "bad router socket path \(socketPath)")
        }
        counter?.add()
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
        let response = try await http.execute(request, timeout: .hours(24))
        guard response.status == .ok else {
            throw Failure(description: "the data plane answered \(response.status.code) to \(method) \(path)")
        }
        var pending = Data()
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                line(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { line(String(decoding: pending, as: UTF8.self)) }
    }

    public func ping(timeout: TimeAmount = .seconds(2)) async throws -> (pid: Int32, generation: UInt64) {
        let reply = try await call(.GET, "/ping", timeout: timeout, as: PingReply.self)
        return (reply.pid, reply.generation)
    }

    /// What the router says of itself: pid, table generation, version and build.
    public struct Identity: Sendable, Equatable {
        public var pid: Int32
        public var generation: UInt64
        public var version: String?
        public var build: String?
        /// SHA-256 of the router's binary (nil from older routers).
        public var executable: String? = nil
        /// The router's wall clock when it answered (nil from older routers).
        public var time: Double? = nil
    }

    public func identity(timeout: TimeAmount = .seconds(2)) async throws -> Identity {
        let reply = try await call(.GET, "/ping", timeout: timeout, as: PingReply.self)
        return Identity(pid: reply.pid, generation: reply.generation, version: reply.version, build: reply.build, executable: reply.executable, time: reply.time)
    }

    public func apply(_ table: RouteTable) async throws -> (generation: UInt64, failures: [ListenFailure]) {
        let reply = try await call(.PUT, "/routes", body: table, as: ApplyReply.self)
        return (reply.generation, reply.failures)
    }

    /// The prepare step: the router keeps `table` without applying it.
    public func stage(_ table: RouteTable) async throws {
        _ = try await call(.PUT, "/routes/staged", body: table, as: StageReply.self)
    }

    /// The commit step: the router applies the table staged with `generation`.
    public func commit(generation: UInt64) async throws -> (generation: UInt64, failures: [ListenFailure]) {
        let reply = try await call(.POST, "/routes/commit?generation=\(generation)", as: ApplyReply.self)
        return (reply.generation, reply.failures)
    }

    public func routes() async throws -> RouteTable {
        try await call(.GET, "/routes", as: RouteTable.self)
    }

    public func health() async throws -> [EndpointHealth] {
        try await call(.GET, "/health", as: HealthReply.self).endpoints
    }

    public func stats(window: Duration, latencyBuckets: Bool = false) async throws -> [VersionStats] {
        try await call(.GET, "/stats?window=\(window.seconds)" + (latencyBuckets ? "&latency=buckets" : ""), as: StatsReply.self).versions
    }

    /// Cumulative per-version counters since the router began counting each version.
    public func totals() async throws -> [VersionTotals] {
        try await call(.GET, "/totals", as: TotalsReply.self).versions
    }

    /// The per-version totals and the requests each service's edge refused (429, 403).
    public func totalsWithEdge() async throws -> (versions: [VersionTotals], edge: [EdgeTotals]) {
        let reply = try await call(.GET, "/totals", as: TotalsReply.self)
        return (reply.versions, reply.edge ?? [])
    }
}
