import SlipwayCore
import Testing
@testable import SlipwayRouter

@Suite struct StatsWindowTests {
    let s: UInt64 = 1_000_000_000

    @Test func countsOnlyTheRequestedWindow() {
        var w = StatsWindow()
        w.record(status: 200, routerError: false, latencyMicros: 1_000, nowNanos: 1000 * s)
        w.record(status: 500, routerError: false, latencyMicros: 2_000, nowNanos: 1030 * s)
        w.record(status: 502, routerError: true, latencyMicros: 3_000, nowNanos: 1059 * s + 5)
        w.record(status: 404, routerError: false, latencyMicros: 4_000, nowNanos: 1059 * s)

        var last30 = StatsSummary()
        w.collect(windowSeconds: 30, nowNanos: 1059 * s, into: &last30)
        #expect(last30.totals.requests == 3)
        #expect(last30.totals.byClass.5 == 2)
        #expect(last30.totals.byClass.4 == 1)
        #expect(last30.totals.byClass.2 == 0)
        #expect(last30.totals.upstreamErrors == 1)

        var last60 = StatsSummary()
        w.collect(windowSeconds: 60, nowNanos: 1059 * s, into: &last60)
        #expect(last60.totals.requests == 4)
        let report = last60.versionStats(service: "web", version: "v1", windowSeconds: 60)
        #expect(report.status2xx == 1)
        #expect(report.latencyMaxMs.map { abs($0 - 4) < 0.1 } == true)
        #expect(report.latencyP50Ms.map { abs($0 - 2) < 0.1 } == true)
    }

    @Test func slotsAreReusedAfterFiveMinutes() {
        var w = StatsWindow()
        w.record(status: 200, routerError: false, latencyMicros: 10, nowNanos: 10 * s)
        w.record(status: 200, routerError: false, latencyMicros: 10, nowNanos: (10 + 300) * s)
        var summary = StatsSummary()
        w.collect(windowSeconds: 300, nowNanos: 310 * s, into: &summary)
        #expect(summary.totals.requests == 1)
        var empty = StatsSummary()
        w.collect(windowSeconds: 60, nowNanos: 1000 * s, into: &empty)
        #expect(empty.totals.requests == 0)
        #expect(empty.versionStats(service: "a", version: "b", windowSeconds: 60).latencyP99Ms == nil)
    }

    @Test func windowsBeyondAMinuteCountOlderSecondsInTenSecondGroups() throws {
        var w = StatsWindow()
        // One request per second for five minutes, the request of second i taking (i + 1) ms.
        for i in 0..<300 {
            w.record(status: 200, routerError: false, latencyMicros: UInt64(i + 1) * 1_000, nowNanos: (1000 + UInt64(i)) * s)
        }
        let now = 1299 * s
        for window in 1...300 {
            var summary = StatsSummary()
            w.collect(windowSeconds: window, nowNanos: now, into: &summary)
            let counted = Int(summary.totals.requests)
            if window <= StatsWindow.fineSeconds {
                #expect(counted == window, "window \(window) s is counted to the second")
            } else {
                #expect(abs(counted - window) <= StatsWindow.coarseSeconds / 2, "window \(window) s counted \(counted)")
                #expect(counted % StatsWindow.coarseSeconds == 0, "whole groups beyond the last minute")
            }
            #expect(summary.latency?.totalCount == UInt64(counted), "every counted request has its latency, none twice")
        }
        var all = StatsSummary()
        w.collect(windowSeconds: 300, nowNanos: now, into: &all)
        let stats = all.versionStats(service: "web", version: "v1", windowSeconds: 300)
        #expect(stats.requests == 300)
        let p50 = try #require(stats.latencyP50Ms)
        let max = try #require(stats.latencyMaxMs)
        #expect(abs(p50 - 150) <= 1.5, "p50 \(p50) ms")
        #expect(abs(max - 300) <= 3, "max \(max) ms")
    }

    @Test func secondsNotYetFoldedStillCountAfterAQuietSpell() {
        var w = StatsWindow()
        for i in 0..<10 { w.record(status: 200, routerError: false, latencyMicros: 50, nowNanos: (1000 + UInt64(i)) * s) }
        // 100 s of silence, then one request: the ten old seconds were never reused.
        w.record(status: 500, routerError: false, latencyMicros: 50, nowNanos: 1100 * s)
        var summary = StatsSummary()
        w.collect(windowSeconds: 300, nowNanos: 1100 * s, into: &summary)
        #expect(summary.totals.requests == 11)
        var lastMinute = StatsSummary()
        w.collect(windowSeconds: 60, nowNanos: 1100 * s, into: &lastMinute)
        #expect(lastMinute.totals.requests == 1 && lastMinute.totals.byClass.5 == 1)
        // Folded seconds older than the longest window are dropped, not kept in a group.
        w.record(status: 200, routerError: false, latencyMicros: 50, nowNanos: 1420 * s)
        var late = StatsSummary()
        w.collect(windowSeconds: 300, nowNanos: 1420 * s, into: &late)
        #expect(late.totals.requests == 1)
    }

