import NIOHTTP1
import Testing
@testable import SlipwayRouter

@Suite struct ProxyHeadersTests {
    @Test func requestHeadersAreRewritten() {
        var head = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/", headers: [
            "Host": "example.com", "Connection": "keep-alive, X-Secret", "X-Secret": "1", "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "x", "TE": "trailers", "Upgrade": "h2c", "X-Forwarded-For": "1.1.1.1",
        ])
        var rng = FastRandom(seed: 1)
        let id = ProxyHeaders.prepareRequest(&head, clientIP: "10.0.0.1", random: &rng)
        #expect(id.utf8.count == 15)
        #expect(head.headers["X-Request-Id"] == [id])
        #expect(head.headers["X-Forwarded-For"] == ["1.1.1.1, 10.0.0.1"])
        #expect(head.headers["X-Forwarded-Proto"] == ["http"])
        #expect(head.headers["Host"] == ["example.com"])
        for name in ["connection", "x-secret", "keep-alive", "proxy-authorization", "te", "upgrade"] {
            #expect(!head.headers.contains(name: name), "\(name) should be removed")
        }
        #expect(head.version == .http1_1)
    }

    /// Found by fuzzing: an empty X-Forwarded-For from the client stayed beside the router's.
    @Test func anEmptyForwardedForIsReplacedByOneHeader() {
        for value in ["", " ", ","] {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["X-Forwarded-For": value])
            var rng = FastRandom(seed: 1)
            _ = ProxyHeaders.prepareRequest(&head, clientIP: "10.0.0.1", random: &rng)
            #expect(head.headers["X-Forwarded-For"] == ["10.0.0.1"], "client sent \(value.debugDescription)")
        }
    }

    @Test func clientRequestIDIsKept() {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["X-Request-Id": "abc"])
        var rng = FastRandom(seed: 1)
        #expect(ProxyHeaders.prepareRequest(&head, clientIP: "1.2.3.4", random: &rng) == "abc")
        #expect(head.headers["X-Request-Id"] == ["abc"])
    }

    @Test func responseForHTTP10ClientDropsChunkingAndCloses() {
        var head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Transfer-Encoding": "chunked", "Connection": "keep-alive"])
        let close = ProxyHeaders.prepareResponse(&head, requestID: "r1", clientVersion: .http1_0, clientKeepAlive: true)
        #expect(close)
        #expect(head.version == .http1_0)
        #expect(!head.headers.contains(name: "transfer-encoding"))
        #expect(head.headers["X-Request-Id"] == ["r1"])
    }

    @Test func responseKeepsAliveForHTTP11() {
        var head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])
        #expect(!ProxyHeaders.prepareResponse(&head, requestID: "r1", clientVersion: .http1_1, clientKeepAlive: true))
        #expect(!head.headers.contains(name: "connection"))
        var closing = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])
        #expect(ProxyHeaders.prepareResponse(&closing, requestID: "r1", clientVersion: .http1_1, clientKeepAlive: false))
        #expect(closing.headers["Connection"] == ["close"])
    }
}
