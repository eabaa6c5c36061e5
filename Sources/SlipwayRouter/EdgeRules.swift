import NIOHTTP1
import SlipwayCore
import Synchronization

/// What the router checks and adds at one service's edge: security headers, the rate
/// limit and the path allowlist. Built once per table; nil on a service with none.
final class EdgeRules: Sendable {
    /// Added to every response of the service unless the instance set the header itself.
    /// One copy of the strings per event loop (indexed by `LoopContext.index`), so loops
    /// do not bounce the strings' reference counts between cores on every response.
    let headersByLoop: [[SecurityHeader]]
    let limiter: RateLimiter?
    let pathGuard: PathGuard?
    let counters: EdgeCounters

    init(headers: [SecurityHeader], loops: Int, limiter: RateLimiter?, pathGuard: PathGuard?, counters: EdgeCounters) {
        self.headersByLoop = (0..<max(1, loops)).map { _ in headers.map { $0.privateCopy() } }
        self.limiter = limiter
        self.pathGuard = pathGuard
        self.counters = counters
    }

    var headers: [SecurityHeader] { headersByLoop[0] }

    /// Adds the configured headers the response does not already have.
    @inline(__always)
    func addHeaders(to fields: inout HTTPHeaders, loop: Int) {
        let headers = headersByLoop[loop % headersByLoop.count]
        guard !headers.isEmpty else { return }
        fields.reserveCapacity(fields.count + headers.count)
        for header in headers where !fields.contains(name: header.name) {
            fields.add(name: header.name, value: header.value)
        }
    }
}

struct SecurityHeader: Sendable {
    let name: String
    let value: String

    /// The same text in storage of its own (long strings are shared by reference).
    func privateCopy() -> SecurityHeader {
        SecurityHeader(name: String(decoding: Array(name.utf8), as: UTF8.self), value: String(decoding: Array(value.utf8), as: UTF8.self))
    }
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
