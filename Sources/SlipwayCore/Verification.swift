/// What a failed post-deploy verification does.
public enum VerifyFailureAction: String, Codable, Sendable, CaseIterable {
    /// Record it and notify (`verification_failed`); nothing else.
    case alert
    /// Also roll back to the release the verified one replaced, if it is still the stable
    /// release and the previous one can still be run.
    case rollback
}

/// `verify:`: checks run at fixed offsets after a deploy succeeded (the requirement
/// documents' T+30 min / T+2 h / T+24 h checks), each an analysis of the serving release's
/// numbers, a command, or both.
public struct VerifySpec: Codable, Sendable, Equatable {
    /// Offsets from the rollout's success, ascending.
    public var after: [Duration]
    /// The `analysis:` policy judged (nil: none; `default` is the built-in one).
    public var analysis: String?
    /// A command that passes with exit status 0.
    public var command: HookSpec?
    public var onFailure: VerifyFailureAction

    public init(after: [Duration], analysis: String? = nil, command: HookSpec? = nil, onFailure: VerifyFailureAction = .alert) {
        self.after = after
        self.analysis = analysis
        self.command = command
        self.onFailure = onFailure
    }

    /// The longest offset allowed: a check further out outlives any sensible release.
    public static let maxAfter: Duration = .seconds(30 * 86_400)

    enum CodingKeys: String, CodingKey { case after, analysis, command, onFailure = "on_failure" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        after = try c.decode([TextDuration].self, forKey: .after).map(\.value)
        analysis = try c.decodeIfPresent(String.self, forKey: .analysis)
        command = try c.decodeIfPresent(HookSpec.self, forKey: .command)
        onFailure = try c.decodeIfPresent(VerifyFailureAction.self, forKey: .onFailure) ?? .alert
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(after.map(TextDuration.init), forKey: .after)
        try c.encodeIfPresent(analysis, forKey: .analysis)
        try c.encodeIfPresent(command, forKey: .command)
        try c.encode(onFailure, forKey: .onFailure)
    }
}

public enum VerificationStatus: String, Codable, Sendable, CaseIterable {
    /// Due later (or due now and not yet started).
    case pending
    case running
    case passed
    case failed
    /// The analysis lacked data (or a provider did not answer): neither pass nor fail.
    case inconclusive
    /// Not run: the verified release no longer serves (a later deploy or a rollback).
    case skipped

    public var isFinished: Bool { self != .pending && self != .running }
}

/// One scheduled check of one succeeded rollout (`GET /v1/services/{name}/verifications`).
public struct VerificationRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var service: String
    public var rolloutID: Int64
    /// The release verified, and the one it replaced (where a rollback goes).
    public var version: String
    public var previousVersion: String?
    /// The offset from the rollout's success, in seconds, and when that is.
    public var afterSeconds: Double
    public var dueAt: Double
    public var status: VerificationStatus
    public var onFailure: VerifyFailureAction
    /// The outcome in one sentence (the analysis's reasons, the command's exit).
    public var summary: String?
    /// What followed a failure: the rollback started, or why there was none.
    public var action: String?
    public var startedAt: Double?
    public var finishedAt: Double?

    public init(id: Int64 = 0, service: String, rolloutID: Int64, version: String, previousVersion: String?, afterSeconds: Double, dueAt: Double,
                status: VerificationStatus = .pending, onFailure: VerifyFailureAction, summary: String? = nil, action: String? = nil,
                startedAt: Double? = nil, finishedAt: Double? = nil) {
        self.id = id
        self.service = service
        self.rolloutID = rolloutID
        self.version = version
        self.previousVersion = previousVersion
        self.afterSeconds = afterSeconds
        self.dueAt = dueAt
        self.status = status
        self.onFailure = onFailure
        self.summary = summary
        self.action = action
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    /// `T+30m`.
    public var label: String { "T+" + DurationText.format(.milliseconds(Int64(afterSeconds * 1000))) }
}
