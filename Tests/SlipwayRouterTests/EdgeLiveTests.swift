import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SlipwayCore
import SlipwayTesting
import Testing
@testable import SlipwayRouter

/// The service edge over real loopback sockets: security headers, the per-client rate
/// limit, the path allowlist and TLS termination.
@Suite(.serialized) struct EdgeLiveTests {
    typealias Rig = RouterLiveTests.Rig

    static let headers = SecurityHeaders(hsts: "max-age=31536000; includeSubDomains", csp: "default-src 'self'",
                                         contentTypeOptions: "nosniff", frameOptions: "DENY", referrerPolicy: "no-referrer")

    static func route(_ upstream: TestUpstream, edit: (inout ServiceRoute) -> Void) -> ServiceRoute {
        var route = RouterLiveTests.route([RouterLiveTests.group("v1", 100, [upstream])])
        edit(&route)
        return route
    }

    static func expectSecurityHeaders(_ response: TestClient.Response, frame: String = "DENY", sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.headers["Strict-Transport-Security"] == ["max-age=31536000; includeSubDomains"], sourceLocation: sourceLocation)
        #expect(response.headers["Content-Security-Policy"] == ["default-src 'self'"], sourceLocation: sourceLocation)
        #expect(response.headers["X-Content-Type-Options"] == ["nosniff"], sourceLocation: sourceLocation)
        #expect(response.headers["X-Frame-Options"] == [frame], sourceLocation: sourceLocation)
        #expect(response.headers["Referrer-Policy"] == ["no-referrer"], sourceLocation: sourceLocation)
    }

    @Test func securityHeadersOnProxiedAndRouterMadeAnswersAndThePathAllowlist() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let v1 = try await TestUpstream.start(name: "v1", group: group)
        let rig = try await Rig.start(RouteTable(generation: 1, services: [Self.route(v1) {
            $0.headers = Self.headers
            $0.restrict = [PathRestriction(paths: ["/admin", "/metrics"], allow: ["10.0.0.0/8"])]
        }]))
        let client = try await TestClient.connect(port: rig.port, group: group)

        let ok = try await client.send(.GET, "/")
        #expect(ok.status == .ok)
        #expect(ok.body == "v1")
        Self.expectSecurityHeaders(ok)
        #expect(ok.headers["X-Seen-Forwarded-Proto"] == ["http"])

        let own = try await client.send(.GET, "/own-frame")
        Self.expectSecurityHeaders(own, frame: "SAMEORIGIN")

        // 127.0.0.1 is not in 10.0.0.0/8: every spelling of a restricted path is refused.
        for uri in ["/admin", "/admin/users", "/%61dmin", "//admin", "/x/../metrics", "/ADMIN", "/admin%2fx"] {
            let refused = try await client.send(.GET, uri)
            #expect(refused.status == .forbidden, "\(uri)")
            #expect(refused.body == "forbidden: this path is restricted to allowed client networks\n")
            Self.expectSecurityHeaders(refused)
        }
        #expect(try await client.send(.GET, "/administrator").status == .ok)
        #expect(client.channel.isActive, "a 403 keeps the connection")

        // No version handled the refusals: they are counted at the edge only.
        let stats = try #require(rig.router.stats(window: .seconds(60)).first { $0.version == "v1" })
        #expect(stats.requests == 3)
        #expect(stats.status4xx == 0)
        #expect(rig.router.edgeTotals() == [EdgeTotals(service: "web", rateLimited: 0, forbidden: 7)])

        // Allowing loopback opens the paths.
        _ = await rig.router.apply(RouteTable(generation: 2, services: [Self.route(v1) {
            $0.restrict = [PathRestriction(paths: ["/admin"], allow: ["10.0.0.0/8", "127.0.0.1/32"])]
        }]))
        let allowed = try await client.send(.GET, "/admin")
        #expect(allowed.status == .ok)
        #expect(allowed.headers["Strict-Transport-Security"].isEmpty, "no headers once unconfigured")

        await client.close()
        await rig.stop()
        await v1.stop()
        try await group.shutdownGracefully()
    }

    /// burst 5 and (practically) no refill: 12 requests over 4 connections spread over the
    /// router's 2 event loops get exactly 5 answers and 7 × 429.
    @Test func rateLimitIsPerClientAcrossConnectionsAndLoops() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let v1 = try await TestUpstream.start(name: "v1", group: group)
        let rig = try await Rig.start(RouteTable(generation: 1, services: [Self.route(v1) {
            $0.rateLimit = RateLimitSpec(perSecond: 1.0 / 3600, burst: 5)
            $0.headers = SecurityHeaders(contentTypeOptions: "nosniff")
        }]))
        var clients: [TestClient] = []
        for _ in 0..<4 { clients.append(try await TestClient.connect(port: rig.port, group: group)) }
        var statuses: [Int] = []
        var limited: [TestClient.Response] = []
        for _ in 0..<3 {
            for client in clients {
                let response = try await client.send(.GET, "/")
                statuses.append(Int(response.status.code))
                if response.status == .tooManyRequests { limited.append(response) }
            }
        }
        #expect(statuses.filter { $0 == 200 }.count == 5, "\(statuses)")
        #expect(limited.count == 7, "\(statuses)")
        for response in limited {
            // One token per hour: the wait is an hour less the (wall-clock) time since the
            // burst began, rounded up — 3600 s on a quick machine, a little less on a loaded one.
            let wait = try #require(response.headers["Retry-After"].first.flatMap { Int($0) })
            #expect((3500...3600).contains(wait), "\(wait)")
            #expect(response.headers["X-Content-Type-Options"] == ["nosniff"])
            #expect(response.body == "too many requests: over the limit of 1/h (burst 5) per client address; retry after \(wait)s\n")
        }
        #expect(clients.allSatisfy { $0.channel.isActive }, "a 429 keeps the connection")
        let stats = try #require(rig.router.stats(window: .seconds(60)).first { $0.version == "v1" })
        #expect(stats.requests == 5, "429s are not the version's requests")
        #expect(stats.status4xx == 0)
        #expect(rig.router.edgeTotals().first?.rateLimited == 7)

        // A new table with the same limit keeps the buckets; a different limit starts over.
        _ = await rig.router.apply(RouteTable(generation: 2, services: [Self.route(v1) { $0.rateLimit = RateLimitSpec(perSecond: 1.0 / 3600, burst: 5) }]))
        #expect(try await clients[0].send(.GET, "/").status == .tooManyRequests)
        _ = await rig.router.apply(RouteTable(generation: 3, services: [Self.route(v1) { $0.rateLimit = RateLimitSpec(perSecond: 1.0 / 3600, burst: 6) }]))
        #expect(try await clients[0].send(.GET, "/").status == .ok)

        for client in clients { await client.close() }
        await rig.stop()
        await v1.stop()
        try await group.shutdownGracefully()
    }

    // MARK: TLS

    /// curl over HTTP/1.1 (the router offers HTTP/2 by ALPN too; HTTP2Tests covers that).
    static func curl(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let curl = FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") ? "/usr/bin/curl" : "/usr/local/bin/curl"
        return try await runCommand(curl, ["-sS", "--max-time", "10", "-i", "--http1.1"] + arguments, timeout: .seconds(30))
    }

    @Test func terminatesTLSAndKeepsTheOldCertificateWhenANewTableBreaksIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let certs = try await TestCertificates.make(in: directory.path)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let v1 = try await TestUpstream.start(name: "v1", group: group)
        let tls = TLSSpec(cert: certs.cert, key: certs.key)
        let rig = try await Rig.start(RouteTable(generation: 1, services: [Self.route(v1) { $0.tls = tls; $0.headers = Self.headers }]))

        let first = try await Self.curl(["--cacert", certs.ca, "https://127.0.0.1:\(rig.port)/"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("HTTP/1.1 200"), "\(first.stdout)")
        #expect(first.stdout.hasSuffix("\r\n\r\nv1"))
        #expect(first.stdout.lowercased().contains("x-seen-forwarded-proto: https"))
        #expect(first.stdout.lowercased().contains("strict-transport-security: max-age=31536000; includesubdomains"))
        let untrusted = try await Self.curl(["https://127.0.0.1:\(rig.port)/"])
        #expect(untrusted.status != 0, "curl must not trust the test CA by itself")
        let plain = try await Self.curl(["http://127.0.0.1:\(rig.port)/"])
        #expect(!plain.stdout.contains("HTTP/1.1 200"), "plain HTTP on the TLS port is not served")

        // A key that does not belong to the certificate: a precise failure, old cert kept.
        let mismatched = await rig.router.apply(RouteTable(generation: 2, services: [Self.route(v1) { $0.tls = TLSSpec(cert: certs.cert, key: certs.otherKey) }]))
        #expect(mismatched.count == 1)
        #expect(mismatched.first?.message == "tls of service web on 127.0.0.1:0: the private key in \(certs.otherKey) does not belong to the certificate in \(certs.cert); the listener keeps serving with its previous settings")
        let missing = await rig.router.apply(RouteTable(generation: 3, services: [Self.route(v1) { $0.tls = TLSSpec(cert: directory.file("gone.pem"), key: certs.key) }]))
        #expect(missing.first?.message.contains("cannot read the certificate file \(directory.file("gone.pem")): No such file or directory") == true, "\(missing)")
        let notPEM = try directory.write("junk.pem", "not a certificate\n")
        let junk = await rig.router.apply(RouteTable(generation: 4, services: [Self.route(v1) { $0.tls = TLSSpec(cert: notPEM, key: certs.key) }]))
        #expect(junk.first?.message.contains("holds no PEM certificate") == true, "\(junk)")
        let still = try await Self.curl(["--cacert", certs.ca, "https://127.0.0.1:\(rig.port)/"])
        #expect(still.stdout.hasPrefix("HTTP/1.1 200"), "the listener still serves with the old certificate: \(still.stderr)")

        // A new listen address with a broken key is not opened at all (never plain HTTP).
        let port = freeLoopbackPort()
        var other = Self.route(v1) { $0.tls = TLSSpec(cert: certs.cert, key: certs.otherKey) }
        other.service = "api"
        other.listen = ListenAddress(host: "127.0.0.1", port: port)
        let failures = await rig.router.apply(RouteTable(generation: 5, services: [Self.route(v1) { $0.tls = tls }, other]))
        #expect(failures.map(\.service) == ["api"])
        #expect(failures.first?.message.hasSuffix("; not listening") == true)
        #expect(rig.router.boundPort(for: other.listen) == nil)

        // Two services on one address that disagree on TLS.
        var plainTwin = Self.route(v1) { $0.hosts = ["api.test"] }
        plainTwin.service = "api"
        let conflict = await rig.router.apply(RouteTable(generation: 6, services: [Self.route(v1) { $0.tls = tls }, plainTwin]))
        #expect(conflict.first?.message.contains("services web (tls cert \(certs.cert)) and api (no tls) share 127.0.0.1:0 but disagree on tls") == true, "\(conflict)")

        // Back to plain HTTP on the same listener. (Tables 5 and 6 gave the instance to
        // `api` too, so `web` got a fresh endpoint state: wait for its health check.)
        #expect(await rig.router.apply(RouteTable(generation: 7, services: [Self.route(v1) { _ in }])).isEmpty)
        #expect(try await eventually { rig.router.health().first { $0.id == "v1" && $0.service == "web" }?.healthy == true })
        let client = try await TestClient.connect(port: rig.port, group: group)
        let back = try await client.send(.GET, "/")
        #expect(back.body == "v1", "\(back)")
        await client.close()

        await rig.stop()
        await v1.stop()
        try await group.shutdownGracefully()
    }
}
