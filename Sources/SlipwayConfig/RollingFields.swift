import SlipwayCore

/// `strategy: { rolling: … }` in slipway.yml.
extension ServiceFields {
    static var rolling: ObjectType<RollingSpec> {
        ObjectType(
            doc: "Rolling settings: how many instances are replaced at a time.",
            initial: RollingSpec(),
            fields: [
                Field("max_surge", .integer(in: 0...100), \.maxSurge,
                      doc: "New instances started above `replicas` at a time (values above replicas act as replicas)."),
                Field("max_unavailable", .integer(in: 0...100), \.maxUnavailable,
                      doc: "Instances below `replicas` that may be out of service at a time (values above replicas act as replicas); not both 0."),
                Field("analysis", ValueType<String>.string, \.analysis,
                      doc: "Run this analysis after each batch became healthy; the next batch waits for it to pass, and a failure rolls back."),
                Field("rollback", .enumeration, \.rollback,
                      doc: "How `slipway rollback` to this release runs after a rolling deploy: at_once (start every instance, switch when all are healthy) or batches (replace instances batch by batch like a deploy)."),
                Field("deploy_timeout", .duration(positive: true), \.timing.deployTimeout,
                      doc: "How long each batch of new instances may take to become healthy before the rollout fails."),
                Field("drain_timeout", .duration(positive: true), \.timing.drainTimeout,
                      doc: "How long retired instances of the previous release may take to finish in-flight requests before they are stopped."),
                Field("max_restarts", .integer(in: 1...100), \.timing.maxRestarts,
                      doc: "Crashes of the new release's instances that make a crash loop: the rollout rolls back at once instead of waiting for deploy_timeout (default 3)."),
            ],
            check: { rolling, scope in
                guard rolling.maxSurge == 0, rolling.maxUnavailable == 0,
                      scope.decoded.contains("max_surge"), !scope.isGiven("max_unavailable") || scope.decoded.contains("max_unavailable") else { return }
                scope.error(at: "max_surge", "\(scope.path.key("max_surge")) and \(scope.path.key("max_unavailable")) are both 0: no instance could ever be replaced; allow a surge (1 starts one new instance before stopping an old one) or some unavailability")
            }
        )
    }
}
