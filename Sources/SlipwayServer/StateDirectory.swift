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
    /// The master key (base64, mode 0600) unless `SLIPWAY_MASTER_KEY` is set.
    public var masterKey: String { path + "/master.key" }
    /// A rotation's new key, written before its commit and renamed over `masterKey` after.
    public var masterKeyPending: String { path + "/master.key.new" }

    public func instanceLog(service: String, instanceID: String) -> String {
        "\(logsDirectory)/\(service)/\(instanceID).log"
    }
}
