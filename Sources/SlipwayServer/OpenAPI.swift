import Foundation
import SlipwayCore
import SlipwayEvidence
import SlipwayStore

/// The REST API's OpenAPI 3.1 document, generated from the access rules (every route, its
/// method, the role it needs, whether it is audited) and the table below (what it is for,
/// its query parameters, its body and what it answers). Served at `GET /v1/openapi.json`
/// and committed as `docs/openapi.json`; `OpenAPITests` fails when a route is missing
/// from it, when it documents a route the router does not have, or when the committed
/// copy is out of date.
public enum OpenAPI {
    /// What a route answers on success.
    enum Answer {
        case json(String)
        case text(String)
        case bytes(String)
        case empty
    }

    struct Doc: Sendable {
        let summary: String
        var query: [(name: String, description: String)] = []
        /// Whether the route reads a JSON body.
        var body: String? = nil
        var answer: Answer = .json("application/json")
        var status = 200
        /// Refusals beyond the common ones (`status`: why).
        var errors: [Int: String] = [:]
        /// The type a JSON answer decodes as (the CLI's): its schema is recorded from it
        /// (`JSONSchemaRecorder`).
        var returns: (any (Codable & Sendable).Type)? = nil
        /// Another success status with the same answer (201 when something was created,
        /// 200 when it already was as asked).
        var alsoStatus: Int? = nil
    }

