import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import SlipwayTargets

/// Deploy hooks (`hooks:`): the machine asks for one with `.runHook`; it runs in the
/// background (the controller loop keeps ticking, the rollout stays in `running_hook`
/// and so keeps its lock) and its outcome comes back as `.hookResult`.
extension Controller {
    /// The hooks a rollout of `release` runs, whatever its strategy: for a deploy its
    /// pre_deploy, smoke and post_deploy, and its on_rollback should the deploy fail after
    /// the release got traffic (a canary rolled back, a rolling update failing after a
    /// batch, a blue-green watch switching back); for a rollback, on_rollback taken from the
    /// release being rolled back from (the one that knows how to undo what it did).
    func hookProgress(kind: RolloutKind, service: StoredService, release: ReleaseRecord) throws -> HookProgress? {
        switch kind {
        case .deploy, .initial:
            var hooks = release.spec.hooks
            // A first release has nothing to go back to.
            if kind == .initial { hooks.onRollback = nil }
            guard !hooks.isEmpty || release.spec.backup != nil else { return nil }
            return HookProgress(hooks: hooks, backup: release.spec.backup)
        case .rollback:
            guard let from = service.stableVersion,
                  let leaving = try store.release(service: service.spec.name, version: from, creatingWith: nil, now: clock.now()),
                  let undo = leaving.spec.hooks.onRollback else { return nil }
            return HookProgress(hooks: HooksSpec(onRollback: undo))
        }
    }

    /// Starts the hook of `stage` of rollout `id` in the background.
    /// For pre_deploy with `backup:`, the database backup is taken first; a failed backup
    /// fails the stage without running the hook.
    func launchHook(_ stage: HookStage, rolloutID id: Int64, service: String, state: BlueGreenState) {
        guard let hooks = state.hooks, hooks.runs(stage) else { return }
        let spec = hooks.hooks[stage]
        let backupFirst = stage == .preDeploy && hooks.backup != nil
        let writes = rolloutWrites[id]
        let redaction = self.redaction
        let prepared: Result<(executable: String, environment: [String: String], workingDirectory: String?), ControllerError>?
        do {
            prepared = try spec.map { .success(try prepareHook($0, stage: stage, rolloutID: id, service: service, state: state)) }
        } catch let error as ControllerError {
            prepared = .failure(error)
        } catch {
            prepared = .failure(ControllerError(.invalid, "\(error)"))
        }
        logger.info("hook started", metadata: ["slipway.service": "\(service)", "slipway.rollout": "\(id)", "slipway.hook": "\(stage.rawValue)"])
        let pidFile = stateDirectory.hookPIDFile(rolloutID: id)
        hookStarts[id] = clock.now()
        hookTasks[id] = Task {
            let result: (HookOutcome, [String])
            if backupFirst, let failed = await self.deployBackup(rolloutID: id, service: service, state: state) {
                result = (failed, [])
            } else if Task.isCancelled {
                result = (HookOutcome(stage: stage, passed: false, exit: "stopped: the rollout ended during the backup"), [])
            } else {
                switch prepared {
                case .success(let p)?:
                    result = await Self.runHook(spec!, stage: stage, executable: p.executable, environment: p.environment,
                                                workingDirectory: p.workingDirectory, redaction: redaction, pidFile: pidFile)
                case .failure(let error)?:
                    result = (HookOutcome(stage: stage, passed: false, exit: "not started: \(redaction.redact(error.message))"), [])
                case nil:
                    result = (HookOutcome(stage: stage, passed: true, exit: "database backup taken (no \(stage.rawValue) command)"), [])
                }
            }
            await self.hookFinished(rolloutID: id, service: service, writes: writes, outcome: result.0, output: result.1)
        }
    }

    /// The program, environment and working directory of a hook run.
    func prepareHook(_ spec: HookSpec, stage: HookStage, rolloutID id: Int64, service: String, state: BlueGreenState) throws -> (executable: String, environment: [String: String], workingDirectory: String?) {
        let prepared = try prepareCommand(spec, what: "the \(stage.rawValue) hook", rolloutID: id, service: service,
                                          version: state.targetVersion, fromVersion: state.fromVersion)
        let unit = prepared.unit
        var env = prepared.environment
        env["SLIPWAY_HOOK"] = stage.rawValue
        // Lets a restarted control plane find this hook (and what it started) even if it
        // died before recording the pid (see `killOrphanedHook`).
        env[Self.hookOwnerVariable] = Self.hookOwner(stateDirectory: stateDirectory.path, rolloutID: id)
        if stage == .smoke {
            let preview = Self.previewRoute(spec: unit, version: state.targetVersion)
            env["SLIPWAY_PREVIEW_URL"] = preview.url
            env["SLIPWAY_PREVIEW_HEADER"] = preview.header
            env["SLIPWAY_PREVIEW_HOST"] = unit.hosts.first ?? ""
        }
        return (prepared.executable, env, prepared.workingDirectory)
    }

