import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayCore
import SlipwayStore

/// The dashboard: its three files (public, they hold no data), the session routes, and
/// the live stream. Every data route stays behind the access rules.
extension APIRoutes {
    static func addDashboardRoutes(to router: Hummingbird.Router<APIRequestContext>, controller: Controller, limiter: AuthFailureLimiter,
                                   secureCookies: Bool, streams: DashboardStreams) {
        let feed = DashboardFeed(controller: controller)
        router.get("/") { _, _ in
            Response(status: .found, headers: [.location: "/dashboard", .cacheControl: "no-store"])
        }
        for asset in DashboardAssets.all {
            router.get(RouterPath(asset.path)) { request, _ in asset.response(ifNoneMatch: request.headers[.ifNoneMatch]) }
        }
        router.post("/dashboard/login") { request, context -> Response in
            let address = context.clientAddress
            if let wait = limiter.retryAfter(address) {
                throw APIError(.tooManyRequests, "too many failed authentications from \(address); try again in \(wait)s", headers: [.retryAfter: String(wait)])
            }
            // JSON only: a cross-site form cannot send it without a CORS preflight.
            guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
                throw APIError(.unsupportedMediaType, "send the token as JSON: {\"token\": \"slw_…\"}")
            }
            let body = try await request.decode(as: DashboardLoginRequest.self, context: context)
            let token = body.token.trimmingCharacters(in: .whitespacesAndNewlines)
            switch try controller.store.authenticate(token, now: Date().timeIntervalSince1970) {
            case .failure(let why):
                limiter.recordFailure(address, reason: why.reason)
                controller.logger.notice("dashboard login failed", metadata: ["slipway.client": "\(address)", "slipway.reason": "\(why.reason)"])
                throw APIError(.unauthorized, why.description)
            case .success(let principal):
                try? controller.store.appendAudit(AuditDraft(principal: principal.name, action: "dashboard.login", target: "dashboard",
                                                             details: ["client": address, "token": principal.tokenID, "outcome": "ok"]),
                                                  time: Date().timeIntervalSince1970)
                var response = jsonResponse(DashboardSessionReply(principal: principal, csrf: DashboardSession.csrf(for: token)))
                response.headers[.setCookie] = DashboardSession.setCookie(token: token, secure: secureCookies)
                return response
            }
        }
        router.post("/dashboard/logout") { _, _ -> Response in
            Response(status: .noContent, headers: [.setCookie: DashboardSession.clearCookie(secure: secureCookies), .cacheControl: "no-store"])
        }
        router.get("/dashboard/session") { request, context -> Response in
            let principal = try context.caller
            let csrf = request.headers[.authorization] == nil ? DashboardSession.token(in: request).map(DashboardSession.csrf(for:)) ?? "" : ""
            return jsonResponse(DashboardSessionReply(principal: principal, csrf: csrf))
        }
        router.get("/v1/stream") { request, _ -> Response in
            let once = ["1", "true", "yes"].contains(request.uri.queryParameters.get("once") ?? "")
            return EventStream.response(feed: feed, streams: streams, once: once)
        }
    }

    static func jsonResponse(_ value: some Encodable) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: EventStream.json(value))))
    }
}
