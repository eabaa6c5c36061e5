import Foundation
import SlipwayCore
import SlipwayEvidence
import SlipwayStore
import SlipwayTargets

/// Environments: releases with CI evidence, the gates a deploy must pass, approvals and
/// freeze windows. Each environment of a service is a unit of its own (`SERVICE@ENV`).
extension Controller {
    public struct GateReport: Codable, Sendable {
        public var service: String
        public var environment: String?
        public var version: String
        public var passed: Bool
        public var results: [GateResult]
    }

    /// The units registered for a service name: itself, or its environments in promotion order.
    func units(of service: String) throws -> [StoredService] {
        try store.serviceNames().filter { UnitName.split($0).service == service }.compactMap { try store.service($0) }
            .sorted { ($0.spec.environment?.order ?? 0) < ($1.spec.environment?.order ?? 0) }
    }

    /// A precise error for a name that is not a registered unit.
    func unknownUnit(_ name: String) throws -> ControllerError {
        let (service, environment) = UnitName.split(name)
        let siblings = try units(of: service).compactMap(\.spec.environmentName)
        if let environment {
            if siblings.isEmpty, try store.service(service) != nil {
                return ControllerError(.notFound, "\(service) has no environments, so there is no \(name); use \(service) without --env")
            }
            if !siblings.isEmpty {
                return ControllerError(.notFound, "unknown environment \(environment) of \(service); its environments: \(siblings.joined(separator: ", "))")
            }
        } else if !siblings.isEmpty {
            return ControllerError(.notFound, "\(service) has environments (\(siblings.joined(separator: ", "))); name one with --env (or \(service)@\(siblings[0]))")
        }
        let known = (try? store.serviceNames()) ?? []
        let list = known.isEmpty ? "no service is registered yet (slipway apply -f slipway.yml)" : "known services: \(known.joined(separator: ", "))"
        return ControllerError(.notFound, "unknown service \(service); \(list)")
    }

    /// A service name (without environment) that has at least one registered unit.
    func requireServiceName(_ service: String) throws {
        guard UnitName.split(service).environment == nil else {
            throw ControllerError(.invalid, "\(service): name the service without @environment here (the environment is a parameter of its own)")
        }
        if try units(of: service).isEmpty { throw try unknownUnit(service) }
    }

    // MARK: releases

    public func createRelease(_ manifest: ReleaseManifest) throws -> ReleaseManifest {
        try requireServiceName(manifest.service)
        guard Self.isValidVersion(manifest.version) else {
            throw ControllerError(.invalid, "version \(manifest.version.debugDescription) is not a valid label: use 1-64 letters, digits, '.', '_', '-' or '+'")
        }
        if let commit = manifest.commit, !(commit.count >= 7 && commit.count <= 64 && commit.allSatisfy(\.isHexDigit)) {
            throw ControllerError(.invalid, "commit \(commit.debugDescription) is not a commit id (7-64 hex digits)")
        }
        if let why = manifest.evidence.lazy.compactMap(manifest.mismatch).first {
            throw ControllerError(.invalid, why)
        }
        var manifest = manifest
        manifest.createdAt = clock.now()
        try Self.translating([.conflict: .conflict]) { try store.createRelease(manifest) }
        try store.appendAudit(AuditDraft(principal: manifest.createdBy, action: "release.recorded", target: "release/\(manifest.service)/\(manifest.version)",
                                         details: Dictionary(uniqueKeysWithValues: manifest.evidence.enumerated().map { ("evidence.\($0.offset).\($0.element.format.rawValue)", "\($0.element.summary) sha256 \($0.element.sha256)") })
                                            .merging(["commit": manifest.commit ?? "-"]) { a, _ in a }),
                              time: manifest.createdAt)
        return manifest
    }

    public func releases(service: String) throws -> [ReleaseManifest] {
        try requireServiceName(service)
        return try store.releaseManifests(service: service)
    }

    public func release(service: String, version: String) throws -> ReleaseManifest {
        try requireServiceName(service)
        guard let manifest = try store.releaseManifest(service: service, version: version) else {
            let known = try store.releaseManifests(service: service).map(\.version)
            throw ControllerError(.notFound, "\(service) has no recorded release \(version)" + (known.isEmpty ? "" : "; recorded: \(known.suffix(10).joined(separator: ", "))"))
        }
        return manifest
    }

    // MARK: gates

