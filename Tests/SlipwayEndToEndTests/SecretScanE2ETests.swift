import Foundation
import SlipwayTesting
import Testing

/// `slipway scan secrets` as a user runs it: local only, exit codes 0/1/64, a gitleaks report.
@Suite struct SecretScanE2ETests {
    /// A GitHub token and a Slipway token made at run time (this file holds no literal secret).
    private func tokens() -> (github: String, slipway: String) {
        let alnum = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max) }
        let slw = "slw" + "_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return ("gh" + "p_" + String((0..<36).map { _ in alnum.randomElement()! }), slw)
    }

    @Test func findingsExitOneAndWriteARedactedGitleaksReport() async throws {
        let slipway = try BuiltProducts.path("slipway")
        let dir = try TemporaryDirectory(prefix: "slipway-scan-e2e")
        defer { dir.remove() }
        let (github, slw) = tokens()
        try FileManager.default.createDirectory(atPath: dir.file("repo/deploy"), withIntermediateDirectories: true)
        _ = try dir.write("repo/README.md", "# app\nNothing secret here.\n")
        _ = try dir.write("repo/deploy/ci.env", "REGION=eu-west-1\nGITHUB_TOKEN=\(github)\nSLIPWAY_TOKEN=\(slw)\n")
        let report = dir.file("gitleaks.json")
        let run = try await runCommand(slipway, ["scan", "secrets", dir.file("repo"), "--report", report])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("deploy/ci.env:2:14  github-pat  ghp_…"), "\(run.stdout)")
        #expect(run.stdout.contains("deploy/ci.env:3:15  slipway-api-token  slw_…"), "\(run.stdout)")
        #expect(run.stdout.contains("2 secrets found in 2 files"), "\(run.stdout)")
        let text = try String(contentsOfFile: report, encoding: .utf8)
        for output in [run.stdout, run.stderr, text] { #expect(!output.contains(github) && !output.contains(slw)) }
        let findings = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(findings.map { $0["Fingerprint"] as? String } == ["deploy/ci.env:github-pat:2", "deploy/ci.env:slipway-api-token:3"])
        #expect(findings.map { $0["RuleID"] as? String } == ["github-pat", "slipway-api-token"])

        // The allowlist in the directory is read by default; the scan is then clean and exits 0.
        _ = try dir.write("repo/.slipway-secrets-allow", "fingerprint: deploy/ci.env:github-pat:2\nregex: ^slw_\n")
        let clean = try await runCommand(slipway, ["scan", "secrets", dir.file("repo"), "--report", report, "--output", "json"])
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(try String(contentsOfFile: report, encoding: .utf8).filter { !$0.isWhitespace } == "[]")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any])
        #expect((summary["findings"] as? [Any])?.isEmpty == true && summary["filesScanned"] as? Int == 2)
    }

    @Test func usageErrorsExitSixtyFour() async throws {
        let slipway = try BuiltProducts.path("slipway")
        let dir = try TemporaryDirectory(prefix: "slipway-scan-e2e")
        defer { dir.remove() }
        let missing = try await runCommand(slipway, ["scan", "secrets", dir.file("nope")])
        #expect(missing.status == 64 && missing.stderr.contains("no such directory"), "\(missing.stderr)")
        let file = try dir.write("file.txt", "x\n")
        let notDir = try await runCommand(slipway, ["scan", "secrets", file])
        #expect(notDir.status == 64 && notDir.stderr.contains("is not a directory"), "\(notDir.stderr)")
        let allow = try dir.write("allow.txt", "path: vendor/\nregex: [unclosed\n")
        let bad = try await runCommand(slipway, ["scan", "secrets", dir.path, "--allowlist", allow])
        #expect(bad.status == 64 && bad.stderr.contains("\(allow):2: invalid regular expression"), "\(bad.stderr)")
        let size = try await runCommand(slipway, ["scan", "secrets", dir.path, "--max-file-size", "0"])
        #expect(size.status == 64, "\(size.stderr)")
    }
}
