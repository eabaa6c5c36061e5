/// Servers a wave takes by what they are: those with any of `roles` (when given) and every
/// one of `labels`.
public struct ServerSelector: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public var roles: [String]
    public var labels: [String: String]

    public init(roles: [String] = [], labels: [String: String] = [:]) {
        self.roles = roles
        self.labels = labels
    }

    public func matches(_ server: ServerSpec) -> Bool {
        (roles.isEmpty || roles.contains { server.roles.contains($0) }) && labels.allSatisfy { server.labels[$0.key] == $0.value }
    }

    /// `{roles: [canary], labels: {zone: eu-1}}`.
    public var description: String {
        var parts: [String] = []
        if !roles.isEmpty { parts.append("roles: [\(roles.joined(separator: ", "))]") }
        if !labels.isEmpty { parts.append("labels: {\(labels.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}") }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    enum CodingKeys: String, CodingKey { case roles, labels }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        roles = try c.decodeIfPresent([String].self, forKey: .roles) ?? []
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if !roles.isEmpty { try c.encode(roles, forKey: .roles) }
        if !labels.isEmpty { try c.encode(labels, forKey: .labels) }
    }
}

/// What a wave covers: a count of servers, a share of the fleet, or the servers a selector
/// names (by role or label).
public enum WaveSize: Sendable, Equatable, Codable, CustomStringConvertible {
    case hosts(Int)
    case percent(Int)
    case select(ServerSelector)

    /// Servers covered once this wave is done, out of `total` (at least 1, at most `total`);
    /// a selector's wave covers what the waves before it did plus its matches (see
    /// `WavesSpec.layout`), so it counts 0 here.
    public func servers(of total: Int) -> Int {
        switch self {
        case .hosts(let count): min(total, max(1, count))
        case .percent(let share): min(total, max(1, (total * share + 99) / 100))
        case .select: 0
        }
    }

    public var description: String {
        switch self {
        case .hosts(let count): "\(count)"
        case .percent(let share): "\(share)%"
        case .select(let selector): selector.description
        }
    }

    /// `"25%"` or `3`.
    public static func parse(_ text: String) -> WaveSize? {
        if text.hasSuffix("%") {
            guard let share = Int(text.dropLast()), (1...100).contains(share) else { return nil }
            return .percent(share)
        }
        guard let count = Int(text), count >= 1 else { return nil }
        return .hosts(count)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let count = try? c.decode(Int.self) {
            self = .hosts(count)
            return
        }
        if let selector = try? c.decode(ServerSelector.self) {
            self = .select(selector)
            return
        }
        let text = try c.decode(String.self)
        guard let size = WaveSize.parse(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(text) is not a wave size (a server count or N%)")
        }
        self = size
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .hosts(let count): try c.encode(count)
        case .percent: try c.encode(description)
        case .select(let selector): try c.encode(selector)
        }
    }
}

/// `waves:` of a service on `servers:`: a blue-green rollout switches the fleet a wave of
/// servers at a time. Each size says how many servers have switched once that wave is
/// done (`[1, 25%, 100%]`: one server, then a quarter of the fleet, then all of it).
public struct WavesSpec: Codable, Sendable, Equatable {
    public var sizes: [WaveSize]
    /// Run this analysis after each wave but the last; the next wave waits for a pass and a
    /// failure switches every server back.
    public var analysis: String?

    public init(sizes: [WaveSize] = [.percent(100)], analysis: String? = nil) {
        self.sizes = sizes
        self.analysis = analysis
    }

    /// The number of servers switched after each wave, for a fleet of `total`: strictly
    /// rising, ending at `total` (sizes that add no server are dropped).
    public func plan(servers total: Int) -> [Int] {
        var plan: [Int] = []
        for size in sizes {
            let covered = size.servers(of: total)
            if covered > (plan.last ?? 0) { plan.append(covered) }
        }
        if plan.last != total { plan.append(total) }
        return plan
    }

    /// What each wave adds, in order: the servers a selector names (those not taken before,
    /// in `servers:` order), or — for a count or share — the next servers in `servers:`
    /// order up to that many, preferring servers no later selector names.
    public func steps(_ servers: [ServerSpec]) -> [(size: WaveSize, added: [String], covered: Int)] {
        var taken: [String] = []
        var steps: [(size: WaveSize, added: [String], covered: Int)] = []
        for (index, size) in sizes.enumerated() {
            var added: [String] = []
            let free = servers.filter { !taken.contains($0.id) }
            switch size {
            case .select(let selector):
                added = free.filter(selector.matches).map(\.id)
            case .hosts, .percent:
                let later = sizes[(index + 1)...].compactMap { if case .select(let selector) = $0 { selector } else { nil } }
                let namedLater = { (server: ServerSpec) in later.contains { $0.matches(server) } }
                let preferred = free.filter { !namedLater($0) } + free.filter(namedLater)
                added = preferred.prefix(max(0, size.servers(of: servers.count) - taken.count)).map(\.id)
            }
            taken += added
            steps.append((size, added, taken.count))
        }
        return steps
    }

    /// The order the waves take the servers in and the number switched after each wave:
    /// strictly rising, ending with the whole fleet (waves that add no server are dropped;
    /// servers no wave names come last).
    public func layout(_ servers: [ServerSpec]) -> (order: [String], plan: [Int]) {
        var order: [String] = []
        var plan: [Int] = []
        for step in steps(servers) {
            order += step.added
            if step.covered > (plan.last ?? 0) { plan.append(step.covered) }
        }
        order += servers.map(\.id).filter { !order.contains($0) }
        if plan.last != servers.count { plan.append(servers.count) }
        return (order, plan)
    }
}