    /// Every gate of the unit's environment for `version`, without deploying.
    public func checkGates(service name: String, version: String) async throws -> GateReport {
        guard let service = try store.service(name) else { throw try unknownUnit(name) }
        let results = try await gateResults(service: service, version: version)
        return GateReport(service: service.spec.serviceName, environment: service.spec.environmentName, version: version,
                          passed: results.allSatisfy(\.passed), results: results)
    }

    func gateResults(service: StoredService, version: String) async throws -> [GateResult] {
        guard let policy = service.spec.environment else { return [] }
        let base = service.spec.serviceName
        var results = EvidenceGates.check(policy.gates, release: try store.releaseManifest(service: base, version: version), service: base, version: version)
        if let from = policy.promoteFrom {
            if let done = try store.succeededDeploy(service: UnitName.make(service: base, environment: from), version: version) {
                results.append(GateResult(gate: .promoteFrom, passed: true, value: "succeeded in \(from)", threshold: "succeeded in \(from) first",
                                          detail: "rollout \(done.id), ended \(Timestamps.format(done.endedAt ?? done.startedAt))"))
            } else {
                results.append(GateResult(gate: .promoteFrom, passed: false, value: "not deployed to \(from)", threshold: "succeeded in \(from) first",
                                          detail: "deploy \(version) to \(from) first (slipway deploy \(base) --version \(version) --env \(from))"))
            }
        }
        if let command = policy.gates.command {
            results.append(await commandGate(command, timeout: policy.gates.commandTimeout, spec: service.spec, version: version))
        }
        return results
    }

    func commandGate(_ command: [String], timeout: Duration, spec: ServiceSpec, version: String) async -> GateResult {
        let shown = command.joined(separator: " ")
        func result(_ passed: Bool, _ value: String, _ detail: String?) -> GateResult {
            GateResult(gate: .command, passed: passed, value: value, threshold: "`\(shown)` exits 0", detail: detail)
        }
        guard let program = command.first,
              let executable = LocalProcess.resolveExecutable(program, workingDirectory: spec.workingDirectory, extraSearchDirectories: searchDirectories, path: inherited["PATH"]) else {
            return result(false, "not started", "\(command.first ?? "") was not found or is not executable")
        }
        var env = inherited
        env["SLIPWAY_SERVICE"] = spec.serviceName
        env["SLIPWAY_ENVIRONMENT"] = spec.environmentName ?? ""
        env["SLIPWAY_VERSION"] = version
        do {
            let run = try await CheckCommand.run(executable: executable, arguments: command, environment: env, workingDirectory: spec.workingDirectory, timeout: timeout)
            let tail = (run.stderr + run.stdout).split(separator: "\n").suffix(3).joined(separator: " | ")
            let detail: String? = tail.isEmpty ? nil : redaction.redact(String(tail.prefix(300)))
            switch run.exit {
            case .status(0): return result(true, "exit 0", detail)
            case .status(let code): return result(false, "exit \(code)", detail)
            case .signal(let signal): return result(false, "killed by signal \(signal)", detail)
            case .timedOut: return result(false, "timed out", "did not finish within \(DurationText.format(timeout)); it was killed")
            }
        } catch {
            return result(false, "not started", "\(error)")
        }
    }

