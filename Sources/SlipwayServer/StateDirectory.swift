import Foundation

/// The files under a state directory. One place names them all.
public struct StateDirectory: Sendable {
    public let path: String

    public init(_ path: String) throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        self.path = (absolute as NSString).standardizingPath
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: logsDirectory, withIntermediateDirectories: true)
    }

    public var database: String { path + "/slipway.sqlite" }
    /// The data plane's admin socket (control plane → router).
    public var routerSocket: String { path + "/router.sock" }
    public var routerPIDFile: String { path + "/router.pid" }
    /// The last route table the router applied, reloaded when the router restarts.
    public var routerTable: String { path + "/router-table.json" }
    public var routerLog: String { logsDirectory + "/router.log" }
    public var serverPIDFile: String { path + "/server.pid" }
    public var logsDirectory: String { path + "/logs" }
    /// The first admin token, written once when the state directory is created (mode 0600).
    public var adminTokenFile: String { path + "/admin.token" }

    public func instanceLog(service: String, instanceID: String) -> String {
        "\(logsDirectory)/\(service)/\(instanceID).log"
    }
}
