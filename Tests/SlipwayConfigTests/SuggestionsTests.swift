@testable import SlipwayConfig
import Testing

@Suite struct SuggestionsTests {
    @Test func editDistance() {
        #expect(Suggestions.editDistance("keep_previos", "keep_previous") == 1)
        #expect(Suggestions.editDistance("", "abc") == 3)
        #expect(Suggestions.editDistance("kitten", "sitting") == 3)
    }

    @Test func closest() {
        let keys = ["keep_previous", "deploy_timeout", "drain_timeout"]
        #expect(Suggestions.closest(to: "drain_timout", in: keys) == "drain_timeout")
        #expect(Suggestions.closest(to: "Deploy_Timeout", in: keys) == "deploy_timeout")
        #expect(Suggestions.closest(to: "keep", in: keys) == "keep_previous")
        #expect(Suggestions.closest(to: "colour", in: keys) == nil)
    }
}
