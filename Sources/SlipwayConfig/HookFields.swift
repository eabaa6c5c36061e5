import SlipwayCore

/// `hooks:` in slipway.yml: pre_deploy, smoke, post_deploy, on_rollback.
extension ServiceFields {
    static var hooks: ObjectType<HooksSpec> {
        ObjectType(
            doc: "Commands a rollout runs at fixed points, with every strategy: pre_deploy (new release healthy, before any traffic: migrations; a rolling update runs it once, after its first batch), smoke (against the new release with the pin header, before it gets traffic), post_deploy (after full promotion and the previous release stopped or kept warm), on_rollback (after a rollback's switch, or after traffic went back from this release when its deploy failed). A failing pre_deploy or smoke aborts the rollout with the stable release serving.",
            initial: HooksSpec(),
            fields: [
                Field("pre_deploy", hook.valueType, \.preDeploy,
                      doc: "Runs once per deploy after the new instances passed health checks and before they get any traffic (the place for migrations); failure aborts."),
                Field("smoke", hook.valueType, \.smoke,
                      doc: "Runs after pre_deploy, before the new release gets traffic; SLIPWAY_PREVIEW_URL and SLIPWAY_PREVIEW_HEADER reach only the new release. Failure aborts."),
                Field("post_deploy", hook.valueType, \.postDeploy,
                      doc: "Runs after all traffic moved to the new release (switch, last canary step or last batch), the drain (and watch) and the previous release stopped or kept warm; failure marks the rollout failed with traffic left on the new release."),
                Field("on_rollback", hook.valueType, \.onRollback,
                      doc: "Runs after a rollback away from this release switched traffic back and drained, and after a deploy of this release failed once it had traffic (canary rolled back, rolling batch failed, blue-green watch switched back) and traffic is back on the previous release; failure is recorded and the outcome stands."),
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

    /// Hooks run with every strategy; a smoke hook needs the pin header.
    static func checkHooks(_ spec: inout ServiceSpec, _ scope: ObjectScope) {
        guard scope.decoded.contains("hooks"), !spec.hooks.isEmpty else { return }
        if spec.hooks.smoke != nil, spec.pin.allow.isEmpty {
            scope.error(at: "hooks", "hooks.smoke reaches the new release with the pin header, but `pin.allow` is empty (pinning is off); allow at least 127.0.0.0/8")
        }
    }
}
