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

    /// The freeze window `now` (seconds since 1970) falls in, if any; a recurring window
    /// comes back as its current occurrence (`from`/`to` set, `every` nil).
    public func freeze(at now: Double) -> FreezeWindow? {
        for window in freezes {
            if let occurrence = window.occurrence(containing: now) {
                return FreezeWindow(from: occurrence.from, to: occurrence.to, reason: window.reason)
            }
        }
        return nil
    }
}

/// A time span in which deploys to an environment are refused (an admin may override
/// with a reason): fixed (`from`/`to`, seconds since 1970; the config takes RFC 3339 text)
/// or recurring (`every`, in wall-clock time of `timeZone`, UTC when nil).
public struct FreezeWindow: Codable, Sendable, Equatable {
    public var from: Double
    public var to: Double
    public var reason: String
    public var every: FreezeRecurrence?
    /// An IANA time zone name (`Europe/Berlin`) for `every`.
    public var timeZone: String?

    public init(from: Double, to: Double, reason: String, every: FreezeRecurrence? = nil, timeZone: String? = nil) {
        self.from = from
        self.to = to
        self.reason = reason
        self.every = every
        self.timeZone = timeZone
    }

    public func contains(_ time: Double) -> Bool { occurrence(containing: time) != nil }

    /// The span (absolute times) containing `time`: the window itself, or the occurrence of
    /// a recurring one.
    public func occurrence(containing time: Double) -> (from: Double, to: Double)? {
        if let every {
            return every.occurrence(containing: time, in: Self.zone(timeZone) ?? TimeZone(identifier: "UTC")!)
        }
        return time >= from && time < to ? (from, to) : nil
    }

    /// The time zone of that name, nil when unknown. "UTC" when no name.
    public static func zone(_ name: String?) -> TimeZone? {
        guard let name else { return TimeZone(identifier: "UTC") }
        return TimeZone(identifier: name)
    }

    enum CodingKeys: String, CodingKey { case from, to, reason, every, timeZone = "time_zone" }

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
        reason = try c.decode(String.self, forKey: .reason)
        timeZone = try c.decodeIfPresent(String.self, forKey: .timeZone)
        if let text = try c.decodeIfPresent(String.self, forKey: .every) {
            switch FreezeRecurrence.parse(text) {
            case .success(let recurrence): every = recurrence
            case .failure(let error): throw DecodingError.dataCorruptedError(forKey: .every, in: c, debugDescription: error.description)
            }
            from = 0
            to = 0
        } else {
            every = nil
            from = try time(.from)
            to = try time(.to)
        }
    }

    /// Times as RFC 3339 text (readable in the API and `config show`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let every {
            try c.encode(every.text, forKey: .every)
            try c.encodeIfPresent(timeZone, forKey: .timeZone)
        } else {
            try c.encode(Timestamps.format(from), forKey: .from)
            try c.encode(Timestamps.format(to), forKey: .to)
        }
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
