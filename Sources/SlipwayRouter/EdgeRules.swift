import NIOHTTP1
import SlipwayCore
import Synchronization

/// What the router checks and adds at one service's edge: security headers, the rate
/// limit and the path allowlist. Built once per table; nil on a service with none.
final class EdgeRules: Sendable {
    /// Added to every response of the service unless the instance set the header itself.
    let headers: [SecurityHeader]
    let limiter: RateLimiter?
    let pathGuard: PathGuard?
    let counters: EdgeCounters

    init(headers: [SecurityHeader], limiter: RateLimiter?, pathGuard: PathGuard?, counters: EdgeCounters) {
        self.headers = headers
        self.limiter = limiter
        self.pathGuard = pathGuard
        self.counters = counters
    }

    /// Adds the configured headers the response does not already have.
    @inline(__always)
    func addHeaders(to fields: inout HTTPHeaders) {
        for header in headers where !fields.contains(name: header.name) {
            fields.add(name: header.name, value: header.value)
        }
    }
}

struct SecurityHeader: Sendable {
    let name: String
    let value: String
}

/// Requests a service's edge answered itself (no version handled them, so they are not in
/// any version's numbers): 429 for the rate limit, 403 for the path allowlist.
final class EdgeCounters: Sendable {
    let service: String
    let rateLimited = Atomic<UInt64>(0)
    let forbidden = Atomic<UInt64>(0)

    init(service: String) {
        self.service = service
    }

    var totals: EdgeTotals {
        EdgeTotals(service: service, rateLimited: rateLimited.load(ordering: .relaxed), forbidden: forbidden.load(ordering: .relaxed))
    }
}
