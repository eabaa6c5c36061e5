import NIOCore
import NIOHTTP1

/// Everything a connection needs, shared read-only by all event loops: settings and the
/// pre-encoded bodies and headers of the fixed responses.
final class App: Sendable {
    let settings: Settings
    let log: RequestLog
    let hello: Response
    let healthy: Response
    let unhealthy: Response
    let injectedError: Response
    let notFound: Response
    /// `GET /bytes?n=N` answers a slice of this (a 64 KiB answer for benchmarks costs no copy).
    private let bulk: ByteBuffer
    static let maxBytes = 1 << 20

    init(settings: Settings) {
        self.settings = settings
        self.log = RequestLog(version: settings.version)
        let version = settings.version
        let build = settings.build
        hello = Response(.ok, "hello from \(version)\n", version: version, build: build, port: settings.port)
        healthy = Response(.ok, "ok", version: version, build: build)
        unhealthy = Response(.serviceUnavailable, "unhealthy", version: version, build: build)
        injectedError = Response(.internalServerError, "injected error (FAULT_ERROR_RATE)\n", version: version, build: build, port: settings.port)
        notFound = Response(.notFound, "not found", version: version, build: build)
        bulk = ByteBuffer(repeating: UInt8(ascii: "x"), count: Self.maxBytes)
    }

    /// `n` bytes of `x` (0 ≤ n ≤ `maxBytes`), with the usual headers.
    func bytes(_ n: Int) -> Response {
        Response(.ok, body: bulk.getSlice(at: bulk.readerIndex, length: n)!, version: settings.version, build: settings.build, port: settings.port)
    }
}

/// A status, headers and body built once; writing it only retains the buffers.
struct Response: Sendable {
    let status: HTTPResponseStatus
    let headers: HTTPHeaders
    let body: ByteBuffer

    /// `port`: sent as `x-port` (which instance answered, for tests behind the router).
    init(_ status: HTTPResponseStatus, _ text: String, version: String, build: String? = nil, port: Int? = nil) {
        self.init(status, body: ByteBuffer(string: text), version: version, build: build, port: port)
    }

    init(_ status: HTTPResponseStatus, body: ByteBuffer, version: String, build: String? = nil, port: Int? = nil) {
        self.status = status
        self.body = body
        var headers: HTTPHeaders = [
            "content-type": "text/plain; charset=utf-8",
            "content-length": String(body.readableBytes),
            "x-version": version,
        ]
        if let build { headers.add(name: "x-build", value: build) }
        if let port { headers.add(name: "x-port", value: String(port)) }
        self.headers = headers
    }
}
