import NIOSSL
import SlipwayCore
import SlipwayTLS
import Synchronization

/// The TLS server context one listener hands to each new connection; nil: plain HTTP.
/// Replaced when a table with other (or renewed) certificate files is applied; accepted
/// connections keep the context they started with.
final class ListenerTLS: Sendable {
    private struct Current {
        var spec: TLSSpec?
        var context: NIOSSLContext?
    }

    private let current = Mutex(Current())

    var context: NIOSSLContext? { current.withLock { $0.context } }
    var spec: TLSSpec? { current.withLock { $0.spec } }

    func set(_ spec: TLSSpec?, context: NIOSSLContext?) {
        current.withLock { $0 = Current(spec: spec, context: context) }
    }
}

/// What TLS each listen address of a table wants, checked and loaded.
enum ListenerTLSPlan {
    enum Outcome {
        case plain
        case tls(TLSSpec, NIOSSLContext)
        /// The address cannot be served as the table asks.
        case failed(service: String, message: String)
    }

    /// Every service on `address` must name the same files (or none); the files are read
    /// and checked now, so renewed certificates are picked up by the next table.
    static func outcome(for address: ListenAddress, in table: RouteTable) -> Outcome {
        let services = table.services.filter { $0.listen == address }
        guard let first = services.first else { return .plain }
        if let other = services.first(where: { $0.tls != first.tls }) {
            func describe(_ route: ServiceRoute) -> String {
                route.tls.map { "tls cert \($0.cert)" } ?? "no tls"
            }
            return .failed(service: other.service, message: "services \(first.service) (\(describe(first))) and \(other.service) (\(describe(other))) share \(address) but disagree on tls; services on one listen address must name the same certificate and key")
        }
        guard let spec = first.tls else { return .plain }
        do {
            // HTTP/2 when the client offers it (ALPN), else HTTP/1.1.
            return .tls(spec, try TLSFiles.serverContext(cert: spec.cert, key: spec.key, applicationProtocols: ["h2", "http/1.1"]))
        } catch {
            return .failed(service: first.service, message: "tls of service \(first.service) on \(address): \(error)")
        }
    }
}
