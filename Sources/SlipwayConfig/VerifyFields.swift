import SlipwayCore

/// `verify:` in slipway.yml: post-deploy checks at fixed offsets after a deploy succeeded.
extension ServiceFields {
    static var verify: ObjectType<VerifySpec> {
        ObjectType(
            doc: "Checks run at fixed offsets after a deploy succeeded (T+30m, T+2h, T+24h): an analysis of the serving release's numbers, a command, or both. Results are stored with the rollout and notified; a failure alerts or rolls back.",
            initial: VerifySpec(after: []),
            fields: [
                Field("after", .list(of: .duration(positive: true), nonEmpty: true), \.after, required: true,
                      doc: "When to check, counted from the rollout's success, e.g. [30m, 2h, 24h]; ascending, at most 30 days."),
                Field("analysis", ValueType<String>.string, \.analysis,
                      doc: "The `analysis:` policy judged once at each offset (its checks' windows reach back from then; `default` is the built-in one). Baseline comparisons have no baseline here and are inconclusive."),
                Field("command", hook.valueType, \.command,
                      doc: "A command run at each offset with the service's env and secrets plus SLIPWAY_VERSION, SLIPWAY_FROM_VERSION, SLIPWAY_ROLLOUT, SLIPWAY_VERIFY_AFTER and SLIPWAY_URL; exit 0 passes."),
                Field("on_failure", .enumeration, \.onFailure,
                      doc: "alert (record it and notify verification_failed) or rollback (also roll back to the previous release while the verified one still serves). Inconclusive checks only alert."),
            ],
            check: { verify, scope in
                if !scope.isGiven("analysis"), !scope.isGiven("command") {
                    scope.error(at: "after", "verify needs `analysis` (a policy name; `default` is the built-in one) or `command`, or both")
                }
                guard scope.decoded.contains("after") else { return }
                for (a, b) in zip(verify.after, verify.after.dropFirst()) where b <= a {
                    scope.error(at: "after", "the offsets must be ascending and distinct (\(DurationText.format(a)) then \(DurationText.format(b)))")
                    return
                }
                if let last = verify.after.last, last > VerifySpec.maxAfter {
                    scope.error(at: "after", "\(DurationText.format(last)) is further than 30 days after the deploy")
                }
            }
        )
    }

    /// The analysis `verify:` names must exist.
    static func checkVerify(_ spec: inout ServiceSpec, _ scope: ObjectScope) {
        guard scope.decoded.contains("verify"), let name = spec.verify?.analysis, name != "default", spec.analysis[name] == nil else { return }
        let defined = spec.analysis.isEmpty ? "the file defines none under `analysis:`" : "defined: \(spec.analysis.keys.sorted().joined(separator: ", "))"
        let node = scope.entries["verify"]?.value
        scope.diagnostics.error(at: node?["analysis"] ?? node ?? scope.node, scope.path.key("verify").key("analysis"), "unknown analysis `\(name)`; \(defined)")
    }
}
