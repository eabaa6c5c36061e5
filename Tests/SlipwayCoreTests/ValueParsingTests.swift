import Foundation
import SlipwayCore
import Testing

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("500ms", Int64(500)), ("2s", 2000), ("1m30s", 90_000), ("10m", 600_000), ("1h", 3_600_000), ("1.5s", 1500), ("3", 3000), ("0s", 0),
    ])
    func parses(text: String, ms: Int64) {
        #expect(DurationText.parse(text)?.milliseconds == ms)
    }

    @Test(arguments: ["", "s", "10x", "-1s", "1s2", "ten seconds", "1 s", "-2.5", "inf", "nan", "1e300", "99999999999999999999d", "36600d1s", "36000d36000d"])
    func rejects(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func acceptsUpToAHundredYears() {
        #expect(DurationText.parse("36600d")?.milliseconds == DurationText.maximumMilliseconds)
        #expect(DurationText.fromSeconds(-0.001) == nil)
        #expect(DurationText.fromSeconds(.infinity) == nil)
        #expect(DurationText.fromSeconds(2.5)?.milliseconds == 2500)
    }

    /// JSON numbers decode as seconds; a negative, non-finite or overlong one is refused when
    /// decoding, so everything decoded encodes to text that decodes again (a fuzz finding).
    @Test func textDurationRefusesWhatItCouldNotEncode() throws {
        for bad in ["-2.5", "1e300", "\"-2500ms\"", "\"99999999999999999999d\""] {
            #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(TextDuration.self, from: Data(bad.utf8)) }
        }
        let value = try JSONDecoder().decode(TextDuration.self, from: Data("2.5".utf8))
        let again = try JSONDecoder().decode(TextDuration.self, from: JSONEncoder().encode(value))
        #expect(again.value == .milliseconds(2500))
    }

    @Test func formatsShortest() {
        #expect(DurationText.format(.seconds(600)) == "10m")
        #expect(DurationText.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationText.format(.seconds(3600)) == "1h")
        #expect(DurationText.format(.zero) == "0s")
    }
}

@Suite struct ListenAddressTests {
    @Test func parsesForms() {
        #expect(ListenAddress(parsing: "127.0.0.1:8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(ListenAddress(parsing: ":8080") == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(ListenAddress(parsing: "8080") == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(ListenAddress(parsing: "[::1]:9000") == ListenAddress(host: "::1", port: 9000))
        #expect(ListenAddress(host: "::1", port: 9000).description == "[::1]:9000")
    }

    @Test(arguments: ["", "host:", "host:99999", "[::1]9000", "a:b:c", "host:-1",
                      "[Set]:8080", "[[Set]:8080", "[[::1]:8080", "a[b:80", "a]b:80", "[]:80"])
    func rejects(text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }

    /// What an address writes parses back to it (the route table's JSON round trip).
    @Test(arguments: ["127.0.0.1:8080", ":80", "[::1]:9000", "[fe80::1%eth0]:443", "localhost:1", "0.0.0.0:65535"])
    func writesWhatItReads(text: String) throws {
        let address = try #require(ListenAddress(parsing: text))
        #expect(ListenAddress(parsing: address.description) == address)
    }
}