    /// Freeze and gates before a deploy. Returns what is stored with the rollout; throws
    /// the list of failed gates.
    func admit(service: StoredService, version: String, principal: Principal, overrideFreeze: String?) async throws -> [GateResult]? {
        guard let policy = service.spec.environment else { return nil }
        let name = service.spec.name, now = clock.now()
        var results: [GateResult] = []
        if let window = policy.freeze(at: now) {
            let until = Timestamps.format(window.to)
            guard let reason = overrideFreeze?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
                throw ControllerError(.conflict, "\(name) is frozen until \(until): \(window.reason). An admin may deploy anyway with --override-freeze REASON")
            }
            guard principal.role == .admin else {
                throw ControllerError(.conflict, "\(name) is frozen until \(until) (\(window.reason)); only an admin may override a freeze, and \(principal.name) has the \(principal.role.rawValue) role")
            }
            try store.appendAudit(AuditDraft(principal: principal.name, action: "freeze.override", target: "service/\(name)",
                                             details: ["version": version, "reason": reason, "freeze": window.reason, "until": until]), time: now)
            results.append(GateResult(gate: .freeze, passed: true, value: "frozen: \(window.reason)", threshold: "no freeze", detail: "overridden by \(principal.name): \(reason)"))
        } else if overrideFreeze != nil {
            throw ControllerError(.invalid, "--override-freeze was given but \(name) is not frozen now; deploy without it")
        }
        results += try await gateResults(service: service, version: version)
        let failed = results.filter { !$0.passed }
        try store.appendAudit(AuditDraft(principal: principal.name, action: failed.isEmpty ? "gates.passed" : "gates.failed", target: "service/\(name)",
                                         details: Dictionary(uniqueKeysWithValues: results.map { ("\($0.gate.rawValue)", "\($0.passed ? "pass" : "fail"): \($0.value) (needs \($0.threshold))") })
                                            .merging(["version": version]) { a, _ in a }), time: now)
        guard failed.isEmpty else {
            throw ControllerError(.conflict, "deploy of \(version) to \(name) refused: \(failed.count) of \(results.count) gates failed\n" + results.map { "  " + $0.line }.joined(separator: "\n"))
        }
        return results
    }

    // MARK: approvals

    /// `slipway approve` / `slipway reject`.
    public func vote(service name: String, approve: Bool, comment: String?, principal: Principal) async throws -> RolloutRecord {
        guard let service = try store.service(name) else { throw try unknownUnit(name) }
        guard let active = try store.activeRollouts().first(where: { $0.service == name }) else {
            let last = try store.rollouts(service: name, limit: 1).first
            throw ControllerError(.conflict, "no rollout of \(name) is awaiting approval" + (last.map { "; the last rollout (\($0.id), \($0.kind.rawValue) to \($0.toVersion)) \($0.phase.rawValue)" } ?? ""))
        }
        guard active.state.phase == .awaitingApproval, var approval = active.state.approval else {
            throw ControllerError(.conflict, "rollout \(active.id) of \(name) is \(active.state.phase.rawValue), not awaiting approval; there is nothing to \(approve ? "approve" : "reject")", rolloutID: active.id)
        }
        let now = clock.now()
        let note = comment.flatMap { $0.isEmpty ? nil : String($0.prefix(500)) }
        if approve, let why = approval.refusal(of: principal.name) {
            throw ControllerError(.conflict, why, rolloutID: active.id)
        }
        approval.votes.append(.init(principal: principal.name, approved: approve, comment: note, time: now))
        var state = active.state
        state.approval = approval
        let version = state.targetVersion
        if !approve {
            try store.appendDecision(service: name, rolloutID: active.id,
                                     draft: DecisionDraft(kind: .rejected, actor: principal.name, summary: "\(principal.name) rejected \(version)" + (note.map { ": \($0)" } ?? "")), time: now)
            try endUnapproved(id: active.id, service: name, state: state, reason: "rejected by \(principal.name)" + (note.map { ": \($0)" } ?? ""), actor: nil)
        } else {
            try store.appendDecision(service: name, rolloutID: active.id,
                                     draft: DecisionDraft(kind: .approved, actor: principal.name, summary: "\(principal.name) approved \(version) (\(approval.approvals) of \(approval.needed))" + (note.map { ": \($0)" } ?? "")), time: now)
            if approval.isApproved {
                try recordEvent(service: name, rolloutID: active.id, kind: "approved",
                                      message: "approved by \(approval.votes.filter(\.approved).map(\.principal).joined(separator: ", ")); starting", time: now)
                let release = try store.release(service: name, version: version, creatingWith: nil, now: now)
                guard let release else { throw ControllerError(.notFound, "release \(version) of \(name) vanished") }
                var fresh = try await prepareState(kind: state.kind, service: service, release: release)
                fresh.approval = approval
                try store.updateRollout(id: active.id, state: fresh)
                try await beginRollout(id: active.id, unit: name, state: fresh)
            } else {
                try store.updateRollout(id: active.id, state: state)
                try recordEvent(service: name, rolloutID: active.id, kind: "approval",
                                      message: "\(principal.name) approved (\(approval.approvals) of \(approval.needed))", time: now)
            }
        }
        return try storedRollout(active.id)
    }

    /// Ends a rollout that never started (rejected, expired, aborted while waiting).
    func endUnapproved(id: Int64, service: String, state: BlueGreenState, reason: String, actor: String?) throws {
        var ended = state
        let now = clock.now()
        ended.phase = .failed
        ended.endedAt = now
        ended.failureReason = reason
        if let actor {
            try store.appendDecision(service: service, rolloutID: id, draft: DecisionDraft(kind: .aborted, actor: actor, summary: "\(reason); nothing was started"), time: now)
        }
        try store.updateRollout(id: id, state: ended)
        try recordEvent(service: service, rolloutID: id, kind: "failed", message: "\(reason); nothing was started", time: now)
        try auditRolloutEnd(id: id, service: service, state: ended)
    }
}
