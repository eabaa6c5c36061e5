import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import SlipwayServer

/// Routes whose body may be left out read an absent or blank body as the defaults, and
/// refuse any other body that does not decode: a mistyped or malformed body must never be
/// acted on as if it were empty (`{"to": 3}` rolling back to the previous release).
@Suite struct RequestBodyTests {
    @Test func anOptionalBodyThatDoesNotDecodeIsRefusedNotIgnored() async throws {
        let (f, _) = try AccessRulesTests.fixture()
        defer { f.directory.remove() }
        let app = Application(router: f.router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let admin = AccessRulesTests.bearer(f.tokens[.admin]!)
        try await app.test(.live) { client in
            func post(_ uri: String, _ body: String?) async throws -> (HTTPResponse.Status, String) {
                let response = try await client.execute(uri: uri, method: .post, headers: admin, body: body.map { ByteBuffer(string: $0) })
                return (response.status, String(buffer: response.body))
            }
            for (uri, body) in [("/v1/services/nosuch/rollback", #"{"to": 3}"#), ("/v1/services/nosuch/rollback", #"{"to": "v1""#),
                                ("/v1/services/nosuch/pause", #"{"by": ["me"]}"#), ("/v1/services/nosuch/promote", #"{"full": "yes"}"#),
                                ("/v1/services/nosuch/approve", #"{"comment": 1}"#), ("/v1/shutdown", #"{"dataPlane": "yes"}"#),
                                ("/v1/secrets/rotate-key", #"{"newKey": false}"#), ("/v1/services/nosuch/retry", "null x")] {
                let (status, text) = try await post(uri, body)
                #expect(status == .badRequest, "\(uri) with \(body): \(status) \(text)")
            }
            // Absent, blank and empty-object bodies take the defaults: the route goes on
            // and finds no such service.
            for body in [nil, "", " \n", "{}"] as [String?] {
                let (status, text) = try await post("/v1/services/nosuch/rollback", body)
                #expect(status == .notFound, "\(body.debugDescription): \(status) \(text)")
            }
        }
    }
}
