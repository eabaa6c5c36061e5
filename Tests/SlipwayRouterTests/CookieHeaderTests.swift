import Testing
@testable import SlipwayRouter

@Suite struct CookieHeaderTests {
    func pairs(_ header: String) -> [String] {
        CookieHeader.pairs(header).map { "\($0.name)=\($0.value)" }
    }

    @Test func severalCookiesInOrder() {
        #expect(pairs("a=1; b=2; c=3") == ["a=1", "b=2", "c=3"])
        #expect(pairs("session=abc.def; slipway_web=r1.v2.sig") == ["session=abc.def", "slipway_web=r1.v2.sig"])
    }

    @Test func whitespaceAroundNamesAndValuesIsIgnored() {
        #expect(pairs("  a = 1 ;b=2;\tc=3\t ") == ["a=1", "b=2", "c=3"])
        #expect(pairs("a=1;b=2") == ["a=1", "b=2"])
    }

    @Test func pairsWithoutANameOrAnEqualsSignAreSkipped() {
        #expect(pairs("flag; b=2") == ["b=2"])
        #expect(pairs("=3; c=") == ["c="])
        #expect(pairs("a=1; garbage; ; =; b=2") == ["a=1", "b=2"])
    }

    @Test func emptyHeaders() {
        #expect(pairs("").isEmpty)
        #expect(pairs(";;").isEmpty)
        #expect(pairs("   ").isEmpty)
    }

    @Test func valueKeepsLaterEqualsSignsAndLosesOnePairOfQuotes() {
        #expect(pairs("a=b=c; d==") == ["a=b=c", "d=="])
        #expect(pairs("a=\"quoted\"; b=\"; c=\"\"") == ["a=quoted", "b=\"", "c="])
    }

    @Test func scanStopsWhenTheVisitorSaysSo() {
        var header = "a=1; b=2; c=3"
        var seen: [String] = []
        let stopped = header.withUTF8 { bytes in
            CookieHeader.scan(bytes) { name, _ in
                seen.append(String(decoding: name, as: UTF8.self))
                return name.bytesEqual(Array("b".utf8))
            }
        }
        #expect(stopped)
        #expect(seen == ["a", "b"])
    }
}