    /// One line per route (keyed like `AccessRules`).
    static let docs: [String: Doc] = [
        "GET /healthz": Doc(summary: "Liveness of the control plane (no token).", returns: LivenessReply.self),
        "GET /metrics": Doc(summary: "Prometheus exposition of every service's per-version numbers, the fleet's servers and the control plane.", answer: .text("text/plain; version=0.0.4")),
        "GET /": Doc(summary: "The dashboard (redirects to /dashboard).", answer: .text("text/html")),
        "GET /dashboard": Doc(summary: "The dashboard page.", answer: .text("text/html")),
        "GET /dashboard/app.js": Doc(summary: "The dashboard's script.", answer: .text("text/javascript")),
        "GET /dashboard/app.css": Doc(summary: "The dashboard's style sheet.", answer: .text("text/css")),
        "POST /dashboard/login": Doc(summary: "Exchanges a token (JSON `{\"token\": …}`) for the dashboard's session cookie; answers who it is and the CSRF value.", body: "DashboardLoginRequest",
                                     errors: [401: "The token is unknown, revoked or expired.", 415: "The body is not JSON (a cross-site form cannot send JSON without a preflight)."], returns: DashboardSessionReply.self),
        "POST /dashboard/logout": Doc(summary: "Ends the dashboard session (clears its cookie).", answer: .empty, status: 204),
        "GET /dashboard/session": Doc(summary: "Who the dashboard session belongs to.", returns: DashboardSessionReply.self),
        "GET /v1/stream": Doc(summary: "Server-sent events: a status snapshot of every service, then one per change.", query: [("once", "1: answer one snapshot and end")], answer: .text("text/event-stream")),
        "GET /v1/whoami": Doc(summary: "The caller's token name, role and environments.", returns: Principal.self),
        "GET /v1/services": Doc(summary: "Status of every service.", returns: [ServiceStatus].self),
        "PUT /v1/services": Doc(summary: "Applies a slipway.yml (the file's text and path); answers each service's config version (201 when a version changed, 200 when none did).", body: "ApplyRequest", returns: [Controller.ApplyResult].self, alsoStatus: 201),
        "POST /v1/plan": Doc(summary: "What applying a slipway.yml would change, without changing anything: each unit's changed settings (old → new, sensitive values hidden) and when each takes effect, refusals, warnings, and gates the newest release would fail.", body: "ApplyRequest", returns: [Controller.UnitPlan].self),
        "GET /v1/services/{name}": Doc(summary: "One service's status: releases, instances, the active rollout.", returns: ServiceStatus.self),
        "POST /v1/services/{name}/deploy": Doc(summary: "Starts a deploy of a version (blue-green, canary or rolling as configured).", body: "DeployRequest", status: 201, returns: RolloutRecord.self),
        "POST /v1/services/{name}/rollback": Doc(summary: "Puts traffic back on the previous (or a named) release.", body: "RollbackRequest", status: 201, returns: RolloutRecord.self),
        "POST /v1/services/{name}/promote": Doc(summary: "Skips the current wait of the active rollout (analysis, canary step).", body: "CommandRequest", returns: RolloutRecord.self),
        "POST /v1/services/{name}/pause": Doc(summary: "Pauses the active rollout.", body: "CommandRequest", returns: RolloutRecord.self),
        "POST /v1/services/{name}/resume": Doc(summary: "Resumes a paused rollout.", body: "CommandRequest", returns: RolloutRecord.self),
        "POST /v1/services/{name}/abort": Doc(summary: "Aborts the active rollout (traffic goes back to the stable release).", body: "CommandRequest", returns: RolloutRecord.self),
        "POST /v1/services/{name}/retry": Doc(summary: "Runs the last failed rollout again.", body: "CommandRequest", status: 201, returns: RolloutRecord.self),
        "GET /v1/services/{name}/why": Doc(summary: "The decisions of a rollout (the latest, or `rollout`) with the data behind each.", query: [("rollout", "rollout id")], returns: RolloutExplanation.self),
        "GET /v1/services/{name}/rollouts": Doc(summary: "The service's rollouts, newest first.", query: [("limit", "1-1000, default 50")], returns: [RolloutRecord].self),
        "GET /v1/services/{name}/events": Doc(summary: "The service's events, newest first.", query: [("limit", "1-10000, default 100")], returns: [RolloutEventRecord].self),
        "GET /v1/services/{name}/stats": Doc(summary: "Per-version numbers over a window.", query: [("window", "a duration, default 60s")], returns: [VersionStats].self),
        "GET /v1/services/{name}/logs": Doc(summary: "Instance output.", query: [("version", "only this release"), ("tail", "lines per instance"), ("follow", "1: stream new lines")], answer: .text("text/plain")),
        "GET /v1/rollouts/{id}": Doc(summary: "One rollout with its events.", returns: RolloutRecord.self),
        "GET /v1/report": Doc(summary: "DORA delivery report.", query: [("since", "a duration, default 30d"), ("env", "one environment"), ("service", "one service")], returns: DeliveryReport.self),
        "GET /v1/backup": Doc(summary: "A consistent copy of the state database.", answer: .bytes("application/vnd.sqlite3")),
        "GET /v1/services/{name}/verifications": Doc(summary: "The service's post-deploy checks (`verify:`), newest rollout first, each with its status, outcome and what followed a failure.", query: [("limit", "at most this many (default 100, at most 1000)")], returns: [VerificationRecord].self),
        "GET /v1/services/{name}/backups": Doc(summary: "The service's database backups.", returns: [DatabaseBackupRecord].self),
        "POST /v1/backups/{id}/restore": Doc(summary: "Restores a database backup (after a safety backup).", returns: DatabaseRestoreResult.self),
        "GET /v1/notifications": Doc(summary: "The notification outbox.", query: [("status", "pending, delivered or failed"), ("limit", "1-1000"), ("service", "one service")], returns: [NotificationView].self),
        "GET /v1/alerts": Doc(summary: "Alert rules and their state.", query: [("service", "one service")], returns: [AlertStatus].self),
        "GET /v1/system": Doc(summary: "The control plane itself, for `slipway doctor`: its clock, the API's certificate, the scheduled state backups (last success, last failure) and, when a service runs containers here, the container engine.", returns: SystemStatus.self),
        "GET /v1/servers": Doc(summary: "Every fleet server: router version, skew, health, last contact.", query: [("server", "one server")], returns: [FleetServer.Status].self),
        "POST /v1/servers/setup": Doc(summary: "Installs this build on the fleet's servers and starts their routers.", query: [("server", "only this server")], returns: [ServerSetupResult].self),
        "POST /v1/releases": Doc(summary: "Records a release (and its CI evidence) without deploying it.", body: "ReleaseRequest", status: 201, returns: ReleaseManifest.self),
        "GET /v1/releases/{name}": Doc(summary: "The service's releases.", returns: [ReleaseManifest].self),
        "GET /v1/releases/{name}/{version}": Doc(summary: "One release with its artifacts and evidence.", returns: ReleaseManifest.self),
        "POST /v1/services/{name}/gates": Doc(summary: "Checks the environment's gates for a version without deploying.", body: "GateCheckRequest", returns: Controller.GateReport.self),
        "POST /v1/services/{name}/approve": Doc(summary: "Approves the rollout waiting for approval.", body: "VoteRequest", returns: RolloutRecord.self),
        "POST /v1/services/{name}/reject": Doc(summary: "Rejects the rollout waiting for approval.", body: "VoteRequest", returns: RolloutRecord.self),
        "GET /v1/services/{name}/secrets": Doc(summary: "The service's secret names (never values).", query: [("env", "the environment")], returns: [SecretInfo].self),
        "PUT /v1/services/{name}/secrets/{secret}": Doc(summary: "Sets a secret (encrypted at rest); 201 for a new secret, 200 for a new version of one.", query: [("env", "the environment")], body: "SecretSetRequest", returns: SecretInfo.self, alsoStatus: 201),
        "DELETE /v1/services/{name}/secrets/{secret}": Doc(summary: "Removes a secret.", query: [("env", "the environment"), ("by", "who")], answer: .empty, status: 204),
        "POST /v1/secrets/rotate-key": Doc(summary: "Re-encrypts every secret under a new master key.", body: "RotateKeyRequest", returns: Controller.RotateKeyResult.self),
        "GET /v1/tokens": Doc(summary: "API tokens (names, roles, expiry; never secrets).", query: [("all", "1: revoked ones too")], returns: [TokenRecord].self),
        "POST /v1/tokens": Doc(summary: "Creates a token; its secret is answered once.", body: "CreateTokenRequest", status: 201, returns: CreateTokenReply.self),
        "DELETE /v1/tokens/{name}": Doc(summary: "Revokes a token.", returns: TokenRecord.self),
        "GET /v1/audit": Doc(summary: "The audit log.", query: [("since", "a time or a duration back"), ("after", "entry number"), ("limit", "entries")], returns: [AuditEntry].self),
        "GET /v1/audit/verify": Doc(summary: "Checks the audit log's hash chain.", returns: AuditVerification.self),
        "POST /v1/router/upgrade": Doc(summary: "Replaces the router with one of this build without a gap (socket hand-over).", returns: RouterUpgrade.self),
        "POST /v1/shutdown": Doc(summary: "Stops the control plane (and with data_plane, every instance and the router).", body: "ShutdownRequest", returns: LivenessReply.self),
        "GET /v1/openapi.json": Doc(summary: "This document."),
    ]

