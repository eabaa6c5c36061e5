import Foundation
import SlipwayTesting
import Testing

/// HTTP/2 from clients through the real router: curl's `--http2-prior-knowledge` (h2c) and
/// `--http2` over TLS (ALPN), and the `h2` library from PyPI (scripts/h2_client.py;
/// scripts/test.sh installs it) for many streams on one h2c connection (curl 7.88 cannot
/// reuse an h2c connection) and for hostile HTTP/2. Instances stay on HTTP/1.1.
@Suite(.serialized) struct HTTP2Tests {
    static let abuse = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/h2_client.py").path

    /// One curl process, so one connection: each transfer's body, HTTP version and
    /// connection count (curl opens a new one only when it cannot reuse).
    func curl(_ arguments: [String], urls: [String]) async throws -> [(body: String, version: String, connects: Int)] {
        let run = try await runCommand("/usr/bin/curl", ["-s", "--max-time", "60", "-w", "\n@@ %{http_version} %{num_connects}\n"] + arguments + urls, timeout: .seconds(90))
        guard run.status == 0 else { throw PollStop("curl failed (\(run.status)): \(run.stderr)") }
        var out: [(String, String, Int)] = []
        var body: [Substring] = []
        for line in run.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("@@ ") {
                let parts = line.split(separator: " ")
                out.append((body.joined(separator: "\n"), String(parts[1]), Int(parts[2]) ?? -1))
                body = []
            } else if !line.isEmpty {
                body.append(line)
            }
        }
        return out
    }

    struct Abuse: Decodable { var streams: Int; var closed: Bool; var goaway: Int?; var reset: [Int]?; var status: String?; var client_protocol_error: String? }
    struct Streams: Decodable { var bodies: [String: Int]; var statuses: [String: Int]; var streams: Int }

    func abuse(_ arguments: [String]) async throws -> Abuse {
        try JSONDecoder().decode(Abuse.self, from: try await h2client(arguments))
    }

    func h2client(_ arguments: [String]) async throws -> Data {
        let run = try await runCommand("/usr/bin/env", ["python3", Self.abuse] + arguments, timeout: .seconds(60))
        guard run.status == 0, let line = run.stdout.split(separator: "\n").last else { throw PollStop("h2_client.py failed (\(run.status)): \(run.stderr)") }
        return Data(line.utf8)
    }

    @Test func h2cStreamsOfOneConnectionFollowTheCanarySplitAndCarryBodies() async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 1, strategy: CanaryTests.canary("[ {weight: 50}, {pause: 10m} ]"))
            try await h.startServer()
            #expect(try await h.cli(["apply", "-f", config]).status == 0)
            #expect(try await h.cli(["deploy", "hello", "--version", "v1", "--wait"]).status == 0)
            #expect(try await h.cli(["deploy", "hello", "--version", "v2"]).status == 0)
            _ = try await eventually("the canary to take half the traffic", timeout: .seconds(60)) { () -> Bool? in
                let status = try await h.cli(["status", "hello", "-o", "json"]).stdout
                return status.contains("\"weight\" : 50") || status.contains("\"weight\":50") ? true : nil
            }
            let url = "http://127.0.0.1:\(port)/"
            // 60 requests, one after another, on one connection: each stream is routed on its own.
            let streams = try JSONDecoder().decode(Streams.self, from: try await h2client(["requests", "127.0.0.1", "\(port)", "--count", "60"]))
            #expect(streams.statuses == ["200": 60], "\(streams.statuses)")
            #expect(streams.bodies["hello from v1", default: 0] > 5 && streams.bodies["hello from v2", default: 0] > 5, "\(streams.bodies)")
            #expect(streams.bodies.values.reduce(0, +) == 60)
            // curl's h2c (prior knowledge).
            let single = try await curl(["--http2-prior-knowledge"], urls: [url])
            #expect(single.first?.version == "2" && single.first?.body.hasPrefix("hello from v") == true, "\(single)")

            // A 5 MiB upload and the instance's answer, through flow control both ways.
            let file = h.directory.file("upload.bin")
            #expect(FileManager.default.createFile(atPath: file, contents: Data(repeating: 0x5a, count: 5 << 20)))
            let upload = try await curl(["--http2-prior-knowledge", "--data-binary", "@\(file)"], urls: [url + "upload"])
            #expect(upload.first?.body == "received \(5 << 20) bytes" && upload.first?.version == "2", "\(upload)")

            // HTTP/1.1 on the same port is unaffected, and both count in the version's numbers.
            #expect(try await curl(["--http1.1"], urls: [url]).first?.version == "1.1")
            let metrics = try await h.api("/metrics").body
            let served = metrics.split(separator: "\n").filter { $0.hasPrefix("slipway_requests_total{service=\"hello\"") && $0.contains("2xx") }
                .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
            #expect(served >= 63, "\(served)")
        }
    }

    @Test func tlsNegotiatesHTTP2ByALPNAndFallsBackToHTTP11() async throws {
        try await withHarness { h in
            let certs = try await TestCertificates.make(in: h.directory.path)
            let (config, port) = try h.helloConfig(replicas: 1, extra: "tls: { cert: \(certs.cert), key: \(certs.key) }")
            try await h.startServer()
            #expect(try await h.cli(["apply", "-f", config]).status == 0)
            #expect(try await h.cli(["deploy", "hello", "--version", "v1", "--wait"]).status == 0)
            let url = "https://localhost:\(port)/"
            let h2 = try await curl(["--http2", "--cacert", certs.ca], urls: [url, url])
            #expect(h2.map(\.version) == ["2", "2"] && h2.allSatisfy { $0.body == "hello from v1" }, "\(h2)")
            #expect(h2.map(\.connects).reduce(0, +) == 1, "both requests on one TLS connection: \(h2)")
            let h1 = try await curl(["--http1.1", "--cacert", certs.ca], urls: [url])
            #expect(h1.first?.version == "1.1" && h1.first?.body == "hello from v1", "\(h1)")
        }
    }

    @Test func hostileHTTP2EndsItsOwnConnectionAndNoOther() async throws {
        try await withHarness { h in
            let (config, port) = try h.helloConfig(replicas: 1)
            try await h.startServer()
            #expect(try await h.cli(["apply", "-f", config]).status == 0)
            #expect(try await h.cli(["deploy", "hello", "--version", "v1", "--wait"]).status == 0)
            // A rapid-reset flood (CVE-2023-44487): GOAWAY ENHANCE_YOUR_CALM (0xb).
            let flood = try await abuse(["rapid-reset", "127.0.0.1", "\(port)", "--streams", "1000"])
            // (Or the connection ended before all 1000 went out and its GOAWAY was lost.)
            #expect(flood.goaway == 11 || (flood.closed && flood.streams < 1000), "\(flood)")
            // A header list far over the advertised 64 KiB: GOAWAY PROTOCOL_ERROR, not a
            // buffered megabyte; one within it is answered.
            let bomb = try await abuse(["big-headers", "127.0.0.1", "\(port)", "--bytes", "1000000"])
            #expect(bomb.goaway == 1 || bomb.reset != nil, "\(bomb)")
            #expect(bomb.status == nil, "\(bomb)")
            // A protocol error (DATA on stream 0): GOAWAY PROTOCOL_ERROR.
            let bad = try await abuse(["bad-frame", "127.0.0.1", "\(port)"])
            #expect(bad.goaway == 1, "\(bad)")
            let fine = try await abuse(["big-headers", "127.0.0.1", "\(port)", "--bytes", "8000"])
            #expect(fine.status == "200", "\(fine)")
            // Other clients never noticed.
            let after = try await curl(["--http2-prior-knowledge"], urls: ["http://127.0.0.1:\(port)/"])
            #expect(after.first?.body == "hello from v1", "\(after)")
            #expect(try await h.versionAt(port: port) == "v1")
        }
    }
}
