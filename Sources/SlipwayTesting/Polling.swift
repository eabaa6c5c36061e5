import Foundation

/// Waits for a condition by polling it, up to a bounded deadline. Tests use this
/// instead of fixed sleeps: it returns as soon as the condition holds.
public struct PollTimeout: Error, CustomStringConvertible {
    public let description: String
}

public func eventually<T>(
    _ what: String,
    timeout: Duration = .seconds(30),
    every interval: Duration = .milliseconds(50),
    _ probe: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if let value = try await probe() { return value }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: interval)
    }
    throw PollTimeout(description: "timed out after \(timeout) waiting for \(what)" + (lastError.map { "; last error: \($0)" } ?? ""))
}

/// A TCP port that was free a moment ago on 127.0.0.1.
public func freeLoopbackPort() -> Int {
    let (fd, port) = boundLoopbackSocket(listening: false)
    close(fd)
    return port
}

/// A socket bound to a free 127.0.0.1 port (listening when asked): the caller closes it.
/// Tests use a listening one to hold a port that Slipway must then refuse.
public func boundLoopbackSocket(listening: Bool) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    if listening { listen(fd, 16) }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

#if canImport(Glibc)
import Glibc
#endif
