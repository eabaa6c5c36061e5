import Foundation
import Hummingbird
import SlipwayCore
import SlipwayStore

/// `PUT /v1/services/:name/secrets/:secret[?env=]` {value, env?, by?} → SecretInfo
/// `GET /v1/services/:name/secrets[?env=]` → [SecretInfo] (never values)
/// `DELETE /v1/services/:name/secrets/:secret[?env=]`
/// `POST /v1/secrets/rotate-key` {newKey?, by?} → RotateKeyResult
public struct SecretSetRequest: Codable, Sendable {
    public var value: String
    /// The environment the secret applies to; absent or "" for every environment.
    public var env: String?
    public var by: String?
    public init(value: String, env: String? = nil, by: String? = nil) {
        self.value = value
        self.env = env
        self.by = by
    }
}

public struct RotateKeyRequest: Codable, Sendable {
    /// The new master key (base64 or hex of 32 bytes). Required when the server's key comes
    /// from `SLIPWAY_MASTER_KEY`; with a key file a random one is made when absent.
    public var newKey: String?
    public var by: String?
    public init(newKey: String? = nil, by: String? = nil) {
        self.newKey = newKey
        self.by = by
    }
}

extension SecretInfo: ResponseEncodable {}
extension Controller.RotateKeyResult: ResponseEncodable {}

extension APIRoutes {
    static func addSecretRoutes(to v1: RouterGroup<APIRequestContext>, controller: Controller) {
        v1.put("/services/:name/secrets/:secret") { request, context -> EditedResponse<SecretInfo> in
            let body = try await request.decode(as: SecretSetRequest.self, context: context)
            // The environment may come in the query (what the access check reads) or the body.
            let queryEnv = try environment(request.uri.queryParameters.get("env"))
            let bodyEnv = try environment(body.env)
            guard queryEnv.isEmpty || bodyEnv.isEmpty || queryEnv == bodyEnv else {
                throw APIError(.badRequest, "env is \(queryEnv.debugDescription) in the query but \(bodyEnv.debugDescription) in the body")
            }
            let env = queryEnv.isEmpty ? bodyEnv : queryEnv
            if !env.isEmpty, queryEnv.isEmpty, let environments = context.principal?.environments, !environments.isEmpty {
                throw APIError(.forbidden, "a token limited to environments names the environment in the query (?env=\(env))")
            }
            let name = try context.parameters.require("secret")
            context.audit.set("secret", name)
            context.audit.set("env", env.isEmpty ? "(all)" : env)
            let info = try await controller.setSecret(service: try context.parameters.require("name"), env: env, name: name,
                                                      value: body.value, by: try context.actor(label: body.by))
            context.audit.set("version", String(info.version))
            return EditedResponse(status: info.version == 1 ? .created : .ok, response: info)
        }
        v1.get("/services/:name/secrets") { request, context -> [SecretInfo] in
            let env = try request.uri.queryParameters.get("env").map { try environment($0) }
            return try await controller.secrets(service: try context.parameters.require("name"), env: env)
        }
        v1.delete("/services/:name/secrets/:secret") { request, context -> Response in
            let env = try environment(request.uri.queryParameters.get("env"))
            let name = try context.parameters.require("secret")
            context.audit.set("secret", name)
            context.audit.set("env", env.isEmpty ? "(all)" : env)
            try await controller.removeSecret(service: try context.parameters.require("name"), env: env, name: name,
                                              by: try context.actor(label: request.uri.queryParameters.get("by")))
            return Response(status: .noContent)
        }
        v1.post("/secrets/rotate-key") { request, context -> Controller.RotateKeyResult in
            let body = try await request.decodeIfPresent(as: RotateKeyRequest.self, context: context, otherwise: RotateKeyRequest())
            var newKey: MasterKey?
            if let text = body.newKey {
                do { newKey = try MasterKey.parse(text, source: .caller) } catch { throw APIError(.unprocessableContent, "\(error)") }
            }
            context.audit.set("new_key_from", newKey == nil ? "generated" : "caller")
            let result = try await controller.rotateMasterKey(newKey: newKey)
            context.audit.target("master-key")
            return result
        }
    }

    /// An environment name from a request: "" (every environment) or a valid name.
    static func environment(_ text: String?) throws -> String {
        guard let text, !text.isEmpty else { return "" }
        guard EnvironmentName.isValid(text) else {
            throw APIError(.badRequest, "env must be an environment name of letters, digits, '-' or '_' (got \(text.debugDescription))")
        }
        return text
    }
}
