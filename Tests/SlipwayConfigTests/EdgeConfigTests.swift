import Foundation
@testable import SlipwayConfig
import SlipwayCore
import SlipwayTesting
import Testing

/// `tls:`, `headers:`, `rate_limit:` and `restrict:`: what parses, and the precise error
/// (line, column, field) for what does not, including TLS files that do not load.
@Suite struct EdgeConfigTests {
    @Test func fullEdgeParses() throws {
        let spec = try ConfigLoader.parse(minimal + """
            headers: { hsts: "max-age=31536000; includeSubDomains", csp: "default-src 'self'", content_type_options: nosniff, frame_options: DENY, referrer_policy: no-referrer }
            rate_limit: { per_client: 100/s, burst: 200 }
            restrict:
              - { paths: [/metrics, /admin], allow: [10.0.0.0/8, 127.0.0.1/32] }
            """, fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.headers == SecurityHeaders(hsts: "max-age=31536000; includeSubDomains", csp: "default-src 'self'", contentTypeOptions: "nosniff", frameOptions: "DENY", referrerPolicy: "no-referrer"))
        #expect(spec.rateLimit == RateLimitSpec(perSecond: 100, burst: 200))
        #expect(spec.restrict == [PathRestriction(paths: ["/metrics", "/admin"], allow: ["10.0.0.0/8", "127.0.0.1/32"])])
        #expect(spec.tls == nil)
        // The spec survives the JSON the CLI sends to the server.
        let decoded = try JSONDecoder().decode(ServiceSpec.self, from: JSONEncoder().encode(spec))
        #expect(decoded == spec)
    }

    @Test func rateUnitsAndTheDefaultBurst() throws {
        func limit(_ text: String) throws -> RateLimitSpec? {
            try ConfigLoader.parse(minimal + "rate_limit: \(text)\n", fileName: "slipway.yml", baseDirectory: nil).rateLimit
        }
        #expect(try limit("{ per_client: 10/s }") == RateLimitSpec(perSecond: 10, burst: 10))
        #expect(try limit("{ per_client: 600/m }") == RateLimitSpec(perSecond: 10, burst: 10))
        #expect(try limit("{ per_client: 60/h }") == RateLimitSpec(perSecond: 1.0 / 60, burst: 1))
        #expect(try limit("{ per_client: 2.5/s, burst: 1 }") == RateLimitSpec(perSecond: 2.5, burst: 1))
        // The ends of the range.
        #expect(try limit("{ per_client: 1/h }") == RateLimitSpec(perSecond: 1.0 / 3600, burst: 1))
        #expect(try limit("{ per_client: 1000000/s }") == RateLimitSpec(perSecond: 1_000_000, burst: 1_000_000))
    }

