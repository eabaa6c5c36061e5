/// Picks the endpoint for one request: a version group by weight among groups with an
/// available endpoint, then round-robin inside the group. Allocation-free; the
/// availability test and the random source are injected so it can be tested without I/O.
enum ServiceSelector {
    /// - Parameters:
    ///   - groups: the service's groups in table order.
    ///   - excluding: an endpoint to avoid (a retry); used only when another is available.
    ///   - isAvailable: whether an endpoint may take traffic.
    static func pick<R: RandomNumberGenerator>(
        groups: [GroupState],
        excluding: EndpointState? = nil,
        using rng: inout R,
        isAvailable: (EndpointState) -> Bool
    ) -> (GroupState, EndpointState)? {
        if let excluded = excluding,
           let choice = pickOnce(groups: groups, using: &rng, isAvailable: { $0 !== excluded && isAvailable($0) }) {
            return choice
        }
        return pickOnce(groups: groups, using: &rng, isAvailable: isAvailable)
    }

    /// An endpoint of one group (a pinned request): round-robin among the available ones,
    /// avoiding `excluding` when another is available.
    static func pick(in group: GroupState, excluding: EndpointState? = nil, isAvailable: (EndpointState) -> Bool) -> EndpointState? {
        if let excluded = excluding, let endpoint = group.roundRobin({ $0 !== excluded && isAvailable($0) }) {
            return endpoint
        }
        return group.roundRobin(isAvailable)
    }

    private static func pickOnce<R: RandomNumberGenerator>(
        groups: [GroupState],
        using rng: inout R,
        isAvailable: (EndpointState) -> Bool
    ) -> (GroupState, EndpointState)? {
        var totalWeight = 0
        for group in groups where group.weight > 0 && group.hasAvailable(isAvailable) {
            totalWeight += group.weight
        }
        guard totalWeight > 0 else { return nil }
        var ticket = Int.random(in: 0..<totalWeight, using: &rng)
        for group in groups where group.weight > 0 && group.hasAvailable(isAvailable) {
            if ticket < group.weight {
                return group.roundRobin(isAvailable).map { (group, $0) }
            }
            ticket -= group.weight
        }
        return nil
    }
}

extension GroupState {
    @inline(__always)
    func hasAvailable(_ isAvailable: (EndpointState) -> Bool) -> Bool {
        for endpoint in endpoints where isAvailable(endpoint) { return true }
        return false
    }

    /// The next available endpoint in round-robin order.
    func roundRobin(_ isAvailable: (EndpointState) -> Bool) -> EndpointState? {
        var available = 0
        for endpoint in endpoints where isAvailable(endpoint) { available += 1 }
        guard available > 0 else { return nil }
        var index = Int(truncatingIfNeeded: nextTurn() % UInt(available))
        for endpoint in endpoints where isAvailable(endpoint) {
            if index == 0 { return endpoint }
            index -= 1
        }
        return nil
    }
}
