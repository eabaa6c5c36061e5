import Foundation
import Hummingbird
import SlipwayCore
import SlipwayStore

/// One notification as the API shows it: its delivery status, and its sink without the
/// secret and with only the scheme and host of a literal URL (hook URLs hold tokens).
public struct NotificationView: Codable, Sendable {
    public var id: Int64
    public var service: String
    public var event: NotificationEvent
    public var message: String
    public var version: String?
    public var rollout: Int64?
    public var sink: SinkKind
    public var target: String
    public var signed: Bool
    public var status: NotificationRecord.Status
    public var attempts: Int
    public var nextAttemptAt: Double?
    public var lastError: String?
    public var createdAt: Double
    public var deliveredAt: Double?

    init(_ r: NotificationRecord) {
        id = r.id
        service = r.service
        event = r.event
        message = r.payload.message
        version = r.payload.version
        rollout = r.payload.rollout
        sink = r.sink.kind
        target = r.sink.url.hasPrefix("${") ? r.sink.url : NotifierService.host(r.sink.url)
        signed = r.sink.secret != nil
        status = r.status
        attempts = r.attempts
        nextAttemptAt = r.status == .pending ? r.nextAttemptAt : nil
        lastError = r.lastError
        createdAt = r.createdAt
        deliveredAt = r.deliveredAt
    }
}

extension NotificationView: ResponseEncodable {}
extension AlertStatus: ResponseEncodable {}

extension APIRoutes {
    /// `GET /v1/notifications?service=&status=&limit=` (newest first, default 50, at most 1000)
    /// `GET /v1/alerts?service=`
    static func addNotificationRoutes(to v1: RouterGroup<APIRequestContext>, controller: Controller) {
        v1.get("/notifications") { request, _ -> [NotificationView] in
            let q = request.uri.queryParameters
            var status: NotificationRecord.Status?
            if let text = q.get("status"), !text.isEmpty {
                guard let s = NotificationRecord.Status(rawValue: text) else {
                    throw APIError(.badRequest, "status must be pending, delivered or failed (got \(text.debugDescription))")
                }
                status = s
            }
            var limit = 50
            if let text = q.get("limit") {
                guard let n = Int(text), (1...1000).contains(n) else { throw APIError(.badRequest, "limit must be a whole number from 1 to 1000 (got \(text.debugDescription))") }
                limit = n
            }
            let service = q.get("service").flatMap { $0.isEmpty ? nil : $0 }
            return try controller.store.notifications(service: service, status: status, limit: limit).map(NotificationView.init)
        }
        v1.get("/alerts") { request, _ -> [AlertStatus] in
            let all = try await controller.alertStatuses()
            guard let service = request.uri.queryParameters.get("service"), !service.isEmpty else { return all }
            return all.filter { $0.service == service || UnitName.split($0.service).service == service }
        }
    }
}
