import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SlipwayServer

/// One HTTP client for the CLI's life. Connection failures are reported at once
/// (no retrying until the deadline), so an unreachable server fails fast.
let cliHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    if let ca = CLITLS.caFile {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(ca)
        configuration.tlsConfiguration = tls
    }
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(5)
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// TLS settings the CLI's one HTTP client is made with (set before its first use).
enum CLITLS {
    nonisolated(unsafe) static var caFile: String?
}

/// The CLI's HTTP client of the control plane's API.
struct APIClient {
    let baseURL: String
    /// Sent as `Authorization: Bearer …`; never printed.
    var token: String?

    /// An error answer of the API, or no answer at all.
    struct Failure: Error {
        let status: Int?
        let body: APIErrorBody?
        let message: String
    }

    func send<T: Decodable>(_ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<Int>.none, as type: T.Type, timeout: TimeAmount = .seconds(120)) async throws -> T {
        let bytes = try await raw(method, path, body: body, timeout: timeout)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: bytes))
        } catch {
            throw Failure(status: nil, body: nil, message: "the server at \(baseURL) answered something unexpected to \(method) \(path): \(error)")
        }
    }

    func raw(_ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<Int>.none, limit: Int = 64 << 20, timeout: TimeAmount = .seconds(120)) async throws -> ByteBuffer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await cliHTTPClient.execute(request, timeout: timeout)
        } catch {
            throw Failure(status: nil, body: nil, message: "cannot reach the slipway server at \(baseURL) (\(error)); start one with `slipway server` or set --server / SLIPWAY_SERVER")
        }
        let bytes = try await response.body.collect(upTo: limit)
        guard (200..<300).contains(Int(response.status.code)) else {
            let decoded = try? JSONDecoder().decode(APIErrorBody.self, from: Data(buffer: bytes))
            var message = decoded?.error.message ?? "HTTP \(response.status.code): \(String(buffer: bytes))"
            if response.status == .unauthorized, token == nil {
                message += "\nno token was sent: set SLIPWAY_TOKEN, run `slipway login`, or run the CLI where the server's state directory is (./.slipway or SLIPWAY_STATE_DIR)"
            }
            throw Failure(status: Int(response.status.code), body: decoded, message: message)
        }
        return bytes
    }

    /// Streams a text answer to stdout as it arrives (logs --follow).
    func stream(_ path: String) async throws {
        var request = HTTPClientRequest(url: baseURL + path)
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        let response: HTTPClientResponse
        do {
            response = try await cliHTTPClient.execute(request, timeout: .hours(24 * 365))
        } catch {
            throw Failure(status: nil, body: nil, message: "cannot reach the slipway server at \(baseURL) (\(error))")
        }
        guard response.status == .ok else {
            let bytes = try await response.body.collect(upTo: 1 << 20)
            let decoded = try? JSONDecoder().decode(APIErrorBody.self, from: Data(buffer: bytes))
            throw Failure(status: Int(response.status.code), body: decoded, message: decoded?.error.message ?? "HTTP \(response.status.code)")
        }
        for try await chunk in response.body {
            FileHandle.standardOutput.write(Data(buffer: chunk))
        }
    }
}

/// Runs an API call, turning failures into the documented exit codes and a message.
func withAPI<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let failure as APIClient.Failure {
        printError("error: \(failure.message)")
        if let configErrors = failure.body?.error.configErrors {
            for e in configErrors { printError("\(e.file):\(e.line):\(e.column): \(e.path): \(e.message)") }
        }
        throw failure.status == nil ? Exit.unreachable : Exit.failed
    }
}
