import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Hands out TCP ports for processes that bind them a moment later (instances get theirs in
/// `PORT`). A port is only ever *probed* free here, so two things can take it before its
/// process binds it:
///
/// - an outgoing connection: the kernel gives those local ports from its ephemeral range
///   (`/proc/sys/net/ipv4/ip_local_port_range`), and the router opens them to instances all
///   the time. Ports come from a range outside it, so no connection can take one;
/// - another caller: a port handed out is not handed out again until the rest of the
///   range was, and each search starts at a random place, so two allocators (two control
///   planes on one machine) rarely try the same port at the same time.
public final class PortAllocator: Sendable {
    /// Ports are taken from here. The default leaves Linux' default ephemeral range
    /// (32768–60999) and the registered low ports alone.
    public let range: ClosedRange<Int>
    private let next: Mutex<Int>

    public static let defaultRange = 20000...29999

    public init(range: ClosedRange<Int> = PortAllocator.defaultRange) {
        precondition(range.lowerBound >= 1 && range.upperBound <= 65535, "port range out of bounds")
        self.range = range
        next = Mutex(Int.random(in: range))
    }

    /// A port of `range` that binds on `host` right now, or nil when none of the range does.
    public func port(host: String = "127.0.0.1") -> Int? {
        for _ in 0..<range.count {
            let candidate = next.withLock { next -> Int in
                let port = next
                next = port == range.upperBound ? range.lowerBound : port + 1
                return port
            }
            if Self.binds(host: host, port: candidate) { return candidate }
        }
        return nil
    }

    /// Whether a socket can bind `host:port` now. Without SO_REUSEADDR: a port with any
    /// socket on it, even one in TIME_WAIT, is not free (an instance may bind without it).
    /// With `reuseAddress`, as a binder that sets SO_REUSEADDR would (the engine's
    /// docker-proxy): connections of a dead listener still closing (TIME_WAIT) do not count.
    public static func binds(host: String, port: Int, reuseAddress: Bool = false) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if reuseAddress {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// The kernel's ephemeral port range (where outgoing connections get their local
    /// port), or nil where it cannot be read.
    public static func ephemeralRange(file: String = "/proc/sys/net/ipv4/ip_local_port_range") -> ClosedRange<Int>? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { return nil }
        return parts[0]...parts[1]
    }

    /// Parses `LOW-HIGH` (e.g. `20000-29999`): at least 16 ports, within 1024…65535.
    public static func parseRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]),
              low >= 1024, high <= 65535, high - low + 1 >= 16 else { return nil }
        return low...high
    }
}
