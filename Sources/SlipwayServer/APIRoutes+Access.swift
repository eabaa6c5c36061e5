import Foundation
import Hummingbird
import SlipwayCore
import SlipwayStore

/// Tokens and the audit log (admin only; see AccessRules).
extension APIRoutes {
    static func addAccessRoutes(to v1: RouterGroup<APIRequestContext>, controller: Controller) {
        let store = controller.store
        v1.get("/tokens") { request, _ in
            let all = ["1", "true", "yes"].contains(request.uri.queryParameters.get("all") ?? "")
            return try store.tokens(includeRevoked: all)
        }
        v1.post("/tokens") { request, context -> EditedResponse<CreateTokenReply> in
            let body = try await request.decode(as: CreateTokenRequest.self, context: context)
            context.audit.target("token/\(body.name)")
            try PrincipalName.validate(body.name)
            let role = try Role.parse(body.role)
            context.audit.set("role", role.rawValue)
            let environments = body.environments ?? []
            for e in environments where !EnvironmentName.isValid(e) {
                throw APIError(.unprocessableContent, "environments: \"\(e)\" is not an environment name (letters, digits, '-' and '_')")
            }
            if !environments.isEmpty { context.audit.set("environments", environments.joined(separator: ",")) }
            let now = Date().timeIntervalSince1970
            var expiresAt: Double?
            if let text = body.expiresIn {
                guard let d = DurationText.parse(text), d > .zero else {
                    throw APIError(.unprocessableContent, "expiresIn: \"\(text)\" is not a positive duration such as 30d, 12h or 90m")
                }
                expiresAt = now + d.seconds
                context.audit.set("expires_at", String(Int(expiresAt!)))
            }
            let issued = try store.createToken(name: body.name, role: role, environments: environments, expiresAt: expiresAt,
                                               createdBy: try context.caller.name, now: now)
            context.audit.set("id", issued.record.id)
            return EditedResponse(status: .created, response: CreateTokenReply(token: issued.record, secret: issued.secret))
        }
        v1.delete("/tokens/:name") { _, context in
            let name = try context.parameters.require("name")
            let record = try store.revokeToken(name, by: try context.caller.name, now: Date().timeIntervalSince1970)
            context.audit.target("token/\(record.name)")
            context.audit.set("id", record.id)
            return record
        }
        v1.get("/audit") { request, _ in
            let q = request.uri.queryParameters
            let since = try q.get("since").map { text -> Double in
                guard let t = TimeArgument.parse(text, now: Date().timeIntervalSince1970) else {
                    throw APIError(.badRequest, "since: \"\(text)\" is neither a time (2026-11-22T10:00:00Z) nor a duration back from now (24h, 7d)")
                }
                return t
            }
            let after = try q.get("after").map { text -> Int64 in
                guard let n = Int64(text), n >= 0 else { throw APIError(.badRequest, "after must be an entry number (got \(text))") }
                return n
            } ?? 0
            let limitText = q.get("limit")
            let limit = try limitText.map { text -> Int in
                guard let n = Int(text), n > 0 else { throw APIError(.badRequest, "limit must be a positive number (got \(text))") }
                return min(n, 100_000)
            } ?? 1000
            if since == nil, after == 0, limitText != nil || q.get("tail") != nil {
                return try store.recentAuditEntries(limit: limit)
            }
            return try store.auditEntries(since: since, afterSeq: after, limit: limit)
        }
        v1.get("/audit/verify") { _, _ in try store.verifyAudit() }
    }
}

public struct CreateTokenRequest: Codable, Sendable {
    public var name: String
    public var role: String
    public var environments: [String]?
    /// A duration such as `30d`; nil: the token does not expire.
    public var expiresIn: String?
    public init(name: String, role: String, environments: [String]? = nil, expiresIn: String? = nil) {
        self.name = name
        self.role = role
        self.environments = environments
        self.expiresIn = expiresIn
    }
}

public struct CreateTokenReply: Codable, Sendable, ResponseEncodable {
    public var token: TokenRecord
    /// Shown once; the server keeps only its hash.
    public var secret: String
    public init(token: TokenRecord, secret: String) {
        self.token = token
        self.secret = secret
    }
}

extension TokenRecord: ResponseEncodable {}
extension Principal: ResponseEncodable {}
extension AuditEntry: ResponseEncodable {}
extension AuditVerification: ResponseEncodable {}

/// Who acts on this machine without a token (server start-up, `--state-dir` commands):
/// `user@host (what)`, recorded in the audit log.
public enum LocalOperator {
    public static func name(acting what: String) -> String {
        let env = ProcessInfo.processInfo.environment
        return "\(env["USER"] ?? env["LOGNAME"] ?? "uid \(getuid())")@\(ProcessInfo.processInfo.hostName) (\(what))"
    }
}

enum EnvironmentName {
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
    }
}

/// `--since` values: an ISO 8601 time or a duration back from now.
public enum TimeArgument {
    public static func parse(_ text: String, now: Double) -> Double? {
        if let d = DurationText.parse(text) { return now - d.seconds }
        let f = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate]] {
            f.formatOptions = options
            if let date = f.date(from: text) { return date.timeIntervalSince1970 }
        }
        return nil
    }
}

/// Failed authentications in the Prometheus text format, appended to `/metrics`.
enum AuthMetrics {
    static func render(_ totals: [String: Int]) -> String {
        var text = "# HELP slipway_api_auth_failures_total API requests refused for a missing, malformed, unknown, revoked or expired token.\n"
        text += "# TYPE slipway_api_auth_failures_total counter\n"
        for reason in ["missing", "malformed", "unknown", "revoked", "expired"] {
            text += "slipway_api_auth_failures_total{reason=\"\(reason)\"} \(totals[reason] ?? 0)\n"
        }
        return text
    }
}