    /// Every route's `METHOD /path` (the access rules' list).
    static var routes: [String] { AccessRules.all.map(\.route) }

    /// The API's own version (the `/v1` of its paths), not the build's.
    public static let apiVersion = "1"

    static func document(version: String = apiVersion) -> [String: Any] {
        build(version: version).document
    }

    /// Answers whose schema could not be recorded from their type (`OpenAPITests` fails
    /// on any).
    static var responseSchemaProblems: [String] { build(version: apiVersion).problems }

    private static func recordedSchema<T: Decodable>(_ type: T.Type, _ recorder: JSONSchemaRecorder) throws -> [String: Any] {
        try recorder.schema(for: type).0
    }

    static func build(version: String) -> (document: [String: Any], problems: [String]) {
        let recorder = JSONSchemaRecorder()
        var problems: [String] = []
        var paths: [String: [String: Any]] = [:]
        for rule in AccessRules.all {
            let parts = rule.route.split(separator: " ", maxSplits: 1).map(String.init)
            let method = parts[0].lowercased(), path = parts[1]
            let doc = docs[rule.route] ?? Doc(summary: "")
            var operation: [String: Any] = [
                "operationId": operationID(method: method, path: path),
                "summary": doc.summary,
            ]
            var description = rule.role.map { "Needs a token of role \($0.rawValue) or above." } ?? "No token needed."
            if let audit = rule.audit { description += " Audited as `\(audit)`." }
            if rule.environmentScoped { description += " A token limited to environments may call it only for them." }
            operation["description"] = description
            if rule.role == nil { operation["security"] = [[String: Any]]() }
            var parameters: [[String: Any]] = []
            for name in pathParameters(path) {
                parameters.append(["name": name, "in": "path", "required": true, "schema": ["type": "string"]])
            }
            for (name, text) in doc.query {
                parameters.append(["name": name, "in": "query", "required": false, "description": text, "schema": ["type": "string"]])
            }
            if !parameters.isEmpty { operation["parameters"] = parameters }
            if let body = doc.body {
                operation["requestBody"] = ["required": !(bodies[body]?.optional ?? false),
                                            "content": ["application/json": ["schema": ["$ref": "#/components/schemas/\(body)"]]]]
            }
            var responses: [String: Any] = [:]
            switch doc.answer {
            case .json(let type):
                var schema: [String: Any] = [:]
                if let returns = doc.returns {
                    do { schema = try recordedSchema(returns, recorder) } catch { problems.append("\(rule.route): \(error)") }
                } else if rule.route == "GET /v1/openapi.json" {
                    schema = ["type": "object"]
                } else {
                    problems.append("\(rule.route): answers JSON without a type to record its schema from (Doc.returns)")
                }
                responses["\(doc.status)"] = ["description": "Success.", "content": [type: ["schema": schema]]]
                if let also = doc.alsoStatus { responses["\(also)"] = ["description": also == 201 ? "Created." : "Success.", "content": [type: ["schema": schema]]] }
            case .text(let type): responses["\(doc.status)"] = ["description": "Success.", "content": [type: ["schema": ["type": "string"]]]]
            case .bytes(let type): responses["\(doc.status)"] = ["description": "Success.", "content": [type: ["schema": ["type": "string", "contentMediaType": type]]]]
            case .empty: responses["\(doc.status)"] = ["description": "Done (no body)."]
            }
            for (status, text) in doc.errors {
                responses["\(status)"] = ["description": text, "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
            }
            let errors: [(Int, String)] = [(400, "The request is malformed (a parameter or body field is named)."),
                                           (401, "No token, or an unknown, revoked or expired one."),
                                           (403, "The token's role or environments do not allow it."),
                                           (404, "No such service, release, rollout or entry."),
                                           (409, "It conflicts with the current state (a rollout runs, a port is taken)."),
                                           (422, "The input is well-formed but invalid (config errors are listed)."),
                                           (429, "Too many failed authentications from this address."),
                                           (502, "The data plane (router) or a fleet server did not answer."),
                                           (503, "The data plane or an engine is unavailable."),
                                           (507, "The state directory's file system is full: nothing was changed.")]
            for (status, text) in errors where !(rule.role == nil && status == 401) {
                responses["\(status)"] = ["description": text, "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
            }
            operation["responses"] = responses
            paths[path, default: [:]][method] = operation
        }
        let object: [String: Any] = ["type": "object"]
        var schemas: [String: Any] = [
            "Error": ["type": "object", "required": ["error"], "properties": [
                "error": ["type": "object", "required": ["message"], "properties": [
                    "message": ["type": "string"], "rolloutID": ["type": "integer"],
                    "configErrors": ["type": "array", "items": object],
                ]],
            ]],
        ]
        for (name, body) in bodies { schemas[name] = body.schema }
        for (name, schema) in recorder.components {
            // A type that is also a request body (release evidence) keeps the body's
            // schema, which OpenAPITests checks field by field; another type of the same
            // name would be a clash.
            if let body = bodies[name] {
                if JSONSchemaRecorder.name(of: body.type) != name { problems.append("the answer type \(name) has the name of a request body's schema") }
                continue
            }
            schemas[name] = schema
        }
        let document: [String: Any] = [
            "openapi": "3.1.0",
            "info": ["title": "Slipway control plane API", "version": version,
                     "description": "Everything the `slipway` CLI does goes through this API. Authenticate with `Authorization: Bearer TOKEN` (`slipway token create`)."],
            "servers": [["url": "/"]],
            "security": [["bearer": [String]()]],
            "components": ["securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]], "schemas": schemas],
            "paths": paths,
        ]
        return (document, problems)
    }

    /// The document the API serves (built once: recording the answers' schemas decodes
    /// every answer type).
    static let served = json()

    /// The document as JSON text (sorted keys, stable across runs).
    public static func json(version: String = apiVersion) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: document(version: version), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func pathParameters(_ path: String) -> [String] {
        path.split(separator: "/").compactMap { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? String(part.dropFirst().dropLast()) : nil
        }
    }

    /// `getServicesNameWhy` from `GET /v1/services/{name}/why`.
    static func operationID(method: String, path: String) -> String {
        let words = path.split(whereSeparator: { "/{}.-".contains($0) }).filter { $0 != "v1" }.map { $0.prefix(1).uppercased() + $0.dropFirst() }
        return method + (words.isEmpty ? "Root" : words.joined())
    }
}
