import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Upstream and health-check errors in words, for reports and 502 bodies.
enum ErrorDescription {
    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return describe(errno: error.errnoCode) }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return describe(first.error) }
            if let dns = error.dnsAAAAError ?? error.dnsAError { return "name resolution failed (\(dns))" }
            return "connection failed"
        }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout(let amount): return "connect timed out after \(format(amount))"
            case .eof, .alreadyClosed, .ioOnClosedChannel, .outputClosed, .inputClosed: return "connection closed by instance"
            default: return "channel error (\(error))"
            }
        }
        return String(describing: error)
    }

    static func describe(errno code: CInt) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ECONNRESET: return "connection reset"
        case EPIPE: return "connection closed by instance"
        case ETIMEDOUT: return "connection timed out"
        case EHOSTUNREACH: return "host unreachable"
        case ENETUNREACH: return "network unreachable"
        default: return "socket error \(code)"
        }
    }

    /// `1s`, `250ms`.
    static func format(_ amount: TimeAmount) -> String {
        let ms = amount.nanoseconds / 1_000_000
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}
