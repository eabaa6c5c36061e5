import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// The router edge through the real binaries: a service with `tls:` (relative paths),
/// `headers:` and `restrict:` served over HTTPS, refusals on /metrics, and a certificate
/// and key that do not match refused by `slipway validate` with the key's position.
@Suite(.serialized) struct EdgeE2ETests {
    /// curl over HTTP/1.1 (the router offers HTTP/2 by ALPN too; HTTP2Tests covers that).
    static func curl(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await runCommand("/usr/bin/env", ["curl", "-sS", "--max-time", "5", "-i", "--http1.1"] + arguments, timeout: .seconds(30))
    }

    @Test func httpsWithHeadersAndARestrictedPath() async throws {
        try await withHarness { h in
            let certs = try await TestCertificates.make(in: h.directory.path)
            let (config, port) = try h.helloConfig(replicas: 1, extra: """
                tls: { cert: cert.pem, key: key.pem }
                headers: { hsts: "max-age=600", frame_options: DENY }
                rate_limit: { per_client: 1000/s }
                restrict: [ { paths: [/admin], allow: [10.0.0.0/8] } ]
                """)
            try await h.startServer(configs: [config])
            let url = "https://127.0.0.1:\(port)/"
            let first = try await eventually("hello to answer over https") {
                let reply = try await Self.curl(["--cacert", certs.ca, url])
                return reply.stdout.hasPrefix("HTTP/1.1 200") ? reply.stdout : nil
            }
            let lower = first.lowercased()
            #expect(lower.contains("x-version: v1"), "\(first)")
            #expect(lower.contains("strict-transport-security: max-age=600"), "\(first)")
            #expect(lower.contains("x-frame-options: deny"), "\(first)")

            let refused = try await Self.curl(["--cacert", certs.ca, "https://127.0.0.1:\(port)/%61dmin/x"])
            #expect(refused.stdout.hasPrefix("HTTP/1.1 403"), "\(refused.stdout)")
            #expect(refused.stdout.lowercased().contains("strict-transport-security: max-age=600"))

            let metrics = try await h.api("/metrics")
            #expect(metrics.body.contains("slipway_forbidden_total{service=\"hello\"} 1"), "\(metrics.body)")
            #expect(metrics.body.contains("slipway_rate_limited_total{service=\"hello\"} 0"))

            // The status names the certificate and its expiry (the test CA signs for 2 days);
            // doctor warns: it ends within 14 days.
            let status = try decode(ServiceStatus.self, try await h.api("/v1/services/hello").body)
            let certificate = try #require(status.certificate)
            let remaining = (certificate.expiresAt ?? 0) - Date().timeIntervalSince1970
            #expect(certificate.path.hasSuffix("/cert.pem") && remaining > 86_400 && remaining <= 2 * 86_400 + 60, "\(certificate)")
            let doctor = try await h.cli(["doctor", "--state-dir", h.stateDir])
            #expect(doctor.stdout.contains("WARNING certificate of hello: ") && doctor.stdout.contains("cert.pem expires in 2.0 days"), "\(doctor.stdout)")

            // Another service on the same address without the same certificate is refused.
            let (plain, _) = try h.helloConfig(name: "plain", listenPort: port, replicas: 1, extra: "hosts: [plain.test]")
            let apply = try await h.cli(["apply", "-f", plain])
            #expect(apply.status == 1)
            #expect(apply.stderr.contains("service hello on 127.0.0.1:\(port) has tls cert "), "\(apply.stderr)")
            #expect(apply.stderr.contains("but plain asks for no tls"), "\(apply.stderr)")
        }
    }

    @Test func validateNamesTheKeyThatDoesNotMatchItsCertificate() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let certs = try await TestCertificates.make(in: dir.path)
        let file = try dir.write("web.yml", """
            service: web
            run: ["./web"]
            tls:
              cert: cert.pem
              key: other-key.pem
            """)
        let r = try await runCommand(try BuiltProducts.path("slipway"), ["validate", file])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(file):5:8: tls.key: the private key in "), "\(r.stderr)")
        #expect(r.stderr.contains("other-key.pem does not belong to the certificate in "), "\(r.stderr)")
        _ = certs
    }
}
