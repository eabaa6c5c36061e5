import Foundation
import Hummingbird
import NIOCore
import SlipwayConfig
import SlipwayCore
import SlipwayTargets

/// The REST API. Everything the CLI does goes through these routes.
enum APIRoutes {
    /// `secureCookies`: the API speaks HTTPS, so the dashboard's session cookie is `Secure`.
    /// - Parameters:
    ///   - apiCertificate: the API's `--tls-cert`, reported by `GET /v1/system`.
    ///   - stateBackups: the scheduled state backups' outcomes (`--backup-every`).
    static func build(controller: Controller, limiter: AuthFailureLimiter, secureCookies: Bool = false, streams: DashboardStreams = DashboardStreams(),
                      apiCertificate: String? = nil, stateBackups: StateBackupLedger? = nil,
                      shutdown: @escaping @Sendable (Bool) async -> Void) -> Hummingbird.Router<APIRequestContext> {
        let router = Hummingbird.Router(context: APIRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(store: controller.store, limiter: limiter, logger: controller.logger))

        router.get("/healthz") { _, _ in LivenessReply(status: "ok", version: SlipwayVersion.current) }
        // Prometheus scrapes the router's cumulative per-version numbers here (see PrometheusExposition).
        router.get("/metrics") { _, _ -> Response in
            let totals: (versions: [VersionTotals], edge: [EdgeTotals])
            do {
                totals = try await controller.dataPlane.client.totalsWithEdge()
            } catch {
                throw APIError(.serviceUnavailable, "the data plane's numbers could not be read: \(error)")
            }
            let servers = await controller.serverTotals()
            let text = PrometheusExposition.render(totals.versions + servers.flatMap(\.totals), edge: totals.edge)
                + PrometheusExposition.renderServers(servers.map(\.server)) + AuthMetrics.render(limiter.totals)
                + (try await controller.prometheusText(dashboardStreams: streams.openCount))
            return Response(status: .ok, headers: [.contentType: PrometheusExposition.contentType],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }

        let v1 = router.group("/v1")
        v1.get("/whoami") { _, context in try context.caller }
        v1.get("/system") { _, _ in try await controller.system(apiCertificate: apiCertificate, stateBackups: stateBackups) }
        v1.get("/openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPI.served)))
        }
        v1.get("/services") { _, _ in try await controller.statuses() }
        v1.put("/services") { request, context -> EditedResponse<[Controller.ApplyResult]> in
            let body = try await request.decode(as: ApplyRequest.self, context: context)
            context.audit.set("file", body.path)
            let directory = body.folder
            // One unit per environment (or the service itself); all are checked before any is applied.
            let units = try ConfigLoader.parseUnits(body.text, fileName: body.path, baseDirectory: directory.isEmpty ? nil : directory)
            context.audit.target("service/\(units.first?.serviceName ?? "")")
            var results: [Controller.ApplyResult] = []
            for spec in units {
                let result = try await controller.apply(spec, source: body.path)
                context.audit.set("config_version.\(spec.name)", String(result.configVersion))
                results.append(result)
            }
            return EditedResponse(status: results.contains(where: \.changed) ? .created : .ok, response: results)
        }
        v1.post("/plan") { request, context -> [Controller.UnitPlan] in
            let body = try await request.decode(as: ApplyRequest.self, context: context)
            context.audit.set("file", body.path)
            let directory = body.folder
            let units = try ConfigLoader.parseUnits(body.text, fileName: body.path, baseDirectory: directory.isEmpty ? nil : directory)
            context.audit.target("service/\(units.first?.serviceName ?? "")")
            return try await controller.plan(units)
        }
        v1.get("/services/:name") { _, context in
            try await controller.status(service: try context.parameters.require("name"))
        }
        v1.post("/services/:name/deploy") { request, context -> EditedResponse<RolloutRecord> in
            let body = try await request.decode(as: DeployRequest.self, context: context)
            context.audit.set("version", body.version)
            if let reason = body.overrideFreeze { context.audit.set("override_freeze", reason) }
            if let image = body.image { context.audit.set("image", image) }
            let record = try await controller.deploy(service: try context.parameters.require("name"), version: body.version, extraEnv: body.env ?? [:],
                                                     image: body.image, principal: try context.caller, overrideFreeze: body.overrideFreeze)
            context.audit.set("rollout", String(record.id))
            return EditedResponse(status: .created, response: record)
        }
        v1.post("/services/:name/rollback") { request, context -> EditedResponse<RolloutRecord> in
            let body = try await request.decodeIfPresent(as: RollbackRequest.self, context: context, otherwise: RollbackRequest())
            if let to = body.to { context.audit.set("to", to) }
            let record = try await controller.rollback(service: try context.parameters.require("name"), to: body.to)
            context.audit.set("rollout", String(record.id))
            return EditedResponse(status: .created, response: record)
        }
        v1.post("/services/:name/promote") { request, context -> RolloutRecord in
            let body = try await request.decodeIfPresent(as: CommandRequest.self, context: context, otherwise: CommandRequest())
            return try await controller.command(service: try context.parameters.require("name"), body.full == true ? .promoteFull : .promote, by: try context.actor(label: body.by))
        }
        v1.post("/services/:name/pause") { request, context -> RolloutRecord in
            let body = try await request.decodeIfPresent(as: CommandRequest.self, context: context, otherwise: CommandRequest())
            return try await controller.command(service: try context.parameters.require("name"), .pause, by: try context.actor(label: body.by))
        }
        v1.post("/services/:name/resume") { request, context -> RolloutRecord in
            let body = try await request.decodeIfPresent(as: CommandRequest.self, context: context, otherwise: CommandRequest())
            return try await controller.command(service: try context.parameters.require("name"), .resume, by: try context.actor(label: body.by))
        }
        v1.post("/services/:name/abort") { request, context -> RolloutRecord in
            let body = try await request.decodeIfPresent(as: CommandRequest.self, context: context, otherwise: CommandRequest())
            return try await controller.abortRollout(service: try context.parameters.require("name"), by: try context.actor(label: body.by))
        }
        v1.post("/services/:name/retry") { request, context -> EditedResponse<RolloutRecord> in
            let body = try await request.decodeIfPresent(as: CommandRequest.self, context: context, otherwise: CommandRequest())
            let record = try await controller.retry(service: try context.parameters.require("name"), by: try context.actor(label: body.by))
            return EditedResponse(status: .created, response: record)
        }
        v1.get("/services/:name/why") { request, context in
            let text = request.uri.queryParameters.get("rollout")
            let id = try text.map { t -> Int64 in
                guard let id = Int64(t) else { throw APIError(.badRequest, "rollout must be a number (got \(t))") }
                return id
            }
            return try await controller.why(service: try context.parameters.require("name"), rolloutID: id)
        }
        v1.get("/services/:name/rollouts") { request, context in
            let limit = request.uri.queryParameters.get("limit").flatMap(Int.init) ?? 50
            return try await controller.history(service: try context.parameters.require("name"), limit: max(1, min(limit, 1000)))
        }
        v1.get("/services/:name/verifications") { request, context -> [VerificationRecord] in
            let text = request.uri.queryParameters.get("limit")
            let limit = try text.map { t -> Int in
                guard let n = Int(t), n >= 1 else { throw APIError(.badRequest, "limit must be a positive number (got \(t))") }
                return min(n, 1000)
            } ?? 100
            return try await controller.verifications(service: try context.parameters.require("name"), limit: limit)
        }
        v1.get("/services/:name/backups") { _, context -> [DatabaseBackupRecord] in
            try await controller.databaseBackups(service: try context.parameters.require("name"))
        }
        v1.post("/backups/:id/restore") { _, context -> DatabaseRestoreResult in
            let text = try context.parameters.require("id")
            guard let id = Int64(text), id > 0 else {
                throw APIError(.badRequest, "backup id must be a positive number (got \(text.debugDescription)); `slipway backups list SERVICE` shows them")
            }
            context.audit.target("backup/\(id)")
            let result = try await controller.restoreDatabaseBackup(id: id, by: try context.caller.name)
            context.audit.set("service", result.backup.service)
            context.audit.set("safety_backup", result.safetyBackup.map { String($0.id) } ?? "")
            return result
        }
        v1.get("/services/:name/events") { request, context in
            let limit = request.uri.queryParameters.get("limit").flatMap(Int.init) ?? 100
            return try await controller.events(service: try context.parameters.require("name"), limit: max(1, min(limit, 10000)))
        }
        v1.get("/report") { request, _ -> DeliveryReport in
            let query = request.uri.queryParameters
            let sinceText = query.get("since") ?? "30d"
            guard let since = DurationText.parse(sinceText), since > .zero else {
                throw APIError(.badRequest, "since: expected a duration such as 30d, 12h or 90m (got \(sinceText))")
            }
            return try await controller.report(environment: query.get("env"), service: query.get("service"), since: since.seconds)
        }
        v1.get("/services/:name/stats") { request, context in
            let seconds = request.uri.queryParameters.get("window").flatMap(Double.init) ?? Defaults.statsWindow.seconds
            guard seconds > 0, seconds <= 300 else { throw APIError(.badRequest, "window must be between 0 and 300 seconds (got \(seconds))") }
            return try await controller.stats(service: try context.parameters.require("name"), window: .milliseconds(Int64(seconds * 1000)))
        }
        v1.get("/services/:name/logs") { request, context -> Response in
            let name = try context.parameters.require("name")
            let version = request.uri.queryParameters.get("version")
            let tail = request.uri.queryParameters.get("tail").flatMap(Int.init) ?? 100
            let follow = ["1", "true", "yes"].contains(request.uri.queryParameters.get("follow") ?? "")
            guard tail >= 0 else { throw APIError(.badRequest, "tail must be 0 or more (got \(tail))") }
            let sources = try await controller.logSources(service: name, version: version, tail: tail, follow: follow)
            if sources.isEmpty {
                throw APIError(.notFound, "\(name) has no instance logs" + (version.map { " for version \($0)" } ?? ""))
            }
            return LogStream.response(sources: sources, follow: follow, redaction: await controller.redaction)
        }
        v1.get("/rollouts/:id") { _, context in
            let text = try context.parameters.require("id")
            guard let id = Int64(text) else { throw APIError(.badRequest, "rollout id must be a number (got \(text))") }
            return try await controller.rollout(id: id)
        }
        addAccessRoutes(to: v1, controller: controller)
        addSecretRoutes(to: v1, controller: controller)
        addEnvironmentRoutes(to: v1, controller: controller)
        // A consistent copy of the state database, made while everything runs (admin).
        v1.get("/backup") { _, context -> Response in
            let (data, summary) = try await controller.stateSnapshot()
            context.audit.set("bytes", String(summary.bytes))
            context.audit.set("sha256", summary.sha256)
            return Response(status: .ok, headers: [.contentType: "application/vnd.sqlite3"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        addDashboardRoutes(to: router, controller: controller, limiter: limiter, secureCookies: secureCookies, streams: streams)
        addNotificationRoutes(to: v1, controller: controller)
        addServerRoutes(to: v1, controller: controller)
        v1.post("/router/upgrade") { _, context -> RouterUpgrade in
            let result = try await controller.upgradeRouter()
            context.audit.set("pid", String(result.pid))
            context.audit.set("previous_pid", String(result.previousPID))
            return result
        }
        v1.post("/shutdown") { request, context -> LivenessReply in
            let body = try await request.decodeIfPresent(as: ShutdownRequest.self, context: context, otherwise: ShutdownRequest(dataPlane: false))
            context.audit.set("data_plane", String(body.dataPlane))
            if body.dataPlane { try await controller.stopEverything() }
            Task { await shutdown(body.dataPlane) }
            return LivenessReply(status: body.dataPlane ? "stopped control plane, instances and data plane" : "stopping control plane", version: SlipwayVersion.current)
        }
        return router
    }
}

extension RouterUpgrade: ResponseEncodable {}
extension Array: @retroactive ResponseGenerator where Element: Encodable {}
extension Array: @retroactive ResponseEncodable where Element: Encodable {}

