import Foundation
import Hummingbird
import SlipwayCore
import SlipwayEvidence

/// `POST /v1/releases` {service, version, commit?, commitTime?, evidence} → ReleaseManifest
/// `GET /v1/releases/:name` → [ReleaseManifest]; `GET /v1/releases/:name/:version`
/// `POST /v1/services/:name/gates` {version} → GateReport (runs the command gate too)
/// `POST /v1/services/:name/approve|reject` {comment?} → RolloutRecord
public struct ReleaseRequest: Codable, Sendable {
    public var service: String
    public var version: String
    public var commit: String?
    public var commitTime: Double?
    public var evidence: [EvidenceItem]

    public init(service: String, version: String, commit: String?, commitTime: Double?, evidence: [EvidenceItem]) {
        self.service = service
        self.version = version
        self.commit = commit
        self.commitTime = commitTime
        self.evidence = evidence
    }
}

public struct GateCheckRequest: Codable, Sendable {
    public var version: String
    public init(version: String) { self.version = version }
}

public struct VoteRequest: Codable, Sendable {
    public var comment: String?
    public init(comment: String? = nil) { self.comment = comment }
}

extension ReleaseManifest: ResponseEncodable {}
extension Controller.GateReport: ResponseEncodable {}

extension APIRoutes {
    static func addEnvironmentRoutes(to v1: RouterGroup<APIRequestContext>, controller: Controller) {
        v1.post("/releases") { request, context -> EditedResponse<ReleaseManifest> in
            let body = try await request.decode(as: ReleaseRequest.self, context: context)
            context.audit.target("release/\(body.service)/\(body.version)")
            let manifest = ReleaseManifest(service: body.service, version: body.version, commit: body.commit, commitTime: body.commitTime,
                                           createdAt: 0, createdBy: try context.caller.name, evidence: body.evidence)
            return EditedResponse(status: .created, response: try await controller.createRelease(manifest))
        }
        v1.get("/releases/:name") { _, context in
            try await controller.releases(service: try context.parameters.require("name"))
        }
        v1.get("/releases/:name/:version") { _, context in
            try await controller.release(service: try context.parameters.require("name"), version: try context.parameters.require("version"))
        }
        v1.post("/services/:name/gates") { request, context -> Controller.GateReport in
            let body = try await request.decode(as: GateCheckRequest.self, context: context)
            context.audit.set("version", body.version)
            let report = try await controller.checkGates(service: try context.parameters.require("name"), version: body.version)
            context.audit.set("passed", String(report.passed))
            for result in report.results { context.audit.set(result.gate.rawValue, "\(result.passed ? "pass" : "fail"): \(result.value) (needs \(result.threshold))") }
            return report
        }
        for (verb, approve) in [("approve", true), ("reject", false)] {
            v1.post("/services/:name/\(verb)") { request, context -> RolloutRecord in
                let body = try await request.decodeIfPresent(as: VoteRequest.self, context: context, otherwise: VoteRequest())
                if let comment = body.comment { context.audit.set("comment", String(comment.prefix(500))) }
                let record = try await controller.vote(service: try context.parameters.require("name"), approve: approve, comment: body.comment, principal: try context.caller)
                context.audit.set("rollout", String(record.id))
                return record
            }
        }
    }
}