    /// The program, environment and working directory of a command of `release` `version`
    /// (a hook, a post-deploy check): the release's env, its --set-env values, the
    /// service's secrets and the command's own env, plus SLIPWAY_SERVICE, _ENVIRONMENT,
    /// _VERSION, _FROM_VERSION and _ROLLOUT. `what` names the command in errors.
    func prepareCommand(_ spec: HookSpec, what: String, rolloutID id: Int64, service: String, version: String, fromVersion: String?) throws
        -> (executable: String, environment: [String: String], workingDirectory: String?, unit: ServiceSpec) {
        guard let release = try store.release(service: service, version: version, creatingWith: nil, now: clock.now()) else {
            throw ControllerError(.notFound, "release \(version) of \(service) is not recorded")
        }
        let unit = release.spec
        let workingDirectory = spec.workingDirectory ?? unit.workingDirectory
        guard let program = spec.run.first,
              let executable = LocalProcess.resolveExecutable(program, workingDirectory: workingDirectory, extraSearchDirectories: searchDirectories, path: inherited["PATH"]) else {
            throw ControllerError(.invalid, "cannot find the program \(spec.run.first ?? "?") of \(what) (looked in \(workingDirectory ?? "."), \(searchDirectories.joined(separator: ", ")) and PATH)")
        }
        var env = InstanceLaunch.baseEnvironment(inherited)
        env.merge(unit.env) { _, new in new }
        env.merge(release.extraEnv) { _, new in new }
        env.merge(try secretEnvironment(service: service).filter { !$0.key.hasPrefix("SLIPWAY_") }) { _, new in new }
        env.merge(spec.env) { _, new in new }
        env["SLIPWAY_SERVICE"] = unit.serviceName
        env["SLIPWAY_ENVIRONMENT"] = unit.environmentName ?? ""
        env["SLIPWAY_VERSION"] = version
        env["SLIPWAY_FROM_VERSION"] = fromVersion ?? ""
        env["SLIPWAY_ROLLOUT"] = String(id)
        return (executable, env, workingDirectory, unit)
    }

