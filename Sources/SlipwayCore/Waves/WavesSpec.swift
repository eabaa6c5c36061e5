/// How many servers a wave covers: a count, or a share of the fleet.
public enum WaveSize: Sendable, Equatable, Codable, CustomStringConvertible {
    case hosts(Int)
    case percent(Int)

    /// Servers covered once this wave is done, out of `total` (at least 1, at most `total`).
    public func servers(of total: Int) -> Int {
        switch self {
        case .hosts(let count): min(total, max(1, count))
        case .percent(let share): min(total, max(1, (total * share + 99) / 100))
        }
    }

    public var description: String {
        switch self {
        case .hosts(let count): "\(count)"
        case .percent(let share): "\(share)%"
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
}
