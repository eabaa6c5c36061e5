import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SlipwayCore
import SlipwayStore

/// The API's request context: Hummingbird's core storage, the client's address, the
/// principal the auth middleware found, and what the handler wants recorded in the audit log.
struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// Set by `AuthMiddleware` before any handler runs (nil only on `/healthz`).
    var principal: Principal?
    let audit = AuditNote()

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The authenticated principal (every route but liveness has one).
    var caller: Principal {
        get throws {
            guard let principal else { throw APIError(.unauthorized, TokenRejection.missing.description) }
            return principal
        }
    }

    /// Who a decision is recorded as: the token's name, plus the client's own label.
    func actor(label: String?) throws -> String {
        let name = try caller.name
        let cleaned = String((label ?? "").unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.prefix(100)).trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty || cleaned == name ? name : "\(name) (\(cleaned))"
    }

    var clientAddress: String { remoteAddress?.ipAddress ?? "unix" }
}

/// What a handler adds to its route's audit entry (target, details). Never secret values.
final class AuditNote: Sendable {
    private let state = NIOLockedValueBox<(target: String?, details: [String: String])>((nil, [:]))

    func target(_ value: String) { state.withLockedValue { $0.target = value } }
    func set(_ key: String, _ value: String) { state.withLockedValue { $0.details[key] = value } }
    var snapshot: (target: String?, details: [String: String]) { state.withLockedValue { $0 } }
}

/// Counts failed authentications per client address and refuses an address that failed
/// too often (`limit` failures within `window`) until its oldest failure leaves the window.
final class AuthFailureLimiter: Sendable {
    struct Policy: Sendable, Equatable {
        var limit: Int
        var window: Duration
        static let standard = Policy(limit: 20, window: .seconds(60))
    }

    private struct State {
        var failures: [String: [Double]] = [:]
        var totals: [String: Int] = [:]
    }

    let policy: Policy
    private let now: @Sendable () -> Double
    private let state = NIOLockedValueBox(State())
    /// Addresses tracked at most; beyond it the oldest-failing addresses are dropped.
    static let maxAddresses = 10_000

    init(policy: Policy, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.policy = policy
        self.now = now
    }

    /// Seconds until the address may try again, or nil when it may try now.
    func retryAfter(_ address: String) -> Int? {
        let t = now()
        let window = policy.window.seconds
        return state.withLockedValue { s in
            guard var times = s.failures[address] else { return nil }
            times.removeAll { $0 <= t - window }
            s.failures[address] = times.isEmpty ? nil : times
            guard times.count >= policy.limit, let oldest = times.first else { return nil }
            return max(1, Int((oldest + window - t).rounded(.up)))
        }
    }

    func recordFailure(_ address: String, reason: String) {
        let t = now()
        let window = policy.window.seconds
        state.withLockedValue { s in
            s.totals[reason, default: 0] += 1
            var times = s.failures[address] ?? []
            times.removeAll { $0 <= t - window }
            times.append(t)
            if times.count > policy.limit { times.removeFirst(times.count - policy.limit) }
            s.failures[address] = times
            if s.failures.count > Self.maxAddresses {
                let cutoff = t - window
                s.failures = s.failures.filter { ($0.value.last ?? 0) > cutoff }
            }
        }
    }

    /// Failed authentications since start, by reason (for `/metrics`).
    var totals: [String: Int] { state.withLockedValue { $0.totals } }
}

/// Authenticates every request (bearer token), applies the route's access rule, and
/// appends the audit entry of every route that changes something.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let store: Store
    let limiter: AuthFailureLimiter
    let logger: Logger

    func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        guard let rule = AccessRules.rule(method: request.method, endpoint: context.endpointPath) else {
            throw APIError(.forbidden, "\(request.method) \(context.endpointPath ?? request.uri.path) has no access rule, so nobody may call it")
        }
        guard let needed = rule.role else { return try await next(request, context) }
        let address = context.clientAddress
        if let wait = limiter.retryAfter(address) {
            throw APIError(.tooManyRequests, "too many failed authentications from \(address); try again in \(wait)s", headers: [.retryAfter: String(wait)])
        }
        let principal: Principal
        switch try authenticate(request) {
        case .success(let p):
            principal = p
        case .failure(let why):
            limiter.recordFailure(address, reason: why.reason)
            logger.notice("authentication failed", metadata: ["slipway.client": "\(address)", "slipway.reason": "\(why.reason)", "slipway.route": "\(rule.route)"])
            throw APIError(.unauthorized, why.description, headers: [.wwwAuthenticate: "Bearer realm=\"slipway\""])
        }
        var context = context
        context.principal = principal
        let environment: String? = rule.environmentFromQuery
            ? request.uri.queryParameters.get("env").flatMap { $0.isEmpty ? nil : String($0) }
            : rule.environmentScoped ? context.parameters.get("name").flatMap { UnitName.split($0).environment } : nil
        guard principal.allows(needed, environment: environment) else {
            let why = principal.role < needed
                ? "\(principal.name) has the \(principal.role.rawValue) role; \(rule.route) needs \(needed.rawValue) or higher"
                : "\(principal.name)'s token is limited to the environments \(principal.environments.joined(separator: ", ")); \(rule.route) acts on \(environment.map { "environment \($0)" } ?? (rule.environmentScoped ? "a target that belongs to no environment" : "the whole server"))"
            if rule.audit != nil { try? record(rule, request: request, context: context, outcome: "denied", status: 403, error: why) }
            throw APIError(.forbidden, why)
        }
        guard rule.audit != nil else { return try await next(request, context) }
        do {
            let response = try await next(request, context)
            try record(rule, request: request, context: context, outcome: "ok", status: Int(response.status.code), error: nil)
            return response
        } catch {
            let api = APIError.from(error)
            try? record(rule, request: request, context: context, outcome: "refused", status: Int(api.status.code), error: api.body.error.message)
            throw api
        }
    }

    /// The bearer token of the `Authorization` header; without one, the dashboard's session
    /// cookie (changes need its CSRF header too, see `DashboardSession`).
    func authenticate(_ request: Request) throws -> Result<Principal, TokenRejection> {
        guard let header = request.headers[.authorization] else {
            guard let token = DashboardSession.token(in: request) else { return .failure(.missing) }
            guard DashboardSession.csrfAllows(request, token: token) else {
                return .failure(.malformed("a dashboard session may change something only with its \(DashboardSession.csrfHeader) header"))
            }
            return try store.authenticate(token, now: Date().timeIntervalSince1970)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .failure(.malformed("the Authorization header must be `Bearer <token>`"))
        }
        return try store.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces), now: Date().timeIntervalSince1970)
    }

    func record(_ rule: AccessRule, request: Request, context: APIRequestContext, outcome: String, status: Int, error: String?) throws {
        let note = context.audit.snapshot
        var details = note.details
        details["outcome"] = outcome
        details["status"] = String(status)
        details["client"] = context.clientAddress
        details["token"] = context.principal?.tokenID ?? "-"
        if let error { details["error"] = String(error.prefix(500)) }
        let target = note.target ?? Self.target(of: request, context: context)
        try store.appendAudit(AuditDraft(principal: context.principal?.name ?? "anonymous", action: rule.audit ?? rule.route, target: target, details: details),
                              time: Date().timeIntervalSince1970)
    }

    static func target(of request: Request, context: APIRequestContext) -> String {
        let path = request.uri.path
        if let name = context.parameters.get("name") {
            if path.hasPrefix("/v1/services/") { return "service/\(name)" }
            if path.hasPrefix("/v1/tokens/") { return "token/\(name)" }
        }
        return path
    }
}
