import NIOCore
import SlipwayCore
import Testing
@testable import SlipwayRouter

@Suite struct ServiceSelectorTests {
    func group(_ version: String, weight: Int, endpoints: Int, healthy: Bool = true) -> GroupState {
        let states = (0..<endpoints).map { i in
            EndpointState(endpoint: Endpoint(id: "\(version)-\(i)", host: "127.0.0.1", port: 9000 + i), service: "web", version: version,
                          poolKey: i, health: HealthSpec(), firstSeen: .uptimeNanoseconds(0))
        }
        for state in states { state.forceActiveHealth(healthy) }
        return GroupState(version: version, weight: weight, endpoints: states, stats: VersionStatsRecorder(service: "web", version: version, shardCount: 1))
    }

    @Test func splitsByWeightWithinTwoPoints() {
        let groups = [group("v1", weight: 90, endpoints: 2), group("v2", weight: 10, endpoints: 1), group("v3", weight: 0, endpoints: 1)]
        var rng = FastRandom(seed: 42)
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 {
            guard let (g, _) = ServiceSelector.pick(groups: groups, using: &rng, isAvailable: { $0.isActivelyHealthy }) else {
                Issue.record("no pick")
                return
            }
            counts[g.version, default: 0] += 1
        }
        #expect(abs(Double(counts["v1", default: 0]) / 100 - 90) <= 2)
        #expect(abs(Double(counts["v2", default: 0]) / 100 - 10) <= 2)
        #expect(counts["v3"] == nil)
    }

    @Test func groupsWithoutAvailableEndpointsGetNoShare() {
        let groups = [group("v1", weight: 50, endpoints: 2, healthy: false), group("v2", weight: 50, endpoints: 1)]
        var rng = FastRandom(seed: 1)
        for _ in 0..<100 {
            #expect(ServiceSelector.pick(groups: groups, using: &rng, isAvailable: { $0.isActivelyHealthy })?.0.version == "v2")
        }
    }

    @Test func nothingAvailableGivesNil() {
        let groups = [group("v1", weight: 100, endpoints: 2, healthy: false), group("v2", weight: 0, endpoints: 1)]
        var rng = FastRandom(seed: 1)
        #expect(ServiceSelector.pick(groups: groups, using: &rng, isAvailable: { $0.isActivelyHealthy }) == nil)
    }

    @Test func roundRobinsInsideAGroupSkippingUnavailable() {
        let g = group("v1", weight: 100, endpoints: 3)
        g.endpoints[1].forceActiveHealth(false)
        var rng = FastRandom(seed: 3)
        var seen: [String] = []
        for _ in 0..<4 {
            if let (_, e) = ServiceSelector.pick(groups: [g], using: &rng, isAvailable: { $0.isActivelyHealthy }) { seen.append(e.id) }
        }
        #expect(seen == ["v1-0", "v1-2", "v1-0", "v1-2"])
    }

    @Test func excludingPrefersAnotherEndpointButFallsBack() {
        let g = group("v1", weight: 100, endpoints: 2)
        var rng = FastRandom(seed: 3)
        for _ in 0..<10 {
            #expect(ServiceSelector.pick(groups: [g], excluding: g.endpoints[0], using: &rng, isAvailable: { $0.isActivelyHealthy })?.1.id == "v1-1")
        }
        g.endpoints[1].forceActiveHealth(false)
        #expect(ServiceSelector.pick(groups: [g], excluding: g.endpoints[0], using: &rng, isAvailable: { $0.isActivelyHealthy })?.1.id == "v1-0")
    }
}
