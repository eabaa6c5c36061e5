import CSlipwayProcess
import Foundation
import Logging
import NIOCore
import NIOPosix
import SlipwayCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Listening sockets passed from a running router to the one replacing it (`slipway router
/// upgrade`, or a control plane that finds the router's binary changed), so that no
/// listening socket is ever closed: the kernel keeps queueing connections on it while both
/// processes hold it, and whichever accepts them serves them.
///
/// The protocol, on a Unix stream socket in the state directory (mode 0600, in the 0700
/// state directory):
/// 1. the new router connects and sends `TAKE <its pid>\n`;
/// 2. the old one answers one message: a 4-byte big-endian length, then JSON
///    (`HandOverOffer`: its pid and the listen addresses), with the listening sockets
///    attached (SCM_RIGHTS), in the order of the addresses; it keeps accepting;
/// 3. the new router serves from them (its table restored from `router-table.json`, with
///    the instances' last known health) and answers its admin socket, then sends `READY\n`;
/// 4. the old one stops accepting and drains its connections, then exits.
/// A new router that fails or goes away before `READY` leaves the old one serving as before.
public enum HandOver {
    public struct Offer: Codable, Sendable {
        public var pid: Int32
        public var addresses: [ListenAddress]
    }

    static let ready = Array("READY\n".utf8)

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The new router's side: the sockets taken, and the connection to confirm on.
    public final class Taken: @unchecked Sendable {
        public let offer: Offer
        /// The listening socket of each address (owned by whoever binds them next).
        public let sockets: [ListenAddress: CInt]
        private var connection: CInt

        init(offer: Offer, sockets: [ListenAddress: CInt], connection: CInt) {
            self.offer = offer
            self.sockets = sockets
            self.connection = connection
        }

        /// Tells the old router to stop accepting and drain.
        public func confirm() throws {
            defer { finish() }
            guard write(connection, HandOver.ready) else {
                throw Failure(description: "the old router went away before the hand-over was confirmed: \(String(cString: strerror(errno)))")
            }
        }

        /// Leaves the old router serving as before.
        public func finish() {
            if connection >= 0 { close(connection) }
            connection = -1
        }
    }

    /// Asks the router listening at `path` for its sockets. Nil when none listens there
    /// (nothing to take over); throws when one answers but the exchange fails.
    public static func take(from path: String, timeout: Duration = .seconds(10)) throws -> Taken? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        setTimeout(fd, timeout)
        let connected = withUnixAddress(path) { address, length in connect(fd, address, length) }
        guard connected == 0 else {
            let code = errno
            close(fd)
            if code == ENOENT || code == ECONNREFUSED { return nil }
            throw Failure(description: "connect \(path): \(String(cString: strerror(code)))")
        }
        do {
            guard write(fd, Array("TAKE \(getpid())\n".utf8)) else { throw Failure(description: "sending TAKE: \(String(cString: strerror(errno)))") }
            var buffer = [UInt8](repeating: 0, count: 65536)
            var fds = [CInt](repeating: -1, count: Int(CSLIPWAY_MAX_PASSED_FDS))
            var count: CInt = 0
            let received = buffer.withUnsafeMutableBytes { bytes in
                fds.withUnsafeMutableBufferPointer { fdBuffer in
                    cslipway_recv_fds(fd, bytes.baseAddress, bytes.count, fdBuffer.baseAddress, CSLIPWAY_MAX_PASSED_FDS, &count)
                }
            }
            let passed = Array(fds.prefix(Int(count)))
            guard received >= 4 else {
                passed.forEach { _ = close($0) }
                throw Failure(description: received < 0 ? "receiving the sockets: \(String(cString: strerror(errno)))" : "the old router closed the hand-over")
            }
            var message = Array(buffer.prefix(Int(received)))
            let length = Int(message[0]) << 24 | Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])
            while message.count < length + 4 {
                let n = read(fd, &buffer, min(buffer.count, length + 4 - message.count))
                guard n > 0 else {
                    passed.forEach { _ = close($0) }
                    throw Failure(description: "the hand-over message was cut short")
                }
                message += buffer.prefix(n)
            }
            let offer = try JSONDecoder().decode(Offer.self, from: Data(message[4..<(length + 4)]))
            guard offer.addresses.count == passed.count else {
                passed.forEach { _ = close($0) }
                throw Failure(description: "the old router offered \(offer.addresses.count) address(es) with \(passed.count) socket(s)")
            }
            return Taken(offer: offer, sockets: Dictionary(zip(offer.addresses, passed), uniquingKeysWith: { first, _ in first }), connection: fd)
        } catch {
            close(fd)
            throw error
        }
    }

    /// The old router's side: answers hand-over requests on `path` until one is confirmed,
    /// then calls `handedOver` (once, on its own thread).
    public final class Listener: @unchecked Sendable {
        private let path: String
        private let fd: CInt
        private let logger: Logger
        private let sockets: @Sendable () -> [(ListenAddress, CInt)]
        private let handedOver: @Sendable (Int32) -> Void

        public init(path: String, logger: Logger, sockets: @escaping @Sendable () -> [(ListenAddress, CInt)], handedOver: @escaping @Sendable (Int32) -> Void) throws {
            self.path = path
            self.logger = logger
            self.sockets = sockets
            self.handedOver = handedOver
            unlink(path)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
            let bound = withUnixAddress(path) { address, length in bind(fd, address, length) }
            guard bound == 0, chmod(path, 0o600) == 0, listen(fd, 4) == 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                throw Failure(description: "cannot listen for hand-overs on \(path): \(message)")
            }
            self.fd = fd
        }

        public func start() {
            let thread = Thread { [self] in acceptLoop() }
            thread.name = "slipway-handover"
            thread.start()
        }

        private func acceptLoop() {
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 {
                    if errno == EINTR { continue }
                    logger.error("hand-over socket failed", metadata: ["slipway.error": "\(String(cString: strerror(errno)))"])
                    return
                }
                if let pid = serve(connection) {
                    close(fd)
                    handedOver(pid)
                    return
                }
            }
        }

        /// One request; the new router's pid when it confirmed.
        private func serve(_ connection: CInt) -> Int32? {
            defer { close(connection) }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            setTimeout(connection, .seconds(60))
            guard let request = readLine(connection), request.starts(with: Array("TAKE ".utf8)),
                  let peer = Int32(String(decoding: request.dropFirst(5).dropLast(), as: UTF8.self)) else { return nil }
            let offered = sockets()
            let offer = Offer(pid: getpid(), addresses: offered.map(\.0))
            guard let json = try? JSONEncoder().encode(offer) else { return nil }
            var message = [UInt8(json.count >> 24 & 0xFF), UInt8(json.count >> 16 & 0xFF), UInt8(json.count >> 8 & 0xFF), UInt8(json.count & 0xFF)]
            message += json
            let fds = offered.map(\.1)
            let sent = message.withUnsafeBytes { bytes in
                fds.withUnsafeBufferPointer { cslipway_send_fds(connection, bytes.baseAddress, bytes.count, $0.baseAddress, CInt($0.count)) }
            }
            guard sent == 0 else {
                logger.error("hand-over failed", metadata: ["slipway.error": "\(String(cString: strerror(errno)))"])
                return nil
            }
            logger.info("listening sockets offered to a new router", metadata: ["slipway.pid": "\(peer)", "slipway.sockets": "\(fds.count)"])
            guard readLine(connection) == HandOver.ready else {
                logger.warning("the new router did not confirm the hand-over; serving on", metadata: ["slipway.pid": "\(peer)"])
                return nil
            }
            return peer
        }
    }

    // MARK: Plumbing

    static func write(_ fd: CInt, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    static func readLine(_ fd: CInt) -> [UInt8]? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 64 {
            let n = read(fd, &byte, 1)
            if n < 0, errno == EINTR { continue }
            guard n == 1 else { return nil }
            line.append(byte)
            if byte == UInt8(ascii: "\n") { return line }
        }
        return nil
    }

    static func setTimeout(_ fd: CInt, _ timeout: Duration) {
        var value = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    static func withUnixAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

/// Listening TCP sockets made by hand (socket, bind, listen) so that the router knows
/// their descriptors and can hand them to its successor; NIO serves them
/// (`ServerBootstrap.withBoundSocket`).
enum ListenSocket {
    static let backlog: CInt = 1024

    static func bind(_ address: ListenAddress) throws -> CInt {
        let resolved = try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
        let family: CInt
        switch resolved {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        default: throw IOError(errnoCode: EAFNOSUPPORT, reason: "listen \(address)")
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        let bound: CInt
        switch resolved {
        case .v4(let v4):
            var raw = v4.address
            bound = withUnsafePointer(to: &raw) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .v6(let v6):
            var raw = v6.address
            bound = withUnsafePointer(to: &raw) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        default:
            bound = -1
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw IOError(errnoCode: code, reason: "bind")
        }
        guard listen(fd, backlog) == 0 else {
            let code = errno
            close(fd)
            throw IOError(errnoCode: code, reason: "listen")
        }
        return fd
    }
}
