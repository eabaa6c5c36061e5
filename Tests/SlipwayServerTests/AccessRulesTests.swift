import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

@testable import SlipwayServer

/// Every API route, taken from the router's own route list, is called over real HTTP
/// with no token, a revoked token, a token whose role is one too low, a token limited
/// to an environment, and a token with exactly the role its rule names. A route added
/// without a rule in AccessRules fails here (and is refused to everyone at run time).
@Suite struct AccessRulesTests {
    struct Fixture: @unchecked Sendable {
        let directory: TemporaryDirectory
        let store: Store
        let controller: Controller
        let router: Hummingbird.Router<APIRequestContext>
        var tokens: [Role: String] = [:]
        var scopedDeployer = ""
        var revoked = ""
    }

    static func fixture(failures: AuthFailureLimiter.Policy = .init(limit: 100_000, window: .seconds(60)), now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws -> (Fixture, AuthFailureLimiter) {
        let directory = try TemporaryDirectory(prefix: "slipway-access")
        let state = try StateDirectory(directory.file("state"))
        let store = try Store(path: state.database)
        let logger = Logger(label: "test")
        let controller = try Controller(store: store, stateDirectory: state, dataPlane: DataPlane(stateDirectory: state, logger: logger), masterKey: .generate(source: .caller), logger: logger)
        let limiter = AuthFailureLimiter(policy: failures, now: now)
        let router = APIRoutes.build(controller: controller, limiter: limiter) { _ in }
        var f = Fixture(directory: directory, store: store, controller: controller, router: router)
        for role in Role.allCases {
            f.tokens[role] = try store.createToken(name: "t-\(role.rawValue)", role: role, environments: [], expiresAt: nil, createdBy: "test", now: 1).secret
        }
        f.scopedDeployer = try store.createToken(name: "scoped", role: .admin, environments: ["staging"], expiresAt: nil, createdBy: "test", now: 1).secret
        let revoked = try store.createToken(name: "gone", role: .admin, environments: [], expiresAt: nil, createdBy: "test", now: 1)
        _ = try store.revokeToken("gone", by: "test", now: 2)
        f.revoked = revoked.secret
        return (f, limiter)
    }

    /// A concrete URI for a route pattern.
    static func uri(_ path: String) -> String {
        // The event stream would never end: `once` makes it answer one snapshot.
        if path == "/v1/stream" { return "/v1/stream?once=1" }
        return path.replacingOccurrences(of: "{name}", with: "nosuch").replacingOccurrences(of: "{id}", with: "424242").replacingOccurrences(of: "{secret}", with: "API_KEY").replacingOccurrences(of: "{version}", with: "1.0")
    }

    static let openRoutes = ["GET /healthz", "GET /", "GET /dashboard", "GET /dashboard/app.js", "GET /dashboard/app.css",
                             "POST /dashboard/login", "POST /dashboard/logout"]

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    @Test func everyRouteHasARuleAndEveryRuleARoute() throws {
        let (f, _) = try Self.fixture()
        defer { f.directory.remove() }
        let routes = Set(f.router.routes.map { "\($0.method) \($0.path)" })
        #expect(routes.count >= 20, "\(routes)")
        for route in routes.sorted() {
            #expect(AccessRules.byRoute[route] != nil, "route \(route) has no access rule")
        }
        for rule in AccessRules.all {
            #expect(routes.contains(rule.route), "rule \(rule.route) names no route")
        }
        // Only liveness and the dashboard's files and session doors are open.
        #expect(AccessRules.all.filter { $0.role == nil }.map(\.route).sorted() == Self.openRoutes.sorted())
        // Everything that changes state is audited and needs at least a deployer (logging
        // in to the dashboard changes nothing; a successful login is audited by its handler).
        for rule in AccessRules.all where !rule.route.hasPrefix("GET ") && !rule.route.hasPrefix("POST /dashboard/") {
            #expect(rule.audit != nil, "\(rule.route) changes state but is not audited")
            #expect((rule.role ?? .viewer) >= .deployer, "\(rule.route) changes state but a viewer may call it")
        }
        // Tokens, the audit log and shutdown are the admin's.
        for rule in AccessRules.all where ["/v1/tokens", "/v1/audit", "/v1/shutdown"].contains(where: { rule.route.contains($0) }) {
            #expect(rule.role == .admin, "\(rule.route) must need admin")
        }
    }

    @Test func everyRouteRefusesMissingRevokedAndTooWeakTokensAndAcceptsItsRole() async throws {
        let (f, limiter) = try Self.fixture()
        defer { f.directory.remove() }
        let app = Application(router: f.router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            for described in f.router.routes {
                let route = "\(described.method) \(described.path)"
                let uri = Self.uri(described.path.description)
                let method = described.method
                let rule = try #require(AccessRules.byRoute[route], "route \(route) has no access rule")
                guard let needed = rule.role else {
                    let open = try await client.execute(uri: uri, method: method)
                    #expect(Self.openRoutes.contains(route))
                    // Open, so never 401/403 (login without a body is a 415, `/` a redirect).
                    #expect(open.status != .unauthorized && open.status != .forbidden && open.status.code < 500, "\(route) answered \(open.status)")
                    continue
                }
                let none = try await client.execute(uri: uri, method: method)
                #expect(none.status == .unauthorized, "\(route) without a token answered \(none.status)")
                #expect(none.headers[.wwwAuthenticate] == "Bearer realm=\"slipway\"")
                let garbage = try await client.execute(uri: uri, method: method, headers: [.authorization: "Basic YWRtaW46YWRtaW4="])
                #expect(garbage.status == .unauthorized, "\(route) with Basic auth answered \(garbage.status)")
                let revoked = try await client.execute(uri: uri, method: method, headers: Self.bearer(f.revoked))
                #expect(revoked.status == .unauthorized, "\(route) with a revoked token answered \(revoked.status)")
                #expect(String(buffer: revoked.body).contains("revoked"), "\(route): \(String(buffer: revoked.body))")
                if let weaker = Role.allCases.last(where: { $0 < needed }) {
                    let low = try await client.execute(uri: uri, method: method, headers: Self.bearer(f.tokens[weaker]!))
                    #expect(low.status == .forbidden, "\(route) with a \(weaker.rawValue) token answered \(low.status)")
                    #expect(String(buffer: low.body).contains("needs \(needed.rawValue) or higher"), "\(String(buffer: low.body))")
                    // An admin limited to an environment may only read; these targets have none.
                    let scoped = try await client.execute(uri: uri, method: method, headers: Self.bearer(f.scopedDeployer))
                    #expect(scoped.status == .forbidden, "\(route) with an environment-limited token answered \(scoped.status)")
                }
                let right = try await client.execute(uri: uri, method: method, headers: Self.bearer(f.tokens[needed]!))
                #expect(right.status != .unauthorized && right.status != .forbidden, "\(route) with a \(needed.rawValue) token answered \(right.status): \(String(buffer: right.body))")
            }
            // Unknown paths need a token too (the API's shape is not shown to strangers).
            #expect(try await client.execute(uri: "/v1/nothing-here", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/v1/nothing-here", method: .get, headers: Self.bearer(f.tokens[.viewer]!)).status == .notFound)
        }
        #expect((limiter.totals["missing"] ?? 0) > 20)
        #expect((limiter.totals["revoked"] ?? 0) > 20)
        #expect((limiter.totals["malformed"] ?? 0) > 20)
    }

    @Test func changesAndRefusalsAreAuditedWithThePrincipal() async throws {
        let (f, _) = try Self.fixture()
        defer { f.directory.remove() }
        let app = Application(router: f.router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let body = ByteBuffer(string: #"{"version":"v9"}"#)
            let refused = try await client.execute(uri: "/v1/services/web/deploy", method: .post, headers: Self.bearer(f.tokens[.deployer]!).merging([.contentType: "application/json"]), body: body)
            #expect(refused.status == .notFound)
            let denied = try await client.execute(uri: "/v1/services/web/deploy", method: .post, headers: Self.bearer(f.tokens[.viewer]!).merging([.contentType: "application/json"]), body: body)
            #expect(denied.status == .forbidden)
            let created = try await client.execute(uri: "/v1/tokens", method: .post, headers: Self.bearer(f.tokens[.admin]!).merging([.contentType: "application/json"]),
                                                   body: ByteBuffer(string: #"{"name":"bot","role":"viewer","expiresIn":"1h"}"#))
            #expect(created.status == .created)
            let secret = try JSONDecoder().decode(CreateTokenReply.self, from: Data(buffer: created.body)).secret
            let badRole = try await client.execute(uri: "/v1/tokens", method: .post, headers: Self.bearer(f.tokens[.admin]!).merging([.contentType: "application/json"]),
                                                   body: ByteBuffer(string: #"{"name":"bot2","role":"root"}"#))
            #expect(badRole.status == .unprocessableContent)
            #expect(String(buffer: badRole.body).contains(#"unknown role \"root\"; roles are viewer, deployer, approver, admin"#))
            let entries = try f.store.auditEntries()
            let deploy = try #require(entries.first { $0.action == "rollout.deploy" && $0.principal == "t-deployer" })
            #expect(deploy.target == "service/web")
            #expect(deploy.details.contains(#""outcome":"refused""#) && deploy.details.contains(#""version":"v9""#), "\(deploy.details)")
            let deniedEntry = try #require(entries.first { $0.action == "rollout.deploy" && $0.principal == "t-viewer" })
            #expect(deniedEntry.details.contains(#""outcome":"denied""#), "\(deniedEntry.details)")
            let token = try #require(entries.first { $0.action == "token.create" && $0.target == "token/bot" })
            #expect(token.principal == "t-admin")
            #expect(!token.details.contains(secret) && !entries.map(\.details).joined().contains(secret), "the token's secret never enters the audit log")
            #expect(try f.store.verifyAudit().ok)
        }
    }

    @Test func anAddressThatFailsTooOftenMustWaitEvenWithAGoodToken() async throws {
        let clock = ManualNow(1000)
        let (f, limiter) = try Self.fixture(failures: .init(limit: 3, window: .seconds(60)), now: { clock.value })
        defer { f.directory.remove() }
        let app = Application(router: f.router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let good = Self.bearer(f.tokens[.viewer]!)
            #expect(try await client.execute(uri: "/v1/services", method: .get, headers: good).status == .ok)
            for _ in 0..<3 {
                #expect(try await client.execute(uri: "/v1/services", method: .get, headers: Self.bearer("slw_" + String(repeating: "A", count: 43))).status == .unauthorized)
            }
            clock.value += 20
            let blocked = try await client.execute(uri: "/v1/services", method: .get, headers: good)
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.headers[.retryAfter] == "40")
            #expect(String(buffer: blocked.body).contains("too many failed authentications from 127.0.0.1"))
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok, "liveness stays open")
            clock.value += 40
            #expect(try await client.execute(uri: "/v1/services", method: .get, headers: good).status == .ok)
        }
        #expect(limiter.totals == ["unknown": 3])
        #expect(AuthMetrics.render(limiter.totals).contains(#"slipway_api_auth_failures_total{reason="unknown"} 3"#))
    }

    @Test func theLimiterForgetsFailuresOutsideItsWindow() {
        let clock = ManualNow(0)
        let limiter = AuthFailureLimiter(policy: .init(limit: 2, window: .seconds(10)), now: { clock.value })
        limiter.recordFailure("a", reason: "unknown")
        clock.value = 6
        limiter.recordFailure("a", reason: "missing")
        #expect(limiter.retryAfter("a") == 4)
        #expect(limiter.retryAfter("b") == nil)
        clock.value = 10.5
        #expect(limiter.retryAfter("a") == nil, "the first failure left the window")
        limiter.recordFailure("a", reason: "unknown")
        #expect(limiter.retryAfter("a") == 6)
        #expect(limiter.totals == ["unknown": 2, "missing": 1])
    }

    @Test func theAPIWarnsWhenItListensBeyondLoopbackWithoutTLS() {
        #expect(ServerRuntime.exposureWarning(api: ListenAddress(host: "0.0.0.0", port: 7878), tls: false)?.contains("without TLS") == true)
        #expect(ServerRuntime.exposureWarning(api: ListenAddress(host: "10.1.2.3", port: 7878), tls: false) != nil)
        #expect(ServerRuntime.exposureWarning(api: ListenAddress(host: "0.0.0.0", port: 7878), tls: true) == nil)
        #expect(ServerRuntime.exposureWarning(api: ListenAddress(host: "127.0.0.1", port: 7878), tls: false) == nil)
        #expect(ServerRuntime.exposureWarning(api: ListenAddress(host: "::1", port: 7878), tls: false) == nil)
    }
}

/// A settable clock for the limiter.
final class ManualNow: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: Double
    init(_ value: Double) { _value = value }
    var value: Double {
        get { lock.withLock { _value } }
        set { lock.withLock { _value = newValue } }
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var copy = self
        for field in other { copy.append(field) }
        return copy
    }
}
