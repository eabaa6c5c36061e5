/// The quality gates of an environment: thresholds on a release's CI evidence, checked
/// before a rollout starts. A nil threshold is not checked.
public struct GateSpec: Codable, Sendable, Equatable {
    /// Line coverage at least this many percent.
    public var coverage: Double?
    /// Test pass rate at least this many percent (passed ÷ run, skipped not counted).
    public var testPassRate: Double?
    /// At most this many critical / high vulnerabilities.
    public var criticalVulns: Int?
    public var highVulns: Int?
    /// At most this many secrets found by a secret scan.
    public var secrets: Int?
    /// A command that must exit 0 (run by the control plane with SLIPWAY_SERVICE,
    /// SLIPWAY_ENVIRONMENT and SLIPWAY_VERSION set).
    public var command: [String]?
    /// How long the command may run.
    public var commandTimeout: Duration

    public init(coverage: Double? = nil, testPassRate: Double? = nil, criticalVulns: Int? = nil, highVulns: Int? = nil,
                secrets: Int? = nil, command: [String]? = nil, commandTimeout: Duration = Defaults.gateCommandTimeout) {
        self.coverage = coverage
        self.testPassRate = testPassRate
        self.criticalVulns = criticalVulns
        self.highVulns = highVulns
        self.secrets = secrets
        self.command = command
        self.commandTimeout = commandTimeout
    }

    /// The defaults of the requirement documents for environments named like theirs
    /// (DESIGN.md): dev 70 % coverage, 90 % tests, 2 critical / 10 high; staging 80 %,
    /// 95 %, 1 / 7; production 85 %, 98 %, 0 / 5; no secrets anywhere. Other names: none.
    public static func defaults(for environment: String) -> GateSpec {
        switch environment {
        case "dev", "development":
            GateSpec(coverage: 70, testPassRate: 90, criticalVulns: 2, highVulns: 10, secrets: 0)
        case "staging", "stage":
            GateSpec(coverage: 80, testPassRate: 95, criticalVulns: 1, highVulns: 7, secrets: 0)
        case "production", "prod":
            GateSpec(coverage: 85, testPassRate: 98, criticalVulns: 0, highVulns: 5, secrets: 0)
        default:
            GateSpec()
        }
    }

    public var isEmpty: Bool {
        coverage == nil && testPassRate == nil && criticalVulns == nil && highVulns == nil && secrets == nil && command == nil
    }

    enum CodingKeys: String, CodingKey {
        case coverage, testPassRate = "test_pass_rate", criticalVulns = "critical_vulns", highVulns = "high_vulns", secrets, command
        case commandTimeout = "command_timeout"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        coverage = try c.decodeIfPresent(Double.self, forKey: .coverage)
        testPassRate = try c.decodeIfPresent(Double.self, forKey: .testPassRate)
        criticalVulns = try c.decodeIfPresent(Int.self, forKey: .criticalVulns)
        highVulns = try c.decodeIfPresent(Int.self, forKey: .highVulns)
        secrets = try c.decodeIfPresent(Int.self, forKey: .secrets)
        command = try c.decodeIfPresent([String].self, forKey: .command)
        commandTimeout = try c.decodeIfPresent(TextDuration.self, forKey: .commandTimeout)?.value ?? Defaults.gateCommandTimeout
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(coverage, forKey: .coverage)
        try c.encodeIfPresent(testPassRate, forKey: .testPassRate)
        try c.encodeIfPresent(criticalVulns, forKey: .criticalVulns)
        try c.encodeIfPresent(highVulns, forKey: .highVulns)
        try c.encodeIfPresent(secrets, forKey: .secrets)
        try c.encodeIfPresent(command, forKey: .command)
        try c.encode(TextDuration(commandTimeout), forKey: .commandTimeout)
    }
}

/// One gate's verdict: what was measured, against what, and why it failed.
public struct GateResult: Codable, Sendable, Equatable {
    public enum Gate: String, Codable, Sendable, CaseIterable {
        case coverage, testPassRate = "test_pass_rate", criticalVulns = "critical_vulns", highVulns = "high_vulns", secrets
        case promoteFrom = "promote_from", command, freeze
    }

    public var gate: Gate
    public var passed: Bool
    /// The measured value in words (`72.4 %`, `3`, `succeeded in staging (rollout 12)`).
    public var value: String
    /// The threshold in words (`≥ 85 %`, `≤ 0`).
    public var threshold: String
    /// Why it failed, or where the value came from.
    public var detail: String?

    public init(gate: Gate, passed: Bool, value: String, threshold: String, detail: String? = nil) {
        self.gate = gate
        self.passed = passed
        self.value = value
        self.threshold = threshold
        self.detail = detail
    }

    /// `coverage 72.4 % (needs ≥ 85 %): failed — detail`
    public var line: String {
        "\(passed ? "pass" : "FAIL")  \(gate.rawValue): \(value) (needs \(threshold))" + (detail.map { " — \($0)" } ?? "")
    }
}

/// A rollout waiting for people to approve it.
public struct ApprovalState: Codable, Sendable, Equatable {
    public struct Vote: Codable, Sendable, Equatable {
        public var principal: String
        public var approved: Bool
        public var comment: String?
        public var time: Double

        public init(principal: String, approved: Bool, comment: String?, time: Double) {
            self.principal = principal
            self.approved = approved
            self.comment = comment
            self.time = time
        }
    }

    public var needed: Int
    public var fourEyes: Bool
    /// Who asked for the rollout (four eyes: may not approve it).
    public var requestedBy: String
    public var requestedAt: Double
    /// The rollout fails when it is still waiting at this time.
    public var expiresAt: Double
    public var votes: [Vote]

    public init(needed: Int, fourEyes: Bool, requestedBy: String, requestedAt: Double, expiresAt: Double, votes: [Vote] = []) {
        self.needed = needed
        self.fourEyes = fourEyes
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.expiresAt = expiresAt
        self.votes = votes
    }

    public var approvals: Int { votes.filter(\.approved).count }
    public var isApproved: Bool { approvals >= needed }

    /// Why `principal` may not approve, or nil when the vote counts.
    public func refusal(of principal: String) -> String? {
        if fourEyes, principal == requestedBy {
            return "four_eyes is on: \(principal) asked for this rollout and may not approve it; another approver must"
        }
        if votes.contains(where: { $0.principal == principal }) {
            return "\(principal) already approved this rollout; it needs \(needed - approvals) more approval(s) from other approvers"
        }
        return nil
    }
}