    /// How a hook on this machine reaches only `version`: the service's listen address
    /// (a wildcard address becomes loopback) and the pin header naming the version.
    static func previewRoute(spec: ServiceSpec, version: String) -> (url: String, header: String) {
        var host = spec.listen.host
        if host.isEmpty || host == "0.0.0.0" || host == "*" { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        if host.contains(":") { host = "[\(host)]" }
        return ("\(spec.tls == nil ? "http" : "https")://\(host):\(spec.listen.port)", "\(spec.pin.header): \(version)")
    }

    /// Runs one hook to completion or its timeout (its whole process group killed).
    /// Returns the outcome and the last output lines (stdout then stderr), secrets redacted.
    /// `pidFile` holds the hook's pid and start time while it runs (see `recover()`).
    nonisolated static func runHook(_ spec: HookSpec, stage: HookStage, executable: String, environment: [String: String],
                                    workingDirectory: String?, redaction: SecretRedaction, pidFile: String) async -> (HookOutcome, [String]) {
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        do {
            let run = try await CheckCommand.run(executable: executable, arguments: spec.run, environment: environment,
                                                 workingDirectory: workingDirectory, timeout: spec.timeout) { pid, startTime in
                try? FileManager.default.createDirectory(atPath: PathText.folder(of: pidFile), withIntermediateDirectories: true)
                try? "\(pid) \(startTime ?? 0)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
            }
            let lines = redaction.redact((run.stdout + run.stderr).split(separator: "\n", omittingEmptySubsequences: true).map(String.init))
            let output = Array(lines.suffix(Defaults.hookOutputLines))
            let tail = String(lines.suffix(3).joined(separator: " | ").suffix(300))
            switch run.exit {
            case .status(0):
                return (HookOutcome(stage: stage, passed: true, exit: "exit 0", tail: ""), output)
            case .status(let code):
                return (HookOutcome(stage: stage, passed: false, exit: "exit \(code)", tail: tail), output)
            case .signal(let signal):
                return (HookOutcome(stage: stage, passed: false, exit: "killed by signal \(signal)", tail: tail), output)
            case .timedOut:
                let why = Task.isCancelled
                    ? "stopped: the rollout ended while it ran; it was killed with its process group"
                    : "timed out after \(DurationText.format(spec.timeout)) (timeout); it was killed with its process group"
                return (HookOutcome(stage: stage, passed: false, exit: why, tail: tail), output)
            }
        } catch {
            return (HookOutcome(stage: stage, passed: false, exit: "not started: \(redaction.redact("\(error)"))"), [])
        }
    }

    /// Records the hook's output, then feeds its outcome to the rollout unless the rollout
    /// moved on meanwhile (an abort): then the outcome is recorded and dropped.
    func hookFinished(rolloutID id: Int64, service: String, writes: UInt64?, outcome: HookOutcome, output: [String]) async {
        hookTasks[id] = nil
        let now = clock.now()
        traces.hook(rollout: id, outcome: outcome, started: hookStarts.removeValue(forKey: id) ?? now, ended: now)
        do {
            if !output.isEmpty {
                try recordEvent(service: service, rolloutID: id, kind: "hook_output",
                                message: "\(outcome.stage.rawValue) hook output (last \(output.count) line(s)):\n" + output.joined(separator: "\n"), time: clock.now())
            }
            // The step that launched the hook may still be performing its later actions.
            while performingActions[id] != nil { try await Task.sleep(for: .milliseconds(10)) }
            guard rolloutWrites[id] == writes, let current = try store.activeRollouts().first(where: { $0.id == id }) else {
                try recordEvent(service: service, rolloutID: id, kind: "hook_ignored",
                                message: "\(outcome.summary) — ignored: the rollout changed while the hook ran", time: clock.now())
                return
            }
            var machine = RolloutMachine(state: current.state)
            try await step(id: id, service: service, machine: &machine, input: .hookResult(outcome))
        } catch {
            logger.error("hook result not applied", metadata: ["slipway.service": "\(service)", "slipway.rollout": "\(id)", "slipway.error": "\(error)"])
        }
    }
}

extension Controller {
    /// Kills the process group of rollout `id`'s hook if a dead control plane left it
    /// running (matched by pid and kernel start time, so a reused pid is never hit);
    /// returns its pid when it did.
    func killOrphanedHook(rolloutID id: Int64) -> Int32? {
        let file = stateDirectory.hookPIDFile(rolloutID: id)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var killed: Int32?
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if parts.count == 2, let pid = Int32(parts[0]), pid > 0, let startTime = UInt64(parts[1]), startTime > 0,
               case .running = LocalProcess.status(pid: pid, startTime: startTime) {
                kill(-pid, SIGKILL)
                killed = pid
            }
        }
        // The pid file is written just after the spawn: a control plane that died in between
        // left none. Every process still carrying this hook's owner mark is found in /proc.
        let marked = Self.processes(withEnvironment: "\(Self.hookOwnerVariable)=\(Self.hookOwner(stateDirectory: stateDirectory.path, rolloutID: id))")
        // The hook leads its own process group (its own session): that group goes at once.
        let leaders = marked.filter { getpgid($0) == $0 }
        for pid in leaders { kill(-pid, SIGKILL) }
        for pid in marked where !leaders.contains(pid) { kill(pid, SIGKILL) }
        killed = killed ?? leaders.min() ?? marked.min()
        if let killed {
            logger.warning("killed a hook left running by the previous control plane", metadata: ["slipway.rollout": "\(id)", "slipway.pid": "\(killed)"])
        }
        return killed
    }

    /// The environment variable that marks a hook's processes with their owner.
    static let hookOwnerVariable = "SLIPWAY_HOOK_OWNER"

    /// The owner mark of rollout `id`'s hooks: the state directory (several control planes
    /// may share a machine) and the rollout.
    static func hookOwner(stateDirectory: String, rolloutID id: Int64) -> String {
        "\(stateDirectory)#\(id)"
    }

    /// Pids of the live processes whose environment holds exactly `entry` (`NAME=value`).
    nonisolated static func processes(withEnvironment entry: String) -> [Int32] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let needle = Array(entry.utf8)
        var found: [Int32] = []
        for name in names {
            guard let pid = Int32(name), pid > 1, pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(name)/environ") else { continue }
            if data.split(separator: 0).contains(where: { $0.elementsEqual(needle) }) {
                found.append(pid)
            }
        }
        return found
    }
}
