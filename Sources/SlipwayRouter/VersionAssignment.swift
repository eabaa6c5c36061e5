import NIOHTTP1
import SlipwayCore

/// How the version of one request is chosen, decided from its head before an instance is
/// picked.
enum VersionAssignment {
    /// By weight (the common path: no header is looked at).
    case weighted
    /// By weight during a split with affinity, and the response assigns the client to the
    /// version that answered (`Set-Cookie`).
    case weightedAssigning
    /// The client's valid assignment cookie names this group.
    case sticky(GroupState)
    /// An allowed client asked for this group with the pin header.
    case pinned(GroupState)
    /// An allowed client asked for a version the service does not have.
    case unknownPin(version: String, header: String)
}

/// `route.pin` compiled for one snapshot: the header name and the parsed networks.
struct PinMatcher: Sendable {
    let header: String
    let networks: [CIDR]

    /// Entries of `rule.allow` that are not CIDRs are left out, each with a problem.
    init(rule: PinRule, service: String, problems: inout [RouteProblem]) {
        header = rule.header
        var networks: [CIDR] = []
        for entry in rule.allow {
            if let network = CIDR(entry) {
                networks.append(network)
            } else {
                problems.append(service, "service \(service): pin.allow entry \"\(entry)\" is not an address or a network in CIDR notation (like 10.0.0.0/8 or ::1/128); it is ignored")
            }
        }
        self.networks = networks
    }

    func allows(_ address: IPBits?) -> Bool {
        guard let address else { return false }
        for network in networks where network.contains(address) { return true }
        return false
    }
}

extension ServiceState {
    /// The assignment for a request with `headers`. Reads the pin header only when the
    /// service has a pin rule, the client address only when that header is present, and
    /// the cookies only while a split with affinity is in effect.
    @inline(__always)
    func assignment(for headers: HTTPHeaders, client: () -> IPBits?, isAvailable: (EndpointState) -> Bool) -> VersionAssignment {
        if let pin, let version = headers.first(name: pin.header), !version.isEmpty, pin.allows(client()) {
            for group in groups where group.version == version { return .pinned(group) }
            return .unknownPin(version: version, header: pin.header)
        }
        guard let affinity else { return .weighted }
        if let group = affinity.assignedGroup(in: headers, isAvailable: isAvailable) { return .sticky(group) }
        return .weightedAssigning
    }
}
