import SlipwayCore
import Testing
@testable import SlipwayRouter

/// `restrict:`: prefix matching on segment boundaries after normalisation, so no spelling
/// of a restricted path gets past it.
@Suite struct PathGuardTests {
    static func guarded(_ paths: [String] = ["/metrics", "/admin"], allow: [String] = ["10.0.0.0/8"]) -> PathGuard {
        var problems: [RouteProblem] = []
        let guardian = PathGuard([PathRestriction(paths: paths, allow: allow)], service: "web", problems: &problems)!
        #expect(problems.isEmpty)
        return guardian
    }

    static let outsider = IPBits("192.0.2.1")
    static let office = IPBits("10.1.2.3")

    @Test(arguments: [
        "/admin", "/admin/", "/admin/users?x=1", "/metrics", "/metrics#frag",
        "/%61dmin", "/%2561dmin", "//admin", "///admin/x", "/./admin", "/x/../admin", "/x/%2e%2e/admin",
        "/ADMIN", "/Admin/x", "/admin;jsessionid=1", "/admin%2Fx", "\\admin", "/%5cadmin",
        "http://web/admin", "HTTP://web:8080/metrics?q", "/static/../../admin",
    ])
    func restrictedSpellingsAreRefusedOutsideTheAllowlist(uri: String) {
        #expect(!Self.guarded().allows(uri: uri, client: Self.outsider), "\(uri)")
        #expect(Self.guarded().allows(uri: uri, client: Self.office), "\(uri)")
    }

    @Test(arguments: ["/", "/administrator", "/admins", "/metricsx", "/app/admin", "/a%64mins", "/health", "*", "http://web/", "/static/admin.css"])
    func otherPathsPass(uri: String) {
        #expect(Self.guarded().allows(uri: uri, client: Self.outsider), "\(uri)")
    }

    @Test func emptyAllowBlocksEveryoneAndNoAddressIsNeverAllowed() {
        let guardian = Self.guarded(["/internal/"], allow: [])
        #expect(!guardian.allows(uri: "/internal", client: Self.office))
        #expect(!Self.guarded().allows(uri: "/admin", client: nil))
        #expect(Self.guarded().allows(uri: "/public", client: nil))
    }

    @Test func rootPrefixRestrictsEverything() {
        let guardian = Self.guarded(["/"], allow: ["127.0.0.0/8"])
        #expect(!guardian.allows(uri: "/anything", client: Self.outsider))
        #expect(guardian.allows(uri: "/anything", client: IPBits("127.0.0.1")))
    }

    @Test func normalisation() {
        func n(_ s: String) -> String { String(decoding: PathGuard.normalise(Array(s.utf8)), as: UTF8.self) }
        #expect(n("/a/b/../c/./d//e/") == "/a/c/d/e")
        #expect(n("/../../etc") == "/etc")
        #expect(n("") == "/")
        #expect(n("/%41%2F%62") == "/a/b")
        #expect(n("/%zz") == "/%zz")
        #expect(n("/100%") == "/100%")
    }

    @Test func unusableNetworkIsReportedAndAllowsNobody() {
        var problems: [RouteProblem] = []
        let guardian = PathGuard([PathRestriction(paths: ["/admin"], allow: ["not-a-cidr"])], service: "web", problems: &problems)!
        #expect(problems.count == 1)
        #expect(!guardian.allows(uri: "/admin", client: Self.office))
    }
}
