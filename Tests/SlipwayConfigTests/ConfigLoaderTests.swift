import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing
import Yams

@Suite struct ConfigLoaderTests {
    static let everyKey = """
        service: web-api
        run: ["./bin/web", "--port", "{{port}}", "--label=v{{version}}", "--workers", 4]
        env:
          LOG_LEVEL: debug
          WORKERS: 4
          DEBUG: true
          _UNDERSCORE: ""
        working_dir: app
        health:
          path: /healthz
          interval: 2s
          timeout: 1500ms
          healthy: 3
          unhealthy: 5
          grace: 1m30s
          kind: grpc
          grpc_service: shop.Orders
          passive_failures: 3
          passive_ejection: 30s
        listen: 0.0.0.0:9090
        hosts: [Example.COM, api.example.com]
        replicas: 3
        upstream_timeout: 45
        websocket_drain: 1m
        max_request_body: 10m
        trace_requests: 25%
        upstream: h2c
        strategy:
          blue-green:
            keep_previous: 0
            deploy_timeout: 2m
            drain_timeout: 10s
            max_restarts: 5

        """

    @Test func parsesEveryKey() throws {
        let spec = try ConfigLoader.parse(Self.everyKey, fileName: "slipway.yml", baseDirectory: "/srv/web")
        var expected = ServiceSpec(
            name: "web-api",
            run: ["./bin/web", "--port", "{{port}}", "--label=v{{version}}", "--workers", "4"],
            env: ["LOG_LEVEL": "debug", "WORKERS": "4", "DEBUG": "true", "_UNDERSCORE": ""],
            workingDirectory: "/srv/web/app",
            health: HealthSpec(path: "/healthz", interval: .seconds(2), timeout: .milliseconds(1500), healthy: 3, unhealthy: 5, grace: .seconds(90)),
            listen: ListenAddress(host: "0.0.0.0", port: 9090),
            hosts: ["example.com", "api.example.com"],
            replicas: 3,
            strategy: .blueGreen(BlueGreenSpec(keepPrevious: .zero, deployTimeout: .seconds(120), drainTimeout: .seconds(10), maxRestarts: 5)),
            upstreamTimeout: .seconds(45)
        )
        expected.websocketDrain = .seconds(60)
        expected.maxRequestBody = 10 << 20
        expected.traceRequests = 0.25
        expected.upstream = .h2c
        expected.health.kind = .grpc
        expected.health.grpcService = "shop.Orders"
        expected.health.passiveFailures = 3
        expected.health.passiveEjection = .seconds(30)
        #expect(spec == expected)
        // The spec survives the JSON form the store and API use.
        let json = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(ServiceSpec.self, from: json) == spec)
    }

    /// The all-keys config above must use every key the field tables define, so a new key
    /// cannot be added without a parsing test.
    /// The keys only a canary or rolling config can hold (one strategy per file), plus `analysis` and `pin`.
    static let everyCanaryKey = """
        service: web
        run: [./web]
        strategy:
          blue-green: { preview_analysis: default, watch: 1m, watch_analysis: default }
        analysis:
          default: { interval: 2s }
        pin: { header: X-Version-Pin, allow: [10.0.0.0/8] }
        ---
        service: web
        run: [./web]
        strategy:
          canary: { steps: [ {weight: 5} ], analysis: default, sticky: false, max_restarts: 2, keep_previous: 1m, deploy_timeout: 1m, drain_timeout: 5s }
        ---
        service: web
        run: [./web]
        strategy:
          rolling: { max_surge: 2, max_unavailable: 1, analysis: default, rollback: batches, deploy_timeout: 1m, drain_timeout: 5s, max_restarts: 4 }
        """

    /// The edge keys (parsed with real certificate files in EdgeConfigTests).
    static let everyEdgeKey = """
        service: web
        run: [./web]
        tls: { cert: cert.pem, key: key.pem }
        headers: { hsts: max-age=60, csp: "default-src 'self'", content_type_options: nosniff, frame_options: DENY, referrer_policy: no-referrer }
        rate_limit: { per_client: 10/s, burst: 20 }
        restrict: [ { paths: [/admin], allow: [10.0.0.0/8] } ]
        """

    /// `notifications:` and `alerts:` (their entries' keys are checked in NotificationConfigTests).
    static let everyNotificationKey = """
        service: web
        run: [./web]
        notifications: [ { kind: webhook, url: "http://x.org", secret: s, events: [failed], environments: [production] } ]
        alerts: [ { name: a, metric: error_rate, max: 1%, for: 1m, severity: info, window: 30s, min_samples: 5 } ]
        """

    /// `hooks:` (values are checked in HookConfigTests).
    static let everyHookKey = """
        service: web
        run: [./web]
        hooks:
          pre_deploy: { run: [./migrate], working_dir: db, env: {}, timeout: 5m }
          smoke: { run: [./smoke], working_dir: ., env: {}, timeout: 1m }
          post_deploy: { run: [./notify], working_dir: ., env: {}, timeout: 1m }
          on_rollback: { run: [./undo], working_dir: ., env: {}, timeout: 1m }
        """

    /// `backup:` (values are checked in BackupConfigTests); postgres and sqlite exclude each other.
    static let everyBackupKey = [
        "service: web\nrun: [./web]\nbackup: { postgres: \"postgres://app:${PW}@db/shop\", dir: backups, keep: 3, timeout: 5m, restore_on_rollback: true }\n",
        "service: web\nrun: [./web]\nbackup: { sqlite: app.db }\n",
    ]

    /// Container keys (values are checked in ContainerConfigTests), and `artifact` for a local process.
    static let everyTargetKey = [
        """
        service: web
        image: ghcr.io/acme/web:{{version}}
        command: [/web, --port, "{{port}}"]
        args: [--verbose]
        volumes: ["./data:/data:ro", "cache:/cache"]
        cpus: 0.5
        memory: 256m
        user: "1000:1000"
        read_only: true
        network: bridge
        pull: always
        registry: { server: ghcr.io, username: deploy, password: "${REGISTRY_TOKEN}" }
        """,
        "service: web\nrun: [./web, --data, \"{{artifact}}\"]\nartifact: dist\n",
        // Fleet keys (entries are checked in ServerConfigTests).
        "service: web\nrun: [./web]\nservers: [ssh://deploy@web-1, { url: ssh://deploy@web-2, roles: [web] }]\nreplicas_per_host: 2\n",
        "service: web\nrun: [./web]\nservers: [ssh://a, ssh://b]\nwaves: { sizes: [1, 100%], analysis: default }\nmax_failed_hosts: 1\n",
        "service: web\nimage: ghcr.io/acme/web:{{version}}\nservers: [{ url: ssh://deploy@web-1, docker_host: unix:///run/podman/podman.sock }]\n",
    ]

    static let everyVerifyKey = """
        service: web
        run: [./web]
        verify:
          after: [30m, 2h]
          analysis: default
          command: { run: [./smoke.sh], working_dir: checks, env: {}, timeout: 1m }
          on_failure: rollback
        """

    @Test func everyKeyTestCoversTheFieldTables() throws {
        var used: Set<String> = []
        func walk(_ node: Node, _ prefix: String) {
            // Free-form maps: their keys are names, not fields.
            guard case .mapping(let mapping) = node, prefix != "env", prefix != "analysis", prefix != "environments" else { return }
            for (key, value) in mapping {
                let path = prefix.isEmpty ? key.string! : "\(prefix).\(key.string!)"
                used.insert(path)
                walk(value, path)
            }
        }
        walk(try #require(try Yams.compose(yaml: Self.everyKey)), "")
        for document in try Yams.compose_all(yaml: Self.everyCanaryKey) { walk(document, "") }
        walk(try #require(try Yams.compose(yaml: Self.everyEdgeKey)), "")
        walk(try #require(try Yams.compose(yaml: Self.everyNotificationKey)), "")
        walk(try #require(try Yams.compose(yaml: Self.everyHookKey)), "")
        _ = try ConfigLoader.parse(Self.everyHookKey, fileName: "slipway.yml", baseDirectory: nil)
        for text in Self.everyBackupKey {
            walk(try #require(try Yams.compose(yaml: text)), "")
            _ = try ConfigLoader.parse(text, fileName: "slipway.yml", baseDirectory: "/srv")
        }
        _ = try ConfigLoader.parse(Self.everyNotificationKey, fileName: "slipway.yml", baseDirectory: nil)
        walk(try #require(try Yams.compose(yaml: Self.everyVerifyKey)), "")
        _ = try ConfigLoader.parse(Self.everyVerifyKey, fileName: "slipway.yml", baseDirectory: "/srv")
        for text in Self.everyTargetKey {
            walk(try #require(try Yams.compose(yaml: text)), "")
            _ = try ConfigLoader.parse(text, fileName: "slipway.yml", baseDirectory: "/srv")
        }
        // Environments' own keys are covered by EnvironmentConfigTests.
        walk(try #require(try Yams.compose(yaml: "environments: { staging: { replicas: 1 } }")), "")
        #expect(used == Set(ConfigSchema.acceptedKeys))
        // And the canary documents parse.
        for text in Self.everyCanaryKey.components(separatedBy: "---\n") {
            _ = try ConfigLoader.parse(text, fileName: "slipway.yml", baseDirectory: nil)
        }
    }

    @Test func appliesDefaultsFromCore() throws {
        let spec = try ConfigLoader.parse(minimal, fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec == ServiceSpec(name: "web", run: ["./web", "--port", "{{port}}"]))
        #expect(spec.health == HealthSpec())
        #expect(spec.replicas == Defaults.replicas)
        #expect(spec.listen == Defaults.listen)
        #expect(spec.strategy == .blueGreen(BlueGreenSpec()))
        #expect(spec.workingDirectory == nil)
    }

    @Test func shortHealthIntervalShortensTheDefaultTimeout() throws {
        let spec = try ConfigLoader.parse(minimal + "health: {interval: 300ms}\n", fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.health.interval == .milliseconds(300))
        #expect(spec.health.timeout == .milliseconds(300))
    }

    @Test(arguments: [
        ("strategy: blue-green", BlueGreenSpec()),
        ("strategy:\n  blue-green:", BlueGreenSpec()),
        ("strategy: {blue-green: {}}", BlueGreenSpec()),
        ("strategy: {blue-green: {drain_timeout: 1}}", BlueGreenSpec(drainTimeout: .seconds(1))),
    ])
    func strategyForms(yaml: String, expected: BlueGreenSpec) throws {
        let spec = try ConfigLoader.parse(minimal + yaml + "\n", fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.strategy == .blueGreen(expected))
    }

    @Test(arguments: [
        ("listen: 127.0.0.1:8080", ListenAddress(host: "127.0.0.1", port: 8080)),
        ("listen: \":8081\"", ListenAddress(host: "0.0.0.0", port: 8081)),
        ("listen: 8082", ListenAddress(host: "0.0.0.0", port: 8082)),
        ("listen: \"[::1]:8083\"", ListenAddress(host: "::1", port: 8083)),
    ])
    func listenForms(yaml: String, expected: ListenAddress) throws {
        let spec = try ConfigLoader.parse(minimal + yaml + "\n", fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.listen == expected)
    }

    @Test func durationForms() throws {
        let yaml = minimal + "health: {interval: 1m30s, timeout: 1.5, grace: 0}\nupstream_timeout: \"90\"\n"
        let spec = try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: nil)
        #expect(spec.health.interval == .seconds(90))
        #expect(spec.health.timeout == .milliseconds(1500))
        #expect(spec.health.grace == .zero)
        #expect(spec.upstreamTimeout == .seconds(90))
    }

    @Test func loadsTheExampleConfig() throws {
        let spec = try ConfigLoader.load(file: exampleConfigPath)
        #expect(spec.name == "hello")
        #expect(spec.run == ["hello-app", "--port", "{{port}}", "--version", "{{version}}"])
        #expect(spec.health == HealthSpec(path: "/health", interval: .milliseconds(500), timeout: .milliseconds(500), healthy: 2, unhealthy: 3, grace: .seconds(10)))
        #expect(spec.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(spec.replicas == 2)
        #expect(spec.strategy == .blueGreen(BlueGreenSpec(keepPrevious: .seconds(600), deployTimeout: .seconds(60), drainTimeout: .seconds(30))))
        #expect(spec.workingDirectory == repositoryRoot.appendingPathComponent("Examples/hello").path)
    }

    @Test func workingDirectoryResolution() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("slipway.yml").path

        try minimal.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(file: file).workingDirectory == directory.standardizedFileURL.path)

        try (minimal + "working_dir: ../srv/./app\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(file: file).workingDirectory == directory.deletingLastPathComponent().appendingPathComponent("srv/app").standardizedFileURL.path)

        try (minimal + "working_dir: /opt/web\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(file: file).workingDirectory == "/opt/web")

        #expect(try ConfigLoader.parse(minimal + "working_dir: app\n", fileName: "x", baseDirectory: nil).workingDirectory == "app")
    }

    @Test func missingFileNamesTheFile() {
        #expect {
            _ = try ConfigLoader.load(file: "/nonexistent/slipway.yml")
        } throws: { error in
            let errors = (error as? ConfigErrors)?.errors ?? []
            return errors.count == 1 && errors[0].description.hasPrefix("/nonexistent/slipway.yml:1:1: cannot read the file")
        }
    }
}