    @Test func aFullWindowStaysSmall() {
        // A busy version: every second of five minutes, latencies from 100 µs to 100 ms.
        var w = StatsWindow()
        for second in 0..<300 {
            for i in 0..<50 {
                let latency = UInt64(100 + (i * 99_900) / 49)
                w.record(status: 200, routerError: false, latencyMicros: latency, nowNanos: (5000 + UInt64(second)) * s)
            }
        }
        // 60 one-second slots and 30 ten-second groups of 32-bit counts sized to 100 ms; the
        // window of 300 one-second 64-bit histograms spanning 1 µs – 1 h it replaced held
        // about 8 MB (the soak benchmark's router growth).
        #expect(w.latencyFootprintBytes < 700_000, "\(w.latencyFootprintBytes) bytes")
        #expect(w.latencyFootprintBytes > 0)
        // A slow outlier grows only the slot that saw it.
        let before = w.latencyFootprintBytes
        w.record(status: 200, routerError: false, latencyMicros: 3_000_000_000, nowNanos: 5300 * s)
        #expect(w.latencyFootprintBytes - before < 20_000)
    }

    @Test func anOutlierIsForgottenWithItsWindow() {
        // A version that lives long: one slow outlier in each of its first 60 seconds, then
        // fast traffic until every slot and group that held them was reused. What the window
        // holds goes back to what fast traffic alone takes: a slot's histogram does not keep
        // the size its slowest latency once gave it.
        let end = UInt64(60 + StatsWindow.seconds + StatsWindow.fineSeconds + 20)
        var w = StatsWindow(), fresh = StatsWindow()
        var slow = 0
        for second in UInt64(0)..<end {
            w.record(status: 200, routerError: false, latencyMicros: second < 60 ? 3_000_000_000 : 100, nowNanos: (9000 + second) * s)
            fresh.record(status: 200, routerError: false, latencyMicros: 100, nowNanos: (9000 + second) * s)
            slow = max(slow, w.latencyFootprintBytes)
        }
        // Within 1 %: an array's capacity follows what the allocator hands out, so two windows
        // of the same histograms can differ by a few bytes (CI saw 138,960 vs 138,976); the
        // outliers' histograms kept 950 KB before.
        #expect(w.latencyFootprintBytes <= fresh.latencyFootprintBytes + fresh.latencyFootprintBytes / 100,
                "\(w.latencyFootprintBytes) bytes after the outliers left the window, \(fresh.latencyFootprintBytes) without them (\(slow) with them)")
        #expect(w.latencyFootprintBytes * 4 < slow, "\(w.latencyFootprintBytes) vs \(slow)")
        // The numbers are those of the last window.
        var summary = StatsSummary()
        w.collect(windowSeconds: StatsWindow.seconds, nowNanos: (9000 + end - 1) * s, into: &summary)
        #expect(summary.totals.requests > 0)
        #expect((summary.latency?.max ?? .max) < 1_000)
    }

    @Test func recorderMergesShards() {
        let r = VersionStatsRecorder(service: "web", version: "v1", shardCount: 2)
        r.record(shard: 0, status: 200, routerError: false, latencyMicros: 5, nowNanos: 50 * s)
        r.record(shard: 1, status: 503, routerError: false, latencyMicros: 7, nowNanos: 50 * s)
        let summary = r.summary(windowSeconds: 10, nowNanos: 55 * s)
        #expect(summary.totals.requests == 2)
        #expect(summary.latency?.totalCount == 2)
    }

    @Test func latencyBucketsHoldEverySampleAndAgreeWithTheQuantiles() throws {
        let r = VersionStatsRecorder(service: "web", version: "v1", shardCount: 2)
        // 1,000 requests at 0.1 ms, 0.2 ms, … 100 ms, spread over two shards and two seconds.
        for i in 1...1000 {
            r.record(shard: i % 2, status: 200, routerError: false, latencyMicros: UInt64(i) * 100, nowNanos: (50 + UInt64(i % 2)) * s)
        }
        r.record(shard: 0, status: nil, routerError: false, latencyMicros: nil, nowNanos: 51 * s)
        let summary = r.summary(windowSeconds: 10, nowNanos: 51 * s)
        let stats = summary.versionStats(service: "web", version: "v1", windowSeconds: 10, latencyBuckets: true)
        let buckets = try #require(stats.latency)
        #expect(stats.requests == 1001, "the client that left counts as a request without a latency")
        #expect(buckets.reduce(0) { $0 + $1.count } == 1000)
        #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.valueMicroseconds < $1.valueMicroseconds })
        #expect(buckets.allSatisfy { $0.count > 0 })
        #expect(buckets.first?.valueMicroseconds == 100)

        // Two significant digits: every value within 1% of what was recorded.
        func close(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) <= b * 0.01 } ?? false }
        let window = VersionWindow(stats: stats, latency: buckets)
        for (q, p, exact) in [(0.5, stats.latencyP50Ms, 50.0), (0.95, stats.latencyP95Ms, 95.0), (0.99, stats.latencyP99Ms, 99.0)] {
            let fromBuckets = window.latencyMs(quantile: q)
            let fromStats = try #require(p)
            #expect(close(fromBuckets, exact), "q\(q) from buckets: \(fromBuckets ?? -1) ms")
            #expect(close(fromStats, exact), "q\(q) from stats: \(fromStats) ms")
            #expect(close(fromBuckets, fromStats), "q\(q): buckets \(fromBuckets ?? -1) ms, stats \(fromStats) ms")
        }

        #expect(summary.versionStats(service: "web", version: "v1", windowSeconds: 10).latency == nil, "only when asked for")
        #expect(StatsSummary().versionStats(service: "web", version: "v1", windowSeconds: 10, latencyBuckets: true).latency == [])
    }

    @Test func lifetimeTotalsOnlyGrowWhileTheWindowForgets() {
        var w = StatsWindow()
        w.record(status: 200, routerError: false, latencyMicros: 3_000, nowNanos: 1000 * s)
        w.record(status: 502, routerError: true, latencyMicros: 40_000, nowNanos: 1000 * s)
        w.record(status: nil, routerError: false, latencyMicros: nil, nowNanos: 1000 * s)
        // Ten minutes later the window holds nothing; the lifetime totals still hold all three.
        w.record(status: 200, routerError: false, latencyMicros: 20_000_000, nowNanos: 1600 * s)
        var window = StatsSummary()
        w.collect(windowSeconds: 300, nowNanos: 1600 * s, into: &window)
        #expect(window.totals.requests == 1)
        let totals = w.lifetime.versionTotals(service: "web", version: "v1")
        #expect(totals.requests == 4)
        #expect(totals.status2xx == 2 && totals.status5xx == 1 && totals.noResponse == 1 && totals.upstreamErrors == 1)
        #expect(totals.latencyBuckets[0] == 1, "3 ms is at most 5 ms")
        #expect(totals.latencyBuckets[3] == 1, "40 ms is at most 50 ms")
        #expect(totals.latencyBuckets[11] == 1, "20 s is above the last bound")
        #expect(totals.latencyCount == 3)
        #expect(totals.latencySumMicros == 20_043_000)
    }

    @Test func grpcErrorsCountAsErrorsOnceAndApartFromHTTPStatus() {
        var w = StatsWindow()
        w.record(status: 200, routerError: false, latencyMicros: 1_000, nowNanos: 1000 * s)
        w.record(status: 200, routerError: false, grpcError: true, latencyMicros: 1_000, nowNanos: 1000 * s)
        // An HTTP 5xx is an error already; its grpc-status does not count it twice.
        w.record(status: 503, routerError: false, grpcError: true, latencyMicros: 1_000, nowNanos: 1000 * s)
        var summary = StatsSummary()
        w.collect(windowSeconds: 10, nowNanos: 1000 * s, into: &summary)
        let stats = summary.versionStats(service: "rpc", version: "v1", windowSeconds: 10)
        #expect(stats.requests == 3 && stats.status2xx == 2 && stats.status5xx == 1)
        #expect(stats.grpcErrors == 1 && stats.errors == 2)
        #expect(stats.errorRate == 2.0 / 3.0)
        #expect(w.lifetime.versionTotals(service: "rpc", version: "v1").grpcErrors == 1)
        // Without gRPC errors the field stays absent (older readers, plain HTTP services).
        var plain = StatsWindow()
        plain.record(status: 500, routerError: false, latencyMicros: 1_000, nowNanos: 1000 * s)
        var plainSummary = StatsSummary()
        plain.collect(windowSeconds: 10, nowNanos: 1000 * s, into: &plainSummary)
        #expect(plainSummary.versionStats(service: "web", version: "v1", windowSeconds: 10).grpcErrors == nil)
        #expect(plain.lifetime.versionTotals(service: "web", version: "v1").grpcErrors == nil)
    }
}