    @Test func badEdgeValuesNameTheField() {
        #expect(singleError(minimal + "rate_limit: { per_client: 100 }\n")
                == "3:27: rate_limit.per_client: expected a rate such as 100/s, 600/m or 50/h, got the integer 100")
        #expect(singleError(minimal + "rate_limit: { per_client: 100/d }\n")
                == "3:27: rate_limit.per_client: expected a rate such as 100/s, 600/m or 50/h, got the string \"100/d\"")
        // Rates beyond what the limiter can count were accepted and crashed the control
        // plane working out the default burst (Int of 1e23) or the router on its first 429.
        #expect(singleError(minimal + "rate_limit: { per_client: 99999999999999999999999/s }\n")
                == "3:27: rate_limit.per_client: rate 99999999999999999999999/s is outside what a limit can count: from 1/h to 1000000/s")
        #expect(singleError(minimal + "rate_limit: { per_client: 0.00000000001/s }\n")
                == "3:27: rate_limit.per_client: rate 0.00000000001/s is outside what a limit can count: from 1/h to 1000000/s")
        #expect(singleError(minimal + "rate_limit: { per_client: 0.5/h }\n")
                == "3:27: rate_limit.per_client: rate 0.5/h is outside what a limit can count: from 1/h to 1000000/s")
        #expect(singleError(minimal + "rate_limit: { per_client: 5/s, burst: 0 }\n")
                == "3:39: rate_limit.burst: must be between 1 and 1000000 (got 0)")
        #expect(singleError(minimal + "rate_limit: { burst: 5 }\n")
                == "3:13: rate_limit.per_client: `rate_limit` lacks the required key `per_client`")
        #expect(singleError(minimal + "headers: { frame_options: deny }\n")
                == "3:27: headers.frame_options: unknown value `deny`; did you mean `DENY`?")
        #expect(singleError(minimal + "headers: { hsts: \"31536000\" }\n")
                == "3:18: headers.hsts: needs max-age=SECONDS, e.g. \"max-age=31536000; includeSubDomains\" (got \"31536000\")")
        #expect(singleError(minimal + "headers: { referrer_policy: no-referer }\n")
                == "3:29: headers.referrer_policy: unknown value `no-referer`; did you mean `no-referrer`?")
        #expect(singleError(minimal + "headers: { csp: \"a\\r\\nSet-Cookie: x=1\" }\n")
                == "3:17: headers.csp: must be printable ASCII on one line (a header value cannot hold line breaks or control characters)")
        #expect(singleError(minimal + "headers: { x_frame: DENY }\n")
                == "3:12: headers.x_frame: unknown key `x_frame`; allowed: `hsts`, `csp`, `content_type_options`, `frame_options`, `referrer_policy`")
        #expect(singleError(minimal + "restrict: [ { paths: [admin], allow: [10.0.0.0/8] } ]\n")
                == "3:23: restrict[0].paths[0]: must start with / (got \"admin\")")
        #expect(singleError(minimal + "restrict: [ { paths: [/admin], allow: [10.0.0.0/33] } ]\n")
                == "3:40: restrict[0].allow[0]: \"10.0.0.0/33\" is not a network in CIDR notation (such as 127.0.0.0/8, 10.0.0.0/8 or ::1/128)")
        #expect(singleError(minimal + "restrict: [ { paths: [/admin] } ]\n")
                == "3:13: restrict[0].allow: `restrict[0]` lacks the required key `allow`")
    }

    // MARK: TLS files

    static func withCertificates(_ body: (TemporaryDirectory, TestCertificates) throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let certs = try await TestCertificates.make(in: directory.path)
        try body(directory, certs)
    }

    static func errors(_ yaml: String, in directory: TemporaryDirectory) throws -> [String] {
        let file = try directory.write("slipway.yml", yaml)
        do {
            _ = try ConfigLoader.load(file: file)
            return []
        } catch {
            return error.errors.map { "\($0.line):\($0.column): \($0.path): \($0.message)" }
        }
    }

    @Test func tlsPathsResolveAgainstTheConfigDirectory() async throws {
        try await Self.withCertificates { directory, certs in
            let file = try directory.write("slipway.yml", minimal + "tls: { cert: cert.pem, key: ./key.pem }\n")
            let spec = try ConfigLoader.load(file: file)
            let base = URL(fileURLWithPath: directory.path).standardizedFileURL.path
            #expect(spec.tls == TLSSpec(cert: base + "/cert.pem", key: base + "/key.pem"))
            _ = certs
        }
    }

    @Test func tlsFileProblemsAreErrorsAtTheirKey() async throws {
        try await Self.withCertificates { directory, certs in
            let base = URL(fileURLWithPath: directory.path).standardizedFileURL.path
            #expect(try Self.errors(minimal + "tls: { cert: missing.pem, key: key.pem }\n", in: directory)
                    == ["3:14: tls.cert: cannot read the certificate file \(base)/missing.pem: No such file or directory"])
            #expect(try Self.errors(minimal + "tls:\n  cert: cert.pem\n  key: nokey.pem\n", in: directory)
                    == ["5:8: tls.key: cannot read the private key file \(base)/nokey.pem: No such file or directory"])
            _ = try directory.write("junk.pem", "hello\n")
            #expect(try Self.errors(minimal + "tls: { cert: junk.pem, key: key.pem }\n", in: directory)
                    == ["3:14: tls.cert: \(base)/junk.pem holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"])
            let keyIsCert = try Self.errors(minimal + "tls: { cert: cert.pem, key: cert.pem }\n", in: directory)
            #expect(keyIsCert
                    == ["3:29: tls.key: \(base)/cert.pem holds no unencrypted PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN EC/RSA PRIVATE KEY-----)"])
            #expect(try Self.errors(minimal + "tls: { cert: cert.pem, key: other-key.pem }\n", in: directory)
                    == ["3:29: tls.key: the private key in \(base)/other-key.pem does not belong to the certificate in \(base)/cert.pem"])
            let noKey = try Self.errors(minimal + "tls: { cert: cert.pem }\n", in: directory)
            #expect(noKey
                    == ["3:6: tls.key: `tls` lacks the required key `key`"])
            #expect(try Self.errors(minimal + "tls: { cert: cert.pem, key: key.pem }\n", in: directory).isEmpty)
            _ = certs
        }
    }
}
