import Foundation

/// What an environment of a service adds to the service's settings: its place in the
/// promotion order, its quality gates, approvals and freeze windows.
public struct EnvironmentPolicy: Codable, Sendable, Equatable {
    /// The environment's name (`dev`, `staging`, `production`, …).
    public var name: String
    /// 0 for the first environment listed under `environments:`, 1 for the next, …
    public var order: Int
    /// Whose secrets the environment's instances get (besides the service-wide ones):
    /// `slipway secrets set SERVICE NAME --env SCOPE`. Default: the environment's name.
    public var secretsScope: String
    public var gates: GateSpec
    /// The same release must have succeeded in this environment first.
    public var promoteFrom: String?
    /// Approvals a deploy needs before it starts (0: none).
    public var approvals: Int
    /// Nobody may approve a rollout they asked for themselves.
    public var fourEyes: Bool
    /// How long a rollout may wait for its approvals before it fails.
    public var approvalTimeout: Duration
    public var freezes: [FreezeWindow]

    public init(name: String, order: Int = 0, secretsScope: String? = nil, gates: GateSpec? = nil, promoteFrom: String? = nil,
                approvals: Int = 0, fourEyes: Bool = false, approvalTimeout: Duration = Defaults.approvalTimeout, freezes: [FreezeWindow] = []) {
        self.name = name
        self.order = order
        self.secretsScope = secretsScope ?? name
        self.gates = gates ?? GateSpec.defaults(for: name)
        self.promoteFrom = promoteFrom
        self.approvals = approvals
        self.fourEyes = fourEyes
        self.approvalTimeout = approvalTimeout
        self.freezes = freezes
    }

    enum CodingKeys: String, CodingKey {
        case name, order, secretsScope = "secrets_scope", gates, promoteFrom = "promote_from", approvals, fourEyes = "four_eyes"
        case approvalTimeout = "approval_timeout", freezes = "freeze"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        order = try c.decodeIfPresent(Int.self, forKey: .order) ?? 0
        secretsScope = try c.decodeIfPresent(String.self, forKey: .secretsScope) ?? name
        gates = try c.decodeIfPresent(GateSpec.self, forKey: .gates) ?? GateSpec()
        promoteFrom = try c.decodeIfPresent(String.self, forKey: .promoteFrom)
        approvals = try c.decodeIfPresent(Int.self, forKey: .approvals) ?? 0
        fourEyes = try c.decodeIfPresent(Bool.self, forKey: .fourEyes) ?? false
        approvalTimeout = try c.decodeIfPresent(TextDuration.self, forKey: .approvalTimeout)?.value ?? Defaults.approvalTimeout
        freezes = try c.decodeIfPresent([FreezeWindow].self, forKey: .freezes) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(order, forKey: .order)
        try c.encode(secretsScope, forKey: .secretsScope)
        try c.encode(gates, forKey: .gates)
        try c.encodeIfPresent(promoteFrom, forKey: .promoteFrom)
        try c.encode(approvals, forKey: .approvals)
        try c.encode(fourEyes, forKey: .fourEyes)
        try c.encode(TextDuration(approvalTimeout), forKey: .approvalTimeout)
        try c.encode(freezes, forKey: .freezes)
    }

    /// The freeze window `now` (seconds since 1970) falls in, if any.
    public func freeze(at now: Double) -> FreezeWindow? {
        freezes.first { $0.contains(now) }
    }
}

/// A time span in which deploys to an environment are refused (an admin may override
/// with a reason). Times are seconds since 1970; the config takes RFC 3339 text.
public struct FreezeWindow: Codable, Sendable, Equatable {
    public var from: Double
    public var to: Double
    public var reason: String

    public init(from: Double, to: Double, reason: String) {
        self.from = from
        self.to = to
        self.reason = reason
    }

    public func contains(_ time: Double) -> Bool { time >= from && time < to }

    enum CodingKeys: String, CodingKey { case from, to, reason }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func time(_ key: CodingKeys) throws -> Double {
            if let seconds = try? c.decode(Double.self, forKey: key) { return seconds }
            let text = try c.decode(String.self, forKey: key)
            guard let time = Timestamps.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return time
        }
        from = try time(.from)
        to = try time(.to)
        reason = try c.decode(String.self, forKey: .reason)
    }

    /// Times as RFC 3339 text (readable in the API and `config show`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Timestamps.format(from), forKey: .from)
        try c.encode(Timestamps.format(to), forKey: .to)
        try c.encode(reason, forKey: .reason)
    }
}

/// How a deployment unit is named: `SERVICE` for a service without environments,
/// `SERVICE@ENVIRONMENT` for one environment of a service.
public enum UnitName {
    public static let separator: Character = "@"

    public static func make(service: String, environment: String?) -> String {
        environment.map { "\(service)\(separator)\($0)" } ?? service
    }

    /// The service and environment of a unit name.
    public static func split(_ unit: String) -> (service: String, environment: String?) {
        guard let at = unit.firstIndex(of: separator) else { return (unit, nil) }
        return (String(unit[..<at]), String(unit[unit.index(after: at)...]))
    }
}
