import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who holds a TCP port: used to make "port already taken" errors name the culprit.
public enum PortHolder {
    /// "pid 1234 (nginx)" for the process listening on `port`, when /proc tells.
    public static func describe(port: Int) -> String? {
        let inodes = listeningInodes(port: port)
        guard !inodes.isEmpty else { return nil }
        let fm = FileManager.default
        for pid in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pid) != nil {
            for fd in (try? fm.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
                guard let target = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                      target.hasPrefix("socket:[") else { continue }
                let inode = target.dropFirst(8).dropLast()
                if inodes.contains(String(inode)) {
                    let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
                    return "pid \(pid) (\(comm))"
                }
            }
        }
        return "another process (not visible to this user)"
    }

    static func listeningInodes(port: Int) -> Set<String> {
        var inodes: Set<String> = []
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readProcFile(file) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count > 9, f[3] == "0A" else { continue }
                guard let colon = f[1].lastIndex(of: ":"), Int(f[1][f[1].index(after: colon)...], radix: 16) == port else { continue }
                inodes.insert(String(f[9]))
            }
        }
        return inodes
    }

    /// The whole of a /proc file. (Foundation's `String(contentsOfFile:)` stops after the
    /// first 4 KiB of a procfs file, whose size reads as 0: about 26 sockets of
    /// /proc/net/tcp, so a listener further down was never found.)
    static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `host:port` can be bound right now (nil) or the error text.
    public static func tryBind(host: String, port: Int) -> String? {
        let v6 = host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "cannot create a socket" }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var rc: Int32
        if v6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else { return "\(host) is not an IP address" }
            rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            let ip = host == "localhost" ? "127.0.0.1" : host
            guard inet_pton(AF_INET, ip, &addr.sin_addr) == 1 else { return "\(host) is not an IPv4 address" }
            rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        if rc == 0 { return nil }
        return String(cString: strerror(errno))
    }
}
