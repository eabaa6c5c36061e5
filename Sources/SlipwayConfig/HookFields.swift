import SlipwayCore

/// `hooks:` in slipway.yml: pre_deploy, smoke, post_deploy, on_rollback.
extension ServiceFields {
    static var hooks: ObjectType<HooksSpec> {
        ObjectType(
            doc: "Commands a blue-green rollout runs at fixed points: pre_deploy (new release healthy, before any traffic: migrations), smoke (against the new release with the pin header, before the switch), post_deploy (after the switch and drain), on_rollback (after a rollback's switch). A failing pre_deploy or smoke aborts the rollout with the stable release serving.",
            initial: HooksSpec(),
            fields: [
                Field("pre_deploy", hook.valueType, \.preDeploy,
                      doc: "Runs once per deploy after the new instances passed health checks and before they get any traffic (the place for migrations); failure aborts."),
                Field("smoke", hook.valueType, \.smoke,
                      doc: "Runs after pre_deploy, before the switch; SLIPWAY_PREVIEW_URL and SLIPWAY_PREVIEW_HEADER reach only the new release. Failure aborts."),
                Field("post_deploy", hook.valueType, \.postDeploy,
                      doc: "Runs after the switch, the drain (and watch) and the previous release stopped or kept warm; failure marks the rollout failed with traffic left on the new release."),
                Field("on_rollback", hook.valueType, \.onRollback,
                      doc: "Runs after a rollback away from this release switched traffic back and drained; failure is recorded and the rollback stands."),
            ]
        )
    }

    static var hook: ObjectType<HookSpec> {
        ObjectType(
            doc: "One hook: a command run to completion with the service's env and secrets.",
            initial: HookSpec(run: []),
            fields: [
                Field("run", .list(of: ValueType<String>.scalarText, nonEmpty: true), \.run, required: true,
                      doc: "The command line (argv); run[0] is looked up in working_dir, next to slipway, then PATH."),
                Field("working_dir", .string.checked { $0.isEmpty ? "must not be empty" : nil }, \.workingDirectory,
                      doc: "Working directory, relative to the config file's directory (default: the service's working_dir)."),
                Field("env", .map(keyPattern: envNamePattern, keyExplain: { "`\($0)` is not a valid environment variable name (letters, digits and '_', not starting with a digit)" }, values: .scalarText), \.env,
                      doc: "Extra environment variables, over the service's env and secrets."),
                Field("timeout", .duration(positive: true), \.timeout,
                      doc: "How long the hook may run; then it and every process in its group are killed and the hook fails."),
            ]
        )
    }

    /// Hooks run with blue-green rollouts only; a smoke hook needs the pin header.
    static func checkHooks(_ spec: inout ServiceSpec, _ scope: ObjectScope) {
        guard scope.decoded.contains("hooks"), !spec.hooks.isEmpty else { return }
        if case .blueGreen = spec.strategy {} else {
            let kind = spec.strategy.canary != nil ? "canary" : "rolling"
            scope.error(at: "hooks", "hooks run with the blue-green strategy only; this service uses \(kind) (remove `hooks:` or use `strategy: { blue-green: {} }`)")
        }
        if spec.hooks.smoke != nil, spec.pin.allow.isEmpty {
            scope.error(at: "hooks", "hooks.smoke reaches the new release with the pin header, but `pin.allow` is empty (pinning is off); allow at least 127.0.0.0/8")
        }
    }
}
