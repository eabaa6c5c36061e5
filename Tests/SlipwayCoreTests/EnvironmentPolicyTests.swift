import SlipwayCore
import Testing

@Suite struct EnvironmentPolicyTests {
    @Test func unitNamesJoinAndSplitServiceAndEnvironment() {
        #expect(UnitName.make(service: "web", environment: "production") == "web@production")
        #expect(UnitName.make(service: "web", environment: nil) == "web")
        #expect(UnitName.split("web@production") == ("web", "production"))
        #expect(UnitName.split("web") == ("web", nil))
    }

    @Test func approvalsCountDistinctApproversAndFourEyesExcludesTheRequester() {
        var state = ApprovalState(needed: 2, fourEyes: true, requestedBy: "alice", requestedAt: 0, expiresAt: 100)
        #expect(state.refusal(of: "alice")?.contains("four_eyes is on: alice asked for this rollout") == true)
        #expect(state.refusal(of: "bob") == nil)
        state.votes.append(.init(principal: "bob", approved: true, comment: nil, time: 1))
        #expect(state.approvals == 1 && !state.isApproved)
        #expect(state.refusal(of: "bob")?.contains("bob already approved this rollout; it needs 1 more") == true)
        state.votes.append(.init(principal: "carol", approved: true, comment: "ok", time: 2))
        #expect(state.isApproved)
        let open = ApprovalState(needed: 1, fourEyes: false, requestedBy: "alice", requestedAt: 0, expiresAt: 100)
        #expect(open.refusal(of: "alice") == nil, "without four eyes the requester may approve")
    }

    @Test func freezeWindowsAreHalfOpenAndPolicyFindsTheCurrentOne() {
        let policy = EnvironmentPolicy(name: "production", freezes: [FreezeWindow(from: 100, to: 200, reason: "launch"), FreezeWindow(from: 300, to: 400, reason: "holidays")])
        #expect(policy.freeze(at: 99) == nil)
        #expect(policy.freeze(at: 100)?.reason == "launch")
        #expect(policy.freeze(at: 200) == nil)
        #expect(policy.freeze(at: 399.9)?.reason == "holidays")
    }
}
