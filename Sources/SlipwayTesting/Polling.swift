import Foundation
import SlipwayTargets

/// Waits for a condition by polling it, up to a bounded deadline. Tests use this
/// instead of fixed sleeps: it returns as soon as the condition holds.
public struct PollTimeout: Error, CustomStringConvertible {
    public let description: String
}

/// Thrown by a probe when waiting longer cannot help (the process it waits for exited):
/// `eventually` ends at once with it instead of polling to its deadline.
public struct PollStop: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
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
        } catch let stop as PollStop {
            throw stop
        } catch {
            lastError = error
        }
        try await Task.sleep(for: interval)
    }
    throw PollTimeout(description: "timed out after \(timeout) waiting for \(what)" + (lastError.map { "; last error: \($0)" } ?? ""))
}

/// A TCP port that was free a moment ago on 127.0.0.1, for a server a test starts next.
/// It comes from 10000-19999: outside the kernel's ephemeral range, so no outgoing
/// connection takes it before the server binds it, and apart from the ports Slipway gives
/// instances (`--instance-ports`, 20000-29999); this process never hands one out twice
/// before it went through the whole range.
public func freeLoopbackPort() -> Int {
    if let port = testPorts.port() { return port }
    let (fd, port) = boundLoopbackSocket(listening: false)
    close(fd)
    return port
}

private let testPorts = PortAllocator(range: 10000...19999)

/// A socket listening on 127.0.0.1:`port` (the caller closes it), or nil when the port
/// is taken. Tests use it to take a port away from Slipway. With SO_REUSEADDR, as servers
/// bind: connections of a process that just died, still in TIME_WAIT, do not stop it.
public func listeningLoopbackSocket(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var one: Int32 = 1
    _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard bound == 0, listen(fd, 16) == 0 else {
        close(fd)
        return nil
    }
    return fd
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
