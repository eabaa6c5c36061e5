import Foundation

/// A minimal WebSocket client (RFC 6455) on a non-blocking loopback socket: enough to talk
/// to Chromium's DevTools endpoint from a test. Text frames only; waits never block a
/// thread (they poll with short sleeps) and are bounded.
public final class WebSocketConnection: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var fragments: [UInt8] = []

    /// Connects to `ws://127.0.0.1:port/path` and completes the opening handshake.
    public init(port: Int, path: String, timeout: Duration = .seconds(10)) async throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        // (deinit closes the socket when init throws)
        guard rc == 0 else { throw Failure(description: "cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try await sendAll(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8), timeout: timeout)
        let end = Array("\r\n\r\n".utf8)
        let deadline = ContinuousClock.now + timeout
        while true {
            if let range = Self.find(end, in: buffer) {
                let head = String(decoding: buffer[..<range], as: UTF8.self)
                buffer.removeFirst(range + end.count)
                guard head.hasPrefix("HTTP/1.1 101") else { throw Failure(description: "the WebSocket handshake was refused: \(head)") }
                return
            }
            guard ContinuousClock.now < deadline else { throw Failure(description: "no WebSocket handshake answer within \(timeout)") }
            try await fill()
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends one text message (masked, as clients must).
    public func send(_ text: String, timeout: Duration = .seconds(10)) async throws {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((UInt64(payload.count) >> UInt64(shift)) & 0xFF)) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try await sendAll(frame, timeout: timeout)
    }

    /// The next whole text message, or nil if none arrived within `timeout`.
    public func receive(timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let message = try parseFrame() { return message }
            guard ContinuousClock.now < deadline else { return nil }
            try await fill()
        }
    }

    /// One complete message from the buffer, if there is one.
    private func parseFrame() throws -> String? {
        while buffer.count >= 2 {
            let fin = buffer[0] & 0x80 != 0
            let opcode = buffer[0] & 0x0F
            var length = Int(buffer[1] & 0x7F)
            var offset = 2
            if length == 126 {
                guard buffer.count >= 4 else { return nil }
                length = Int(buffer[2]) << 8 | Int(buffer[3])
                offset = 4
            } else if length == 127 {
                guard buffer.count >= 10 else { return nil }
                length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[$1]) }
                offset = 10
            }
            let masked = buffer[1] & 0x80 != 0
            let maskOffset = offset
            if masked { offset += 4 }
            guard buffer.count >= offset + length else { return nil }
            var payload = Array(buffer[offset..<(offset + length)])
            if masked { payload = payload.enumerated().map { $0.element ^ buffer[maskOffset + $0.offset % 4] } }
            buffer.removeFirst(offset + length)
            switch opcode {
            case 0x8: throw Failure(description: "the WebSocket was closed by the other side")
            case 0x9, 0xA: continue  // ping / pong: DevTools does not send them
            default:
                fragments += payload
                if fin {
                    defer { fragments = [] }
                    return String(decoding: fragments, as: UTF8.self)
                }
            }
        }
        return nil
    }

    /// Reads what is available; sleeps a little when nothing is.
    private func fill() async throws {
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n > 0 {
            buffer += chunk[0..<n]
        } else if n == 0 {
            throw Failure(description: "the WebSocket connection was closed")
        } else if errno == EAGAIN || errno == EWOULDBLOCK {
            try await Task.sleep(for: .milliseconds(5))
        } else {
            throw Failure(description: "recv failed: \(String(cString: strerror(errno)))")
        }
    }

    private func sendAll(_ bytes: [UInt8], timeout: Duration) async throws {
        var sent = 0
        let deadline = ContinuousClock.now + timeout
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                guard ContinuousClock.now < deadline else { throw Failure(description: "send timed out") }
                try await Task.sleep(for: .milliseconds(5))
            } else {
                throw Failure(description: "send failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
