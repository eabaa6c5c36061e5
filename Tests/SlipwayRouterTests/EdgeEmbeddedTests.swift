import NIOCore
import NIOEmbedded
import SlipwayCore
import Testing
@testable import SlipwayRouter

/// Edge rules on an EmbeddedChannel (the client is 10.1.2.3): bad input still gets a clear
/// 4xx, a body sent to a refused request is read and dropped, and the allowlist admits
/// its networks.
@Suite struct EdgeEmbeddedTests {
    static func table(_ edit: (inout ServiceRoute) -> Void) -> RouteTable {
        var route = AffinityTests.route([("v1", 100)], affinity: nil)
        edit(&route)
        return RouteTable(generation: 1, services: [route])
    }

    @Test func malformedRequestStillGets400WithEdgeRules() throws {
        let proxy = try EmbeddedProxy(table: Self.table {
            $0.rateLimit = RateLimitSpec(perSecond: 1, burst: 1)
            $0.headers = SecurityHeaders(frameOptions: "DENY")
            $0.restrict = [PathRestriction(paths: ["/admin"], allow: [])]
        })
        try? proxy.send("GET /admin HTTP/1.1\r\nHost: web\r\nContent-Length: nope\r\n\r\n")
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 400 Bad Request"), "\(out)")
        #expect(proxy.connector.channels.isEmpty)
    }

    @Test func refusedUploadIsDrainedAndTheConnectionKept() throws {
        let proxy = try EmbeddedProxy(table: Self.table { $0.restrict = [PathRestriction(paths: ["/admin"], allow: ["192.0.2.0/24"])] })
        try proxy.send("POST /admin/upload HTTP/1.1\r\nHost: web\r\nContent-Length: 10\r\n\r\n0123456789")
        let out = try proxy.clientOutput()
        #expect(out.hasPrefix("HTTP/1.1 403 Forbidden"), "\(out)")
        #expect(proxy.connector.channels.isEmpty, "never reaches an instance")
        #expect(proxy.client.isActive)
    }

    @Test func allowedNetworkReachesTheInstance() throws {
        let proxy = try EmbeddedProxy(table: Self.table { $0.restrict = [PathRestriction(paths: ["/admin"], allow: ["10.0.0.0/8"])] })
        try proxy.send("GET /admin HTTP/1.1\r\nHost: web\r\n\r\n")
        let up = try #require(proxy.connector.channels.last)
        #expect(try EmbeddedProxy.drain(up.channel).hasPrefix("GET /admin HTTP/1.1"))
    }
}
