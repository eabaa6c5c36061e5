import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

@testable import SlipwayServer

#if canImport(Glibc)
import Glibc
#endif

/// The dashboard over real HTTP on 127.0.0.1: its files and their headers, the login
/// cookie, the CSRF rule for cookie-authenticated changes, and the event stream's framing
/// and ending. The browser itself is driven in `DashboardBrowserTests` (end to end).
@Suite struct DashboardTests {
    static func app(_ f: AccessRulesTests.Fixture, secure: Bool = false, streams: DashboardStreams = DashboardStreams(),
                    limiter: AuthFailureLimiter = AuthFailureLimiter(policy: .init(limit: 100, window: .seconds(60)))) -> some ApplicationProtocol {
        let router = APIRoutes.build(controller: f.controller, limiter: limiter, secureCookies: secure, streams: streams) { _ in }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static func json(_ text: String) -> (HTTPFields, ByteBuffer) {
        ([.contentType: "application/json"], ByteBuffer(string: text))
    }

    @Test func theFilesAreServedWithTheirTypesAStrictPolicyAndETags() async throws {
        let (f, _) = try AccessRulesTests.fixture()
        defer { f.directory.remove() }
        try await Self.app(f).test(.live) { client in
            let root = try await client.execute(uri: "/", method: .get)
            #expect(root.status == .found)
            #expect(root.headers[.location] == "/dashboard")
            for (path, type) in [("/dashboard", "text/html"), ("/dashboard/app.js", "text/javascript"), ("/dashboard/app.css", "text/css")] {
                let r = try await client.execute(uri: path, method: .get)
                #expect(r.status == .ok, "\(path)")
                #expect(r.headers[.contentType]?.hasPrefix(type) == true, "\(path): \(r.headers[.contentType] ?? "-")")
                let csp = try #require(r.headers[.contentSecurityPolicy])
                #expect(csp.contains("default-src 'self'") && csp.contains("script-src 'self'") && !csp.contains("unsafe"), "\(csp)")
                #expect(r.headers[.xContentTypeOptions] == "nosniff")
                #expect(r.headers[.cacheControl] == "no-cache")
                let etag = try #require(r.headers[.eTag])
                let again = try await client.execute(uri: path, method: .get, headers: [.ifNoneMatch: etag])
                #expect(again.status == .notModified, "\(path)")
                #expect(again.body.readableBytes == 0)
                // Nothing comes from elsewhere: no absolute URLs in the files.
                let text = String(buffer: r.body)
                #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "\(path) refers to another site")
            }
            let page = String(buffer: try await client.execute(uri: "/dashboard", method: .get).body)
            #expect(page.contains(#"<script src="/dashboard/app.js" defer></script>"#))
            #expect(!page.contains("<script>") && !page.contains("style="), "no inline script or style")
        }
    }

    @Test func loginSetsAnHttpOnlyStrictCookieAndCountsFailures() async throws {
        let (f, _) = try AccessRulesTests.fixture()
        defer { f.directory.remove() }
        let limiter = AuthFailureLimiter(policy: .init(limit: 3, window: .seconds(60)))
        let viewer = f.tokens[.viewer]!
        try await Self.app(f, limiter: limiter).test(.live) { client in
            let (headers, _) = Self.json("")
            let form = try await client.execute(uri: "/dashboard/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: "token=\(viewer)"))
            #expect(form.status == .unsupportedMediaType, "a cross-site form cannot log in")
            let bad = try await client.execute(uri: "/dashboard/login", method: .post, headers: headers, body: ByteBuffer(string: #"{"token":"slw_nope"}"#))
            #expect(bad.status == .unauthorized)
            #expect(bad.headers[.setCookie] == nil)
            #expect(limiter.totals.values.reduce(0, +) == 1)

            let ok = try await client.execute(uri: "/dashboard/login", method: .post, headers: headers, body: ByteBuffer(string: #"{"token":"\#(viewer)"}"#))
            #expect(ok.status == .ok)
            let cookie = try #require(ok.headers[.setCookie])
            #expect(cookie.hasPrefix("slipway_session=\(viewer);"))
            for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] { #expect(cookie.contains(part), "\(cookie)") }
            #expect(!cookie.contains("Secure"), "plain HTTP: a Secure cookie would never come back")
            let reply = try JSONDecoder().decode(DashboardSessionReplyBody.self, from: Data(buffer: ok.body))
            #expect(reply.principal.role == .viewer)
            #expect(reply.csrf == DashboardSession.csrf(for: viewer))
            #expect(!reply.csrf.isEmpty && !reply.csrf.contains(viewer))
            #expect(try f.store.auditEntries().contains { $0.action == "dashboard.login" && $0.principal == "t-viewer" })

            let out = try await client.execute(uri: "/dashboard/logout", method: .post)
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)

            // Failed logins count in the API's limiter: the address is refused for a while.
            for _ in 0..<2 { _ = try await client.execute(uri: "/dashboard/login", method: .post, headers: headers, body: ByteBuffer(string: #"{"token":"slw_nope"}"#)) }
            let blocked = try await client.execute(uri: "/dashboard/login", method: .post, headers: headers, body: ByteBuffer(string: #"{"token":"\#(viewer)"}"#))
            #expect(blocked.status == .tooManyRequests)
        }
        let (g, _) = try AccessRulesTests.fixture()
        defer { g.directory.remove() }
        try await Self.app(g, secure: true).test(.live) { client in
            let (headers, _) = Self.json("")
            let ok = try await client.execute(uri: "/dashboard/login", method: .post, headers: headers, body: ByteBuffer(string: #"{"token":"\#(g.tokens[.admin]!)"}"#))
            #expect(ok.headers[.setCookie]?.hasSuffix("; Secure") == true, "HTTPS API: the cookie is Secure")
        }
    }

    @Test func theSessionCookieReadsFreelyButChangesOnlyWithItsCSRFHeader() async throws {
        let (f, _) = try AccessRulesTests.fixture()
        defer { f.directory.remove() }
        let deployer = f.tokens[.deployer]!
        let cookie: HTTPFields = [.cookie: "other=1; slipway_session=\(deployer)"]
        try await Self.app(f).test(.live) { client in
            let whoami = try await client.execute(uri: "/v1/whoami", method: .get, headers: cookie)
            #expect(whoami.status == .ok)
            #expect(String(buffer: whoami.body).contains("t-deployer"))
            let session = try await client.execute(uri: "/dashboard/session", method: .get, headers: cookie)
            #expect(String(buffer: session.body).contains(DashboardSession.csrf(for: deployer)))

            let promote = "/v1/services/nosuch/promote"
            let none = try await client.execute(uri: promote, method: .post, headers: cookie)
            #expect(none.status == .unauthorized, "no CSRF header")
            #expect(String(buffer: none.body).contains("X-Slipway-CSRF"))
            var wrong = cookie
            wrong[DashboardSession.csrfHeader] = DashboardSession.csrf(for: f.tokens[.admin]!)
            #expect(try await client.execute(uri: promote, method: .post, headers: wrong).status == .unauthorized, "another session's CSRF value")
            var right = cookie
            right[DashboardSession.csrfHeader] = DashboardSession.csrf(for: deployer)
            #expect(try await client.execute(uri: promote, method: .post, headers: right).status == .notFound, "authenticated; the service does not exist")

            // The same role rules apply: a viewer's session may not promote, nor an admin route.
            let viewer = f.tokens[.viewer]!
            let low: HTTPFields = [.cookie: "slipway_session=\(viewer)", DashboardSession.csrfHeader: DashboardSession.csrf(for: viewer)]
            #expect(try await client.execute(uri: promote, method: .post, headers: low).status == .forbidden)
            #expect(try await client.execute(uri: "/v1/tokens", method: .get, headers: low).status == .forbidden)
            // A revoked token's session ends at once.
            #expect(try await client.execute(uri: "/v1/whoami", method: .get, headers: [.cookie: "slipway_session=\(f.revoked)"]).status == .unauthorized)
            #expect(try await client.execute(uri: "/v1/whoami", method: .get, headers: [.cookie: "slipway_session="]).status == .unauthorized)
        }
    }

    @Test func theStreamSendsFramedSnapshotsAndEndsWhenTheClientLeavesOrTheServerStops() async throws {
        let (f, _) = try AccessRulesTests.fixture()
        defer { f.directory.remove() }
        let streams = DashboardStreams()
        let viewer = f.tokens[.viewer]!
        try await Self.app(f, streams: streams).test(.live) { client in
            let once = try await client.execute(uri: "/v1/stream?once=1", method: .get, headers: AccessRulesTests.bearer(viewer))
            #expect(once.status == .ok)
            #expect(once.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            #expect(once.headers[.cacheControl] == "no-store")
            let text = String(buffer: once.body)
            #expect(text.hasPrefix("retry: 2000\n\nevent: snapshot\nid: "), "\(text.prefix(80))")
            #expect(text.hasSuffix("\n\n"))
            let data = try #require(text.split(separator: "\n").first { $0.hasPrefix("data: ") }).dropFirst(6)
            let snapshot = try JSONDecoder().decode(DashboardSnapshot.self, from: Data(data.utf8))
            #expect(snapshot.units.isEmpty && snapshot.errors.isEmpty)
            #expect(try await client.execute(uri: "/v1/stream?once=1", method: .get).status == .unauthorized)

            // A client that goes away: its stream ends at the next write.
            let port = try #require(client.port)
            let socket = try RawHTTPStream(port: port, path: "/v1/stream", headers: ["Authorization: Bearer \(viewer)"])
            let first = try await socket.read(until: "event: snapshot")
            #expect(first.contains("text/event-stream"))
            #expect(streams.openCount == 1)
            socket.close()
            _ = try await eventually("the stream of a departed client to end", timeout: .seconds(10)) { streams.openCount == 0 ? true : nil }

            // Shutdown: every open stream ends (the HTTP server may then stop).
            let second = try RawHTTPStream(port: port, path: "/v1/stream", headers: ["Cookie: slipway_session=\(viewer)"])
            _ = try await second.read(until: "event: snapshot")
            streams.close()
            try await second.waitForEnd(timeout: .seconds(5))
            #expect(second.received.hasSuffix("\r\n0\r\n\r\n"), "the chunked answer ended properly")
            second.close()
            _ = try await eventually("the stream to end on shutdown", timeout: .seconds(5)) { streams.openCount == 0 ? true : nil }
        }
    }

    @Test func eventsAreFramedLineByLine() {
        #expect(EventStream.frame(event: "snapshot", id: 7, data: #"{"a":1}"#) == "event: snapshot\nid: 7\ndata: {\"a\":1}\n\n")
        #expect(EventStream.frame(event: "phase", id: nil, data: "one\ntwo") == "event: phase\ndata: one\ndata: two\n\n")
    }

    @Test func snapshotsNameRolesWeightsAndLiveNumbersAndPhaseChanges() throws {
        let canary = RolloutRecord(id: 4, service: "web@prod", kind: .deploy, fromVersion: "v1", toVersion: "v2", phase: .progressing, startedAt: 10)
        func instance(_ id: String, _ version: String, healthy: Bool?) -> InstanceRecord {
            var i = InstanceRecord(id: id, service: "web@prod", version: version, port: 1, pid: 1, pidStartTime: 1, state: .running, startedAt: 1, logPath: "/x")
            i.healthy = healthy
            return i
        }
        let status = ServiceStatus(service: "web@prod", configVersion: 1, listen: ListenAddress(host: "127.0.0.1", port: 80), stableVersion: "v1", previousVersion: "v0",
                                   previousRetireAt: nil, activeRollout: canary, instances: [instance("a", "v1", healthy: true), instance("b", "v2", healthy: false)], serviceURL: "http://127.0.0.1:80/")
        let routes = RouteTable(generation: 1, services: [ServiceRoute(service: "web@prod", listen: ListenAddress(host: "127.0.0.1", port: 80), groups: [
            BackendGroup(version: "v1", weight: 90, endpoints: []), BackendGroup(version: "v2", weight: 10, endpoints: []), BackendGroup(version: "v0", weight: 0, endpoints: []),
        ])])
        let stats = [VersionStats(service: "web@prod", version: "v2", windowSeconds: 5, requests: 50, status2xx: 45, status5xx: 5, latencyP50Ms: 3, latencyP95Ms: 9, latencyP99Ms: 12)]
        let snap = DashboardSnapshot.make(sequence: 3, time: 100, windowSeconds: 5, statuses: [status], latest: ["web@prod": canary], groups: Dictionary(uniqueKeysWithValues: routes.services.map { ($0.service, $0.groups) }), stats: stats, errors: [])
        let unit = try #require(snap.units.first)
        #expect(unit.service == "web" && unit.environment == "prod" && unit.state == "progressing")
        #expect(unit.versions.map(\.version) == ["v1", "v2", "v0"])
        #expect(unit.versions.map(\.role) == ["stable", "canary", "previous"])
        #expect(unit.versions.map(\.weight) == [90, 10, 0])
        let v2 = unit.versions[1]
        #expect(v2.requestRate == 10 && v2.errorRate == 0.1 && v2.latencyP95Ms == 9)
        #expect(v2.instances.map(\.healthy) == [false])

        var failed = canary
        failed.phase = .failed
        #expect(DashboardSnapshot.state(active: nil, latest: failed, stable: "v1") == "rolled_back")
        var rollback = RolloutRecord(id: 5, service: "web", kind: .rollback, fromVersion: "v2", toVersion: "v1", phase: .succeeded, startedAt: 1)
        #expect(DashboardSnapshot.state(active: nil, latest: rollback, stable: "v1") == "rolled_back")
        rollback.kind = .deploy
        #expect(DashboardSnapshot.state(active: nil, latest: rollback, stable: "v1") == "stable")
        #expect(DashboardSnapshot.state(active: nil, latest: nil, stable: nil) == "empty")

        var later = snap
        later.sequence = 4
        later.units[0].latestRollout = failed
        later.units[0].state = "rolled_back"
        #expect(DashboardSnapshot.phaseChanges(from: nil, to: snap).isEmpty)
        #expect(DashboardSnapshot.phaseChanges(from: snap, to: snap).isEmpty)
        let change = try #require(DashboardSnapshot.phaseChanges(from: snap, to: later).first)
        #expect(change.unit == "web@prod" && change.rollout == 4 && change.from == "progressing" && change.phase == "failed" && change.state == "rolled_back")
    }

    /// The card's post-deploy checks come from the service's status, and a check that
    /// changed makes a new snapshot differ (the stream sends it).
    @Test func snapshotsCarryTheLatestRolloutsPostDeployChecks() throws {
        var status = ServiceStatus(service: "web", configVersion: 1, listen: ListenAddress(host: "127.0.0.1", port: 80), stableVersion: "v2", previousVersion: "v1",
                                   previousRetireAt: nil, activeRollout: nil, instances: [], serviceURL: "http://127.0.0.1:80/")
        let check = VerificationRecord(id: 7, service: "web", rolloutID: 3, version: "v2", previousVersion: "v1", afterSeconds: 1800, dueAt: 2000, onFailure: .rollback)
        status.verifications = [check]
        let make = { DashboardSnapshot.make(sequence: 1, time: 100, windowSeconds: 5, statuses: [status], latest: [:], groups: [:], stats: [], errors: []) }
        let pending = make()
        #expect(pending.units.first?.verifications == [check])
        var passed = check
        passed.status = .passed
        passed.summary = "command passed (exit 0)"
        status.verifications = [passed]
        #expect(make() != pending)
        let json = String(decoding: try JSONEncoder().encode(make()), as: UTF8.self)
        #expect(json.contains(#""status":"passed""#) && json.contains(#""afterSeconds":1800"#), "\(json)")
    }
}

/// `DashboardSessionReply` as a client decodes it.
struct DashboardSessionReplyBody: Decodable {
    var principal: Principal
    var csrf: String
}
