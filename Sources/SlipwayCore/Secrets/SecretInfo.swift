/// A secret as `secrets list` and the API show it: everything but the value.
public struct SecretInfo: Codable, Sendable, Equatable {
    public var service: String
    /// The environment it applies to; "" applies to every environment.
    public var env: String
    public var name: String
    /// 1 when first set, +1 on each later set.
    public var version: Int
    /// When the secret was first set, and when its current version was (seconds since 1970).
    public var createdAt: Double
    public var updatedAt: Double
    public var createdBy: String?
    /// Who set the current version.
    public var updatedBy: String?

    public init(service: String, env: String, name: String, version: Int, createdAt: Double, updatedAt: Double, createdBy: String?, updatedBy: String?) {
        self.service = service
        self.env = env
        self.name = name
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
        self.updatedBy = updatedBy
    }
}
