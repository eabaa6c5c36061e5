import Foundation

/// A raw HTTP/1.1 GET on a loopback socket whose answer is read as it streams (server-sent
/// events); closing it is a client going away mid-answer. Reads poll with short timeouts
/// and every wait is bounded.
public final class RawHTTPStream: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let fd: Int32
    private let lock = NSLock()
    private var _received = ""
    private var _ended = false

    public init(port: Int, path: String, headers: [String]) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { throw Failure(description: "cannot connect to 127.0.0.1:\(port)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    deinit { Glibc.close(fd) }

    /// Everything received so far.
    public var received: String { lock.withLock { _received } }
    /// Whether the server ended the answer (last chunk) or closed the connection.
    public var ended: Bool { lock.withLock { _ended || _received.contains("\r\n0\r\n\r\n") } }

    private func poll() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        lock.withLock {
            if n > 0 { _received += String(decoding: buffer[0..<n], as: UTF8.self) } else if n == 0 { _ended = true }
        }
    }

    /// Everything received once `marker` has arrived (bounded wait).
    public func read(until marker: String, timeout: Duration = .seconds(10)) async throws -> String {
        try await eventually("\(marker.debugDescription) on the stream", timeout: timeout, every: .milliseconds(5)) {
            poll()
            return received.contains(marker) ? received : nil
        }
    }

    /// Waits until the server ends the answer.
    public func waitForEnd(timeout: Duration = .seconds(10)) async throws {
        _ = try await eventually("the server to end the stream", timeout: timeout, every: .milliseconds(5)) {
            poll()
            return ended ? true : nil
        }
    }

    /// Shuts the connection (the client goes away).
    public func close() { shutdown(fd, Int32(SHUT_RDWR)) }
}

#if canImport(Glibc)
import Glibc
#endif
