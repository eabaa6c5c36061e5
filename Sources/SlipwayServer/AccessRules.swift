import HTTPTypes
import SlipwayCore

/// Who may call which API route: the one table the auth middleware consults. A route
/// without a rule here is refused to everyone (and fails `AccessRulesTests`, which walks
/// the router's own route list).
struct AccessRule: Sendable {
    /// `METHOD /path/{param}` exactly as Hummingbird names the endpoint.
    let route: String
    /// The least role that may call it; nil: no token needed (liveness only).
    let role: Role?
    /// Audit action name for routes that change something; nil for reads.
    let audit: String?
    /// Whether the target belongs to an environment (a token limited to environments
    /// may act only inside them): the `{name}` unit's environment (`web@production`), or
    /// the `env` query parameter. A service without environments belongs to none, so
    /// such tokens may only read it.
    let environmentScoped: Bool
    /// The target's environment is the `env` query parameter (secrets); otherwise the
    /// target belongs to no environment.
    let environmentFromQuery: Bool

    init(_ route: String, _ role: Role?, audit: String? = nil, environmentScoped: Bool = false, environmentFromQuery: Bool = false) {
        self.route = route
        self.role = role
        self.audit = audit
        self.environmentScoped = environmentScoped || environmentFromQuery
        self.environmentFromQuery = environmentFromQuery
    }
}

enum AccessRules {
    static let all: [AccessRule] = [
        AccessRule("GET /healthz", nil),
        AccessRule("GET /metrics", .viewer),
        // The dashboard's files hold no data; logging in and out need no token (failed
        // logins count in the same limiter); everything the page shows comes from the
        // routes below, behind their rules, with the session cookie as the token.
        AccessRule("GET /", nil),
        AccessRule("GET /dashboard", nil),
        AccessRule("GET /dashboard/app.js", nil),
        AccessRule("GET /dashboard/app.css", nil),
        AccessRule("POST /dashboard/login", nil),
        AccessRule("POST /dashboard/logout", nil),
        AccessRule("GET /dashboard/session", .viewer),
        AccessRule("GET /v1/stream", .viewer),
        AccessRule("GET /v1/whoami", .viewer),
        AccessRule("GET /v1/openapi.json", .viewer),
        AccessRule("GET /v1/services", .viewer),
        AccessRule("PUT /v1/services", .deployer, audit: "config.apply", environmentScoped: true),
        AccessRule("POST /v1/plan", .deployer, audit: "config.plan"),
        AccessRule("GET /v1/services/{name}", .viewer),
        AccessRule("POST /v1/services/{name}/deploy", .deployer, audit: "rollout.deploy", environmentScoped: true),
        AccessRule("POST /v1/services/{name}/rollback", .deployer, audit: "rollout.rollback", environmentScoped: true),
        AccessRule("POST /v1/services/{name}/promote", .deployer, audit: "rollout.promote", environmentScoped: true),
        AccessRule("POST /v1/services/{name}/pause", .deployer, audit: "rollout.pause", environmentScoped: true),
        AccessRule("POST /v1/services/{name}/resume", .deployer, audit: "rollout.resume", environmentScoped: true),
        AccessRule("POST /v1/services/{name}/abort", .deployer, audit: "rollout.abort", environmentScoped: true),
        AccessRule("POST /v1/services/{name}/retry", .deployer, audit: "rollout.retry", environmentScoped: true),
        AccessRule("GET /v1/services/{name}/why", .viewer),
        AccessRule("GET /v1/services/{name}/rollouts", .viewer),
        AccessRule("GET /v1/services/{name}/events", .viewer),
        AccessRule("GET /v1/services/{name}/stats", .viewer),
        AccessRule("GET /v1/services/{name}/logs", .viewer),
        AccessRule("GET /v1/rollouts/{id}", .viewer),
        AccessRule("GET /v1/report", .viewer),
        AccessRule("GET /v1/backup", .admin, audit: "state.backup"),
        AccessRule("GET /v1/services/{name}/verifications", .viewer),
        AccessRule("GET /v1/services/{name}/backups", .viewer),
        // Overwrites a live database (after backing it up): admins only.
        AccessRule("POST /v1/backups/{id}/restore", .admin, audit: "database.restore_request"),
        AccessRule("GET /v1/notifications", .viewer),
        AccessRule("GET /v1/alerts", .viewer),
        AccessRule("GET /v1/servers", .viewer),
        AccessRule("GET /v1/system", .viewer),
        // Copies and starts this build on every server over SSH: admins only.
        AccessRule("POST /v1/servers/setup", .admin, audit: "servers.setup"),
        AccessRule("POST /v1/releases", .deployer, audit: "release.create"),
        AccessRule("GET /v1/releases/{name}", .viewer),
        AccessRule("GET /v1/releases/{name}/{version}", .viewer),
        AccessRule("POST /v1/services/{name}/gates", .deployer, audit: "gates.check", environmentScoped: true),
        AccessRule("POST /v1/services/{name}/approve", .approver, audit: "rollout.approve", environmentScoped: true),
        AccessRule("POST /v1/services/{name}/reject", .approver, audit: "rollout.reject", environmentScoped: true),
        AccessRule("GET /v1/services/{name}/secrets", .deployer, environmentFromQuery: true),
        AccessRule("PUT /v1/services/{name}/secrets/{secret}", .deployer, audit: "secret.set", environmentFromQuery: true),
        AccessRule("DELETE /v1/services/{name}/secrets/{secret}", .deployer, audit: "secret.remove", environmentFromQuery: true),
        AccessRule("POST /v1/secrets/rotate-key", .admin, audit: "secrets.rotate_key"),
        AccessRule("GET /v1/tokens", .admin),
        AccessRule("POST /v1/tokens", .admin, audit: "token.create"),
        AccessRule("DELETE /v1/tokens/{name}", .admin, audit: "token.revoke"),
        AccessRule("GET /v1/audit", .admin),
        AccessRule("GET /v1/audit/verify", .admin),
        AccessRule("POST /v1/router/upgrade", .admin, audit: "router.upgrade"),
        AccessRule("POST /v1/shutdown", .admin, audit: "server.shutdown"),
    ]

    static let byRoute: [String: AccessRule] = Dictionary(uniqueKeysWithValues: all.map { ($0.route, $0) })

    /// The rule for a matched endpoint. Unmatched paths (404s) need a viewer token, so
    /// the API's shape is not revealed to anonymous clients.
    static func rule(method: HTTPRequest.Method, endpoint: String?) -> AccessRule? {
        guard let endpoint, endpoint != "NotFound" else { return AccessRule("\(method) NotFound", .viewer) }
        return byRoute["\(method) \(endpoint)"]
    }
}
