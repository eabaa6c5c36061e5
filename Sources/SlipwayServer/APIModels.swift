import Foundation
import Hummingbird
import SlipwayConfig
import SlipwayCore

/// Request and response bodies of the REST API (`/v1`). The CLI uses the same types.
public struct ApplyRequest: Codable, Sendable {
    /// Absolute path of the config file; its folder is the default working directory.
    public var path: String
    /// The file's text.
    public var text: String
    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}

extension ApplyRequest {
    /// The config file's folder (the default working directory), `""` for a bare name
    /// (`PathText`: Foundation's path functions trap on some text; a path of "\u{85}"
    /// crashed the server, found by Schemathesis).
    public var folder: String { PathText.folder(of: path) }
}

public struct DeployRequest: Codable, Sendable {
    public var version: String
    public var env: [String: String]?
    /// An admin's reason to deploy inside a freeze window (recorded in the audit log).
    public var overrideFreeze: String?
    /// Container services: the image of this release instead of the config's `image:`.
    public var image: String?
    public init(version: String, env: [String: String]? = nil, overrideFreeze: String? = nil, image: String? = nil) {
        self.version = version
        self.env = env
        self.overrideFreeze = overrideFreeze
        self.image = image
    }
}

public struct RollbackRequest: Codable, Sendable {
    public var to: String?
    public init(to: String? = nil) { self.to = to }
}

/// The body of every error answer: `{"error": {"message": …, "rolloutID": …, "configErrors": […]}}`.
public struct APIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var message: String
        public var rolloutID: Int64?
        public var configErrors: [ConfigErrorBody]?
    }
    public var error: Detail
}

public struct ConfigErrorBody: Codable, Sendable {
    public var file: String
    public var line: Int
    public var column: Int
    public var path: String
    public var message: String
}

/// The body of promote, pause, resume, abort and retry (all optional).
public struct CommandRequest: Codable, Sendable {
    /// promote only: skip every remaining step and analysis.
    public var full: Bool?
    /// Who asks, recorded with the decision (`alice@laptop via CLI`).
    public var by: String?
    public init(full: Bool? = nil, by: String? = nil) {
        self.full = full
        self.by = by
    }
}

public struct ShutdownRequest: Codable, Sendable {
    /// Also stop every instance and the data plane.
    public var dataPlane: Bool
    public init(dataPlane: Bool) { self.dataPlane = dataPlane }
}

public struct LivenessReply: Codable, Sendable {
    public var status: String
    public var version: String
}

extension ServiceStatus: ResponseEncodable {}
extension RolloutRecord: ResponseEncodable {}
extension Controller.ApplyResult: ResponseEncodable {}
extension Controller.UnitPlan: ResponseEncodable {}
extension LivenessReply: ResponseEncodable {}
extension RolloutExplanation: ResponseEncodable {}
extension DeliveryReport: ResponseEncodable {}
extension DatabaseBackupRecord: ResponseEncodable {}
extension DatabaseRestoreResult: ResponseEncodable {}
