import Foundation
import SlipwayCore
import Testing

@Suite struct FreezeRecurrenceTests {
    /// The time of RFC 3339 text (-1, matching nothing here, if it did not parse).
    func at(_ text: String) -> Double { Timestamps.parse(text) ?? -1 }

    func recurrence(_ text: String) throws -> FreezeRecurrence {
        switch FreezeRecurrence.parse(text) {
        case .success(let r): return r
        case .failure(let e): Issue.record("\(text): \(e)"); throw e
        }
    }

    func error(_ text: String) -> String? {
        if case .failure(let e) = FreezeRecurrence.parse(text) { return e.description }
        return nil
    }

    let utc = TimeZone(identifier: "UTC")!

    @Test func aWeekendFreezeInUTC() throws {
        let weekend = try recurrence("fri 16:00-mon 08:00")
        // 2026-12-04 is a Friday.
        #expect(weekend.occurrence(containing: at("2026-12-04T15:59:59Z"), in: utc) == nil)
        let friday = try #require(weekend.occurrence(containing: at("2026-12-04T16:00:00Z"), in: utc))
        #expect(friday.from == (at("2026-12-04T16:00:00Z")) && friday.to == (at("2026-12-07T08:00:00Z")))
        let sunday = try #require(weekend.occurrence(containing: at("2026-12-06T12:34:56Z"), in: utc))
        #expect(sunday.from == friday.from && sunday.to == friday.to, "the same occurrence, seen from inside it")
        #expect(weekend.occurrence(containing: at("2026-12-07T08:00:00Z"), in: utc) == nil, "the end is exclusive")
        #expect(weekend.occurrence(containing: at("2026-12-09T12:00:00Z"), in: utc) == nil)
        let next = try #require(weekend.occurrence(containing: at("2026-12-12T00:00:00Z"), in: utc))
        #expect(next.to == (at("2026-12-14T08:00:00Z")))
    }

    @Test func dailyAndWholeDayForms() throws {
        let nights = try recurrence("22:00-06:00")
        #expect(!nights.weekly)
        let night = try #require(nights.occurrence(containing: at("2026-12-05T03:00:00Z"), in: utc))
        #expect(night.from == (at("2026-12-04T22:00:00Z")) && night.to == (at("2026-12-05T06:00:00Z")))
        #expect(nights.occurrence(containing: at("2026-12-05T12:00:00Z"), in: utc) == nil)
        #expect(nights.occurrence(containing: at("2026-12-05T22:00:00Z"), in: utc)?.to == (at("2026-12-06T06:00:00Z")))

        let weekend = try recurrence("Sat-Sunday")
        let saturday = try #require(weekend.occurrence(containing: at("2026-12-05T00:00:00Z"), in: utc))
        #expect(saturday.from == (at("2026-12-05T00:00:00Z")) && saturday.to == (at("2026-12-07T00:00:00Z")))
        #expect(weekend.occurrence(containing: at("2026-12-04T23:59:59Z"), in: utc) == nil)
        #expect(weekend.occurrence(containing: at("2026-12-07T00:00:00Z"), in: utc) == nil)
        // A span that wraps the week's end.
        let sunToTue = try recurrence("sun 20:00-tue 04:00")
        #expect(sunToTue.occurrence(containing: at("2026-12-07T10:00:00Z"), in: utc)?.to == (at("2026-12-08T04:00:00Z")))
    }

    @Test func wallClockTimesHoldAcrossDaylightSavingChanges() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        let nights = try recurrence("sat 22:00-sun 06:00")
        // Summer (CEST, UTC+2): 20:00Z to 04:00Z, 8 hours.
        let summer = try #require(nights.occurrence(containing: at("2026-07-04T21:00:00Z"), in: berlin))
        #expect(summer.from == (at("2026-07-04T20:00:00Z")) && summer.to == (at("2026-07-05T04:00:00Z")))
        // The night clocks go back (2026-10-25, 03:00 CEST → 02:00 CET): 22:00 CEST is
        // 20:00Z, 06:00 CET is 05:00Z, 9 hours.
        let autumn = try #require(nights.occurrence(containing: at("2026-10-25T04:30:00Z"), in: berlin))
        #expect(autumn.from == (at("2026-10-24T20:00:00Z")) && autumn.to == (at("2026-10-25T05:00:00Z")))
        #expect(nights.occurrence(containing: at("2026-10-25T05:00:00Z"), in: berlin) == nil)
        // In UTC the same text would have ended at 06:00Z.
        #expect(nights.occurrence(containing: at("2026-10-25T05:30:00Z"), in: utc) != nil)
    }

    @Test func badTextIsExplained() {
        #expect(error("fri 16:00")?.contains("write START-END") == true)
        #expect(error("fri 16:00-")?.contains("write START-END") == true)
        #expect(error("fry 16:00-mon 08:00")?.contains("\"fry\" in \"fry 16:00-mon 08:00\" is neither a day (mon … sun) nor a time") == true)
        #expect(error("fri 24:00-mon 08:00")?.contains("\"24:00\"") == true)
        #expect(error("fri 16:00-08:00")?.contains("give a day on both sides") == true)
        #expect(error("fri 16:00-mon")?.contains("give a time on both sides") == true)
        #expect(error("mon 16:00 tue-wed")?.contains("must be DAY, HH:MM or DAY HH:MM") == true)
        #expect(error("08:00-08:00")?.contains("starts where it ends") == true)
        #expect(error("mon-sun")?.contains("starts where it ends") == true)
    }

    @Test func policiesReportTheCurrentOccurrenceAndWindowsRoundTrip() throws {
        let window = FreezeWindow(from: 0, to: 0, reason: "weekend", every: try recurrence("fri 16:00-mon 08:00"), timeZone: "Europe/Berlin")
        let policy = EnvironmentPolicy(name: "production", freezes: [window])
        // Friday 16:00 in Berlin (CET, UTC+1) is 15:00Z.
        let now = at("2026-12-05T10:00:00Z")
        let frozen = try #require(policy.freeze(at: now))
        #expect(frozen.reason == "weekend" && frozen.every == nil)
        #expect(frozen.from == (at("2026-12-04T15:00:00Z")) && frozen.to == (at("2026-12-07T07:00:00Z")))
        #expect(policy.freeze(at: at("2026-12-04T14:59:00Z")) == nil)

        let json = try JSONEncoder().encode(policy)
        #expect(String(decoding: json, as: UTF8.self).contains(#""every":"fri 16:00-mon 08:00""#))
        let back = try JSONDecoder().decode(EnvironmentPolicy.self, from: json)
        #expect(back == policy)
        #expect(back.freeze(at: now)?.to == frozen.to)
    }
}
