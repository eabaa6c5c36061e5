/// What a principal may do. Roles are ordered: each includes everything the ones before
/// it may do (`viewer` < `deployer` < `approver` < `admin`).
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    /// Reads status, history, events, stats, logs, decisions and metrics.
    case viewer
    /// Also applies configs, deploys, rolls back, promotes, pauses, resumes, aborts,
    /// retries, and manages the secrets of its environments.
    case deployer
    /// Also approves or rejects rollouts waiting for approval.
    case approver
    /// Also manages tokens, reads and verifies the audit log, rotates the master key and
    /// stops the server.
    case admin

    var rank: Int {
        switch self {
        case .viewer: 0
        case .deployer: 1
        case .approver: 2
        case .admin: 3
        }
    }

    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }

    /// Parses a role name; the error lists the valid ones.
    public static func parse(_ text: String) throws(AccessError) -> Role {
        guard let role = Role(rawValue: text.lowercased()) else {
            throw AccessError("unknown role \"\(text)\"; roles are \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }
}

/// Who made a request: the name and role of the token it carried.
public struct Principal: Codable, Sendable, Equatable {
    public var name: String
    public var role: Role
    /// Environments the token is limited to; empty means every environment.
    public var environments: [String]
    /// The token's public id (never the secret part).
    public var tokenID: String

    public init(name: String, role: Role, environments: [String] = [], tokenID: String) {
        self.name = name
        self.role = role
        self.environments = environments
        self.tokenID = tokenID
    }

    /// The principal recorded for the control plane's own decisions.
    public static let system = Principal(name: "slipway", role: .admin, tokenID: "-")

    /// Whether the principal may act with `role` on something in `environment`
    /// (nil: a target that belongs to no environment). A token limited to environments
    /// may read anything but act only inside its environments.
    public func allows(_ needed: Role, environment: String?) -> Bool {
        guard role >= needed else { return false }
        if needed == .viewer || environments.isEmpty { return true }
        guard let environment else { return false }
        return environments.contains(environment)
    }
}

public struct AccessError: Error, Sendable, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
