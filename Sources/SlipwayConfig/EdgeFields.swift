import Foundation
import SlipwayCore
import SlipwayTLS
import Yams

/// `tls:`, `headers:`, `rate_limit:` and `restrict:` in slipway.yml: what the router does
/// at the service's edge.
extension ServiceFields {
    static var tls: ObjectType<TLSSpec> {
        ObjectType(
            doc: "The router terminates TLS on `listen` with these PEM files; every service on the same listen address must name the same files.",
            initial: TLSSpec(cert: "", key: ""),
            fields: [
                Field("cert", filePath, \.cert, required: true,
                      doc: "The certificate chain (PEM, leaf first), relative to the config file's directory."),
                Field("key", filePath, \.key, required: true,
                      doc: "The leaf certificate's private key (PEM, unencrypted), relative to the config file's directory."),
            ]
        )
    }

    static var filePath: ValueType<String> {
        ValueType<String>.string.checked { $0.isEmpty ? "must not be empty" : nil }
    }

    static var headers: ObjectType<SecurityHeaders> {
        ObjectType(
            doc: "Security headers the router adds to every response of the service (proxied and its own error answers); a header the instance set itself is kept.",
            initial: SecurityHeaders(),
            fields: [
                Field("hsts", headerValue.checked(hstsProblem), \.hsts,
                      doc: "Strict-Transport-Security, e.g. \"max-age=31536000; includeSubDomains\"."),
                Field("csp", headerValue, \.csp,
                      doc: "Content-Security-Policy, e.g. \"default-src 'self'\"."),
                Field("content_type_options", oneOf(["nosniff"]), \.contentTypeOptions,
                      doc: "X-Content-Type-Options: nosniff."),
                Field("frame_options", oneOf(["DENY", "SAMEORIGIN"]), \.frameOptions,
                      doc: "X-Frame-Options: DENY or SAMEORIGIN."),
                Field("referrer_policy", headerValue.checked(referrerPolicyProblem), \.referrerPolicy,
                      doc: "Referrer-Policy, e.g. no-referrer or strict-origin-when-cross-origin."),
            ]
        )
    }

    static let referrerPolicies = [
        "no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin", "same-origin",
        "strict-origin", "strict-origin-when-cross-origin", "unsafe-url",
    ]

    /// A header value: printable ASCII (no line breaks, so it cannot inject headers), not empty.
    static var headerValue: ValueType<String> {
        ValueType<String>.string
            .schema(adding: [("pattern", .string("^[ -~]+$"))])
            .checked { value in
                if value.isEmpty { return "must not be empty" }
                if !value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) {
                    return "must be printable ASCII on one line (a header value cannot hold line breaks or control characters)"
                }
                return nil
            }
    }

    static func oneOf(_ values: [String]) -> ValueType<String> {
        ValueType<String>.string
            .schema(adding: [("enum", .array(values.map { .string($0) }))])
            .checked { values.contains($0) ? nil : unknownKeyMessage($0, allowed: values, noun: "value") }
    }

    static func hstsProblem(_ value: String) -> String? {
        let directives = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let maxAge = directives.first(where: { $0.hasPrefix("max-age=") }),
              let seconds = Int(maxAge.dropFirst("max-age=".count)), seconds >= 0 else {
            return "needs max-age=SECONDS, e.g. \"max-age=31536000; includeSubDomains\" (got \(quoted(value)))"
        }
        for directive in directives where directive != maxAge && directive != "includesubdomains" && directive != "preload" {
            return "unknown directive \(quoted(directive)); allowed: max-age=SECONDS, includeSubDomains, preload"
        }
        return nil
    }

    static func referrerPolicyProblem(_ value: String) -> String? {
        for token in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !referrerPolicies.contains(token) {
            return unknownKeyMessage(token, allowed: referrerPolicies, noun: "value")
        }
        return nil
    }

    static var rateLimit: ObjectType<RateLimitSpec> {
        ObjectType(
            doc: "A token bucket per client address (the TCP peer, never X-Forwarded-For): over the limit the router answers 429 with Retry-After.",
            initial: RateLimitSpec(perSecond: 1, burst: 1),
            fields: [
                Field("per_client", rate, \.perSecond, required: true,
                      doc: "Sustained requests per client address: COUNT/s, COUNT/m or COUNT/h (100/s, 600/m), from 1/h to 1000000/s."),
                Field("burst", .integer(in: 1...1_000_000), \.burst,
                      doc: "Requests a client may send at once after being idle (default: one second's worth, at least 1)."),
            ],
            check: { spec, scope in
                if !scope.isGiven("burst") { spec.burst = RateLimitSpec.defaultBurst(perSecond: spec.perSecond) }
            }
        )
    }

    static var rate: ValueType<Double> {
        let pattern = "^[0-9]+(\\.[0-9]+)?/[smh]$"
        return ValueType(schema: [("type", .string("string")), ("pattern", .string(pattern))], json: nil) { node, path, diagnostics in
            guard case .scalar(let scalar) = node, ScalarKind(node) == .string,
                  let value = RateLimitSpec.parseRate(scalar.string) else {
                diagnostics.typeMismatch(expected: "a rate such as 100/s, 600/m or 50/h", found: node, path)
                return nil
            }
            guard RateLimitSpec.perSecondRange.contains(value) else {
                diagnostics.error(at: node, path, "rate \(scalar.string) is outside what a limit can count: from 1/h to 1000000/s")
                return nil
            }
            return value
        }
    }

    static var restriction: ObjectType<PathRestriction> {
        ObjectType(
            doc: "Path prefixes only clients from `allow` may reach; others get 403.",
            initial: PathRestriction(paths: [], allow: []),
            fields: [
                Field("paths", .list(of: pathPrefix, nonEmpty: true), \.paths, required: true,
                      doc: "Path prefixes, matched on segment boundaries after percent-decoding and dot-segment removal (/admin matches /admin and /admin/x, not /administrator)."),
                Field("allow", .list(of: cidr), \.allow, required: true,
                      doc: "Client networks (CIDR) allowed to reach these paths; an empty list blocks them for everyone."),
            ]
        )
    }

    static var pathPrefix: ValueType<String> {
        ValueType<String>.string
            .schema(adding: [("pattern", .string("^/[^?#\\s]*$"))])
            .checked { path in
                guard path.hasPrefix("/") else { return "must start with / (got \(quoted(path)))" }
                if path.contains(where: { $0 == "?" || $0 == "#" || $0.isWhitespace }) {
                    return "is a path prefix and cannot hold a query, fragment or space (got \(quoted(path)))"
                }
                return nil
            }
    }
}

/// The certificate and key files of `tls:`: resolved against the config file's directory
/// and loaded, so a missing file, a non-PEM file or a key that does not belong to the
/// certificate is an error at the line of `cert:` or `key:`.
enum TLSFileCheck {
    static func resolveAndCheck(_ spec: inout ServiceSpec, root: Node, baseDirectory: String?, diagnostics: Diagnostics) {
        guard var tls = spec.tls else { return }
        if let baseDirectory {
            tls.cert = ConfigLoader.resolve(tls.cert, against: baseDirectory)
            tls.key = ConfigLoader.resolve(tls.key, against: baseDirectory)
            spec.tls = tls
        }
        guard let error = TLSFiles.check(cert: tls.cert, key: tls.key) else { return }
        let field = error.file == .certificate ? "cert" : "key"
        let node = root["tls"]?[field] ?? root["tls"] ?? root
        diagnostics.error(at: node, ConfigPath.root.key("tls").key(field), error.description)
    }
}
