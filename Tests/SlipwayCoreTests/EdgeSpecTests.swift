import Foundation
import SlipwayCore
import Testing

/// The edge fields of `ServiceRoute` and `ServiceSpec` in JSON, and the rate text.
@Suite struct EdgeSpecTests {
    @Test func tablesWithoutEdgeKeysStillLoad() throws {
        let json = #"{"generation":3,"services":[{"service":"web","listen":"127.0.0.1:8080","groups":[{"version":"v1","weight":100,"endpoints":[]}]}]}"#
        let table = try JSONDecoder().decode(RouteTable.self, from: Data(json.utf8))
        let route = try #require(table.services.first)
        #expect(route.tls == nil)
        #expect(route.headers == nil)
        #expect(route.rateLimit == nil)
        #expect(route.restrict == nil)
    }

    /// A port NIO cannot hold (found by fuzzing: the router trapped compiling the table) is
    /// refused with the table, naming the endpoint; ports 0–65535 load.
    @Test func anEndpointPortBeyond65535IsRefused() throws {
        func table(port: Int) -> Data {
            Data(#"{"generation":1,"services":[{"service":"web","listen":"127.0.0.1:8080","groups":[{"version":"v1","weight":100,"endpoints":[{"id":"v1-a","host":"127.0.0.1","port":\#(port)}]}]}]}"#.utf8)
        }
        let error = try #require(throws: DecodingError.self) { try JSONDecoder().decode(RouteTable.self, from: table(port: 92003)) }
        #expect("\(error)".contains("endpoint v1-a: port 92003 is not between 0 and 65535"), "\(error)")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RouteTable.self, from: table(port: -1)) }
        #expect(try JSONDecoder().decode(RouteTable.self, from: table(port: 65535)).services[0].groups[0].endpoints[0].port == 65535)
    }

    /// The export headers a table carries (OTEL_EXPORTER_OTLP_HEADERS of the control plane)
    /// become headers of the router's requests: a name that is not a token or a value with
    /// CR, LF or another control character refuses the table.
    @Test func traceExportHeadersAreRefusedWhenTheyCouldSplitARequest() throws {
        func table(_ headers: String) -> Data {
            Data(#"{"generation":1,"services":[],"tracesURL":"http://127.0.0.1:4318/v1/traces","tracesHeaders":\#(headers)}"#.utf8)
        }
        let good = try JSONDecoder().decode(RouteTable.self, from: table(#"{"x-key":"a b\tc"}"#))
        #expect(good.tracesHeaders == ["x-key": "a b\tc"])
        #expect(try JSONDecoder().decode(RouteTable.self, from: JSONEncoder().encode(good)) == good)
        for bad in [#"{"x-key":"a\r\nInjected: 1"}"#, #"{"x key":"v"}"#, #"{"":"v"}"#, #"{"x":"\u0000"}"#] {
            let error = try #require(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(RouteTable.self, from: table(bad)) }
            #expect("\(error)".contains("tracesHeaders"), "\(error)")
        }
    }

    @Test func edgeFieldsRoundTrip() throws {
        let route = ServiceRoute(service: "web", listen: ListenAddress(host: "0.0.0.0", port: 8443), groups: [],
                                 tls: TLSSpec(cert: "/c.pem", key: "/k.pem"), headers: SecurityHeaders(hsts: "max-age=60", frameOptions: "DENY"),
                                 rateLimit: RateLimitSpec(perSecond: 100, burst: 200), restrict: [PathRestriction(paths: ["/admin"], allow: ["10.0.0.0/8"])])
        let decoded = try JSONDecoder().decode(ServiceRoute.self, from: JSONEncoder().encode(route))
        #expect(decoded == route)
        #expect(route.headers?.fields.map(\.name) == ["Strict-Transport-Security", "X-Frame-Options"])
    }

    @Test func rateText() {
        #expect(RateLimitSpec.parseRate("100/s") == 100)
        #expect(RateLimitSpec.parseRate("600/m") == 10)
        #expect(RateLimitSpec.parseRate("36/h") == 0.01)
        #expect(RateLimitSpec.parseRate("0/s") == nil)
        #expect(RateLimitSpec.parseRate("-1/s") == nil)
        #expect(RateLimitSpec.parseRate("10") == nil)
        #expect(RateLimitSpec.parseRate("10/d") == nil)
        #expect(RateLimitSpec(perSecond: 0.5).burst == 1)
        #expect(RateLimitSpec(perSecond: 100).burst == 100)
    }
}
