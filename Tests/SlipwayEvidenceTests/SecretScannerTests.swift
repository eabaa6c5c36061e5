import Foundation
import SlipwayTesting
import Testing

@testable import SlipwayEvidence

@Suite struct SecretScannerTests {
    /// Writes `files` (relative path → text) into a fresh directory and scans it.
    private func scan(_ files: [String: String], allowlist: String? = nil, maxFileSize: Int = SecretScanOptions.defaultMaxFileSize) throws -> SecretScanResult {
        let dir = try TemporaryDirectory(prefix: "slipway-scan")
        defer { dir.remove() }
        for (path, text) in files {
            try FileManager.default.createDirectory(atPath: (dir.file(path) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            _ = try dir.write(path, text)
        }
        var options = SecretScanOptions(maxFileSize: maxFileSize)
        if let allowlist { options.allowlist = try SecretAllowlist.parse(allowlist, file: "allow") }
        return try SecretScanner(options: options).scan(directory: dir.path)
    }

    @Test func everyRuleFindsItsSampleOnceAndRedactsIt() throws {
        let samples = SecretSamples.oneLiners()
        #expect(Set(samples.map(\.rule)).count == SecretRules.all.count - 1, "every rule but private-key (tested with openssl) has a sample")
        for sample in samples {
            let findings = SecretScanner().scan(text: "# config\n" + sample.line + "\n", file: "conf/app.env")
            #expect(findings.map(\.ruleID) == [sample.rule], "\(sample.rule): \(findings.map(\.ruleID))")
            guard let f = findings.first else { continue }
            #expect(f.file == "conf/app.env" && f.startLine == 2 && f.endLine == 2 && f.fingerprint == "conf/app.env:\(sample.rule):2")
            let column = sample.line.distance(from: sample.line.startIndex, to: sample.line.range(of: sample.secret)!.lowerBound) + 1
            #expect(f.startColumn == column && f.endColumn == column + sample.secret.count - 1, "\(sample.rule)")
            #expect(f.secret == String(sample.secret.prefix(4)) + "…" || sample.secret.count < 16)
            #expect(!f.secret.contains(sample.secret) && !f.match.contains(sample.secret), "\(sample.rule)")
            #expect(f.match.contains(f.secret))
            #expect(f.entropy > 3)
        }
    }

    @Test func lookalikesAreNotSecrets() {
        for line in SecretSamples.lookalikes() {
            #expect(SecretScanner().scan(text: line, file: "x").isEmpty, "\(line)")
        }
    }

    @Test func realPEMPrivateKeysFromOpenSSLAreFound() async throws {
        let dir = try TemporaryDirectory(prefix: "slipway-scan-pem")
        defer { dir.remove() }
        let openssl = try await TestCertificates.opensslPath()
        try FileManager.default.createDirectory(atPath: dir.file("keys"), withIntermediateDirectories: true)
        for (name, args) in [("rsa.pem", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]), ("ec.pem", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1"])] {
            let run = try await runCommand(openssl, ["genpkey"] + args + ["-out", dir.file("keys/" + name)], timeout: .seconds(60))
            #expect(run.status == 0, "\(run.stderr)")
        }
        let rsa = try String(contentsOfFile: dir.file("keys/rsa.pem"), encoding: .utf8)
        let body = String(rsa.split(separator: "\n")[1])
        // The same key embedded in JSON (escaped newlines) and indented in YAML.
        _ = try dir.write("keys/service-account.json", #"{"type": "service_account", "private_key": ""# + rsa.replacingOccurrences(of: "\n", with: "\\n") + "\"}\n")
        _ = try dir.write("keys/values.yaml", "tls:\n  key: |\n" + rsa.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n")
        let result = try SecretScanner().scan(directory: dir.path)
        #expect(result.findings.map { "\($0.file):\($0.startLine):\($0.ruleID)" } == [
            "keys/ec.pem:1:private-key", "keys/rsa.pem:1:private-key", "keys/service-account.json:1:private-key", "keys/values.yaml:3:private-key",
        ])
        #expect(result.findings.map(\.endLine) == [2, 2, 1, 4])
        for f in result.findings { #expect(!f.secret.contains(body.prefix(12)) && !f.match.contains(body.prefix(12))) }
    }

    @Test func ownSourcesHaveNoFindings() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let result = try SecretScanner().scan(directory: repo.appendingPathComponent("Sources").path)
        #expect(result.filesScanned > 100)
        #expect(result.findings.isEmpty, "\(result.findings.map { "\($0.file):\($0.startLine) \($0.ruleID) \($0.match)" })")
    }

    @Test func allowlistEntriesSuppressExactlyWhatTheyName() throws {
        let pat = "gh" + "p_" + SecretSamples.random(SecretSamples.alphanumeric, 36)
        let slw = SecretSamples.slipwayToken()
        let key = "AK" + "IA" + SecretSamples.random(SecretSamples.upperDigits, 16)
        let files = [
            "app/config.env": "A=\(pat)\nB=\(key)\nC=\(slw)\n",
            "vendor/lib/fixture.txt": "\(pat)\n",
            "docs/fixture.txt": "\(pat)\n",
        ]
        let all = try scan(files)
        #expect(all.findings.count == 5)
        let allowed = try scan(files, allowlist: """
            # vendored code is not ours
            path: vendor/
            regex: ^AKIA
            fingerprint: app/config.env:slipway-api-token:3

            """)
        #expect(allowed.findings.map(\.fingerprint) == ["app/config.env:github-pat:1", "docs/fixture.txt:github-pat:1"])
        #expect(allowed.skipped == [SkippedFile(path: "vendor/lib/fixture.txt", reason: .allowlisted)])
        // A fingerprint for another line or rule suppresses nothing.
        #expect(try scan(files, allowlist: "fingerprint: app/config.env:slipway-api-token:2\nfingerprint: app/config.env:github-pat:3").findings.count == 5)
        // A glob with no slash matches the file name anywhere.
        #expect(try scan(files, allowlist: "path: fixture.*").findings.count == 3)
        #expect(try scan(files, allowlist: "path: *.txt").findings.count == 3)
        #expect(try scan(files, allowlist: "path: **/lib/*.txt").findings.count == 4)
        // A secret allowed under its own rule does not come back under the generic one.
        let assigned = ["ci.env": "GITHUB_TOKEN=\(pat)\n"]
        #expect(try scan(assigned).findings.map(\.ruleID) == ["github-pat"])
        #expect(try scan(assigned, allowlist: "fingerprint: ci.env:github-pat:1").findings.isEmpty)
        #expect(try scan(assigned, allowlist: "regex: ^ghp_").findings.isEmpty)
    }

    @Test func badAllowlistLinesNameFileAndLine() {
        let secretLooking = "gh" + "p_" + SecretSamples.random(SecretSamples.alphanumeric, 36)
        for (text, line) in [("path: a/\nfoo: b\n", 2), ("# ok\n\nregex: (unclosed\n", 3), (secretLooking + "\n", 1), ("regex:\n", 1), ("regex: \(secretLooking)(\n", 1)] {
            do {
                _ = try SecretAllowlist.parse(text, file: "/repo/.slipway-secrets-allow")
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.kind == .badAllowlist && error.file == "/repo/.slipway-secrets-allow" && error.line == line, "\(error)")
                #expect(error.description.hasPrefix("/repo/.slipway-secrets-allow:\(line): "))
                #expect(!error.description.contains(secretLooking))
            }
        }
    }

    @Test func binaryOversizeAndSkippedDirectoriesAreNotRead() throws {
        let token = SecretSamples.slipwayToken()
        let big = String(repeating: "filler line\n", count: 100) + "T=\(token)\n"
        let result = try scan([
            "bin/blob.dat": "\u{0}\u{1}T=\(token)\n",
            "big.txt": big,
            ".git/config": "T=\(token)\n",
            ".build/debug/x.txt": "T=\(token)\n",
            ".build-release/x.txt": "T=\(token)\n",
            "web/node_modules/pkg/index.js": "T=\(token)\n",
            "small.txt": "T=\(token)\n",
        ], maxFileSize: 1000)
        #expect(result.findings.map(\.file) == ["small.txt"])
        #expect(result.skipped == [SkippedFile(path: "big.txt", reason: .tooLarge), SkippedFile(path: "bin/blob.dat", reason: .binary)])
        #expect(result.filesScanned == 1)
        #expect(try scan(["big.txt": big], maxFileSize: big.utf8.count).findings.count == 1)
    }

    @Test func symlinksAreNotFollowed() throws {
        let outside = try TemporaryDirectory(prefix: "slipway-scan-outside")
        defer { outside.remove() }
        _ = try outside.write("secret.env", "T=\(SecretSamples.slipwayToken())\n")
        let dir = try TemporaryDirectory(prefix: "slipway-scan")
        defer { dir.remove() }
        try FileManager.default.createSymbolicLink(atPath: dir.file("linked.env"), withDestinationPath: outside.file("secret.env"))
        try FileManager.default.createSymbolicLink(atPath: dir.file("linked-dir"), withDestinationPath: outside.path)
        let result = try SecretScanner().scan(directory: dir.path)
        #expect(result.findings.isEmpty)
        #expect(result.skipped == [SkippedFile(path: "linked-dir", reason: .symlink), SkippedFile(path: "linked.env", reason: .symlink)])
        // The same file copied in is found: the symlinks were the only reason.
        try FileManager.default.copyItem(atPath: outside.file("secret.env"), toPath: dir.file("copied.env"))
        #expect(try SecretScanner().scan(directory: dir.path).findings.map(\.file) == ["copied.env"])
    }

    @Test func crlfLinesAndColumnsAfterMultibyteCharacters() throws {
        let token = SecretSamples.slipwayToken()
        let result = try scan(["w.env": "# café\r\nnote=\"é\" T=\(token)\r\n"])
        let f = try #require(result.findings.first)
        #expect(f.startLine == 2 && f.startColumn == 12 && f.endColumn == 12 + 46)
    }

    @Test func missingDirectoryIsAnError() {
        #expect(throws: SecretScanError.self) { try SecretScanner().scan(directory: "/nonexistent/slipway-scan") }
    }

    @Test func reportRoundTripsThroughGitleaksParserWithoutSecrets() throws {
        let dir = try TemporaryDirectory(prefix: "slipway-scan-report")
        defer { dir.remove() }
        let samples = SecretSamples.oneLiners()
        _ = try dir.write("all.env", samples.map(\.line).joined(separator: "\n") + "\n")
        let result = try SecretScanner().scan(directory: dir.path)
        #expect(result.findings.count == samples.count)
        let report = dir.file("gitleaks.json")
        try result.findings.gitleaksJSON().write(to: URL(fileURLWithPath: report))
        #expect(try GitleaksReport.parse(file: report) == SecretScanEvidence(findings: samples.count))
        let text = try String(contentsOfFile: report, encoding: .utf8)
        for s in samples { #expect(!text.contains(s.secret), "\(s.rule)") }
        // gitleaks' field names, values as gitleaks writes them.
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        let keys: Set = ["RuleID", "Description", "File", "StartLine", "EndLine", "StartColumn", "EndColumn", "Match", "Secret", "Entropy", "Fingerprint"]
        #expect(objects.allSatisfy { Set($0.keys) == keys })
        #expect(objects.first?["File"] as? String == "all.env" && objects.first?["StartLine"] as? Int == 1)
        #expect(try JSONDecoder().decode([SecretFinding].self, from: Data(text.utf8)) == result.findings)
        // An empty scan is an empty report: evidence of a clean scan.
        #expect(String(decoding: try [SecretFinding]().gitleaksJSON(), as: UTF8.self).filter { !$0.isWhitespace } == "[]")
    }

    @Test func entropyThresholds() {
        #expect(SecretEntropy.shannon("aaaa") == 0)
        #expect(SecretEntropy.shannon("abcd") == 2)
        #expect(!SecretEntropy.isHighEntropy("thisIsAPerfectlyOrdinaryName"))
        #expect(!SecretEntropy.isHighEntropy(String(repeating: "0123", count: 10)))
        #expect(SecretEntropy.isHighEntropy(SecretSamples.random(SecretSamples.hexDigits, 32)))
        #expect(!SecretEntropy.isHighEntropy("a1b2c3d4e5f6"))
        #expect(SecretEntropy.isHighEntropy(SecretSamples.random(SecretSamples.alphanumeric, 23) + "7"))
    }
}
