import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `servers:` and `replicas_per_host:`: URLs and objects, per-environment fleets, the spec
/// through JSON, and the precise error for each bad entry.
@Suite struct ServerConfigTests {
    func parse(_ yaml: String) throws -> ServiceSpec {
        try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: "/srv/app")
    }

    @Test func urlsAndObjects() throws {
        let spec = try parse("""
            service: web
            run: [./web]
            servers:
              - ssh://deploy@web-1.example.com
              - ssh://10.0.0.7:2222
              - url: ssh://ops@[2001:db8::7]:22
                roles: [web, edge]
                labels: { zone: eu-2, rack: 7 }
                dir: /srv/slipway
              - ssh://bastion-alias
            replicas_per_host: 2
            """)
        #expect(spec.servers == [
            ServerSpec(user: "deploy", host: "web-1.example.com"),
            ServerSpec(user: nil, host: "10.0.0.7", port: 2222),
            ServerSpec(user: "ops", host: "2001:db8::7", port: 22, roles: ["web", "edge"], labels: ["zone": "eu-2", "rack": "7"], dir: "/srv/slipway"),
            ServerSpec(host: "bastion-alias"),
        ])
        #expect(spec.servers.map(\.id) == ["web-1.example.com", "10.0.0.7:2222", "2001:db8::7:22", "bastion-alias"])
        #expect(spec.servers[2].url == "ssh://ops@[2001:db8::7]:22")
        #expect(spec.servers[0].directory == Defaults.serverDirectory)
        #expect(spec.replicasPerHost == 2 && spec.instancesPerServer == 2)
        let decoded = try JSONDecoder().decode(ServiceSpec.self, from: try JSONEncoder().encode(spec))
        #expect(decoded == spec, "the spec survives the store")
        // Without replicas_per_host, replicas is per server.
        #expect(try parse("service: web\nrun: [./web]\nreplicas: 3\nservers: [ssh://a]\n").instancesPerServer == 3)
        #expect(try parse("service: web\nrun: [./web]\n").servers.isEmpty)
    }

    @Test func environmentsHaveTheirOwnFleet() throws {
        let units = try ConfigLoader.parseUnits("""
            service: web
            run: [./web]
            servers: [ssh://deploy@staging-1]
            environments:
              staging: { listen: 8081 }
              production:
                servers: [ssh://deploy@web-1, ssh://deploy@web-2, ssh://deploy@web-3]
                replicas_per_host: 2
            """, fileName: "slipway.yml", baseDirectory: nil)
        let staging = try #require(units.first { $0.environmentName == "staging" })
        let production = try #require(units.first { $0.environmentName == "production" })
        #expect(staging.servers.map(\.host) == ["staging-1"] && staging.replicasPerHost == nil)
        #expect(production.servers.map(\.host) == ["web-1", "web-2", "web-3"] && production.instancesPerServer == 2)
    }

    @Test func badEntriesNameTheirLine() {
        let errors = configErrors("""
            service: web
            run: [./web]
            servers:
              - http://web-1
              - ssh://web-2:99999
              - ssh://bad user@web-3
              - ssh://web-4/path
              - ssh://-oProxyCommand=evil
              - url: ssh://web-6
                roles: [Web]
                colour: red
              - 42
              - ssh://web-2:99999
            replicas_per_host: 0
            """).map(short)
        #expect(errors == [
            "4:5: servers[0]: \"http://web-1\" is not an ssh:// URL: write ssh://USER@HOST[:PORT], e.g. ssh://deploy@web-1.example.com",
            "5:5: servers[1]: the port \"99999\" in \"ssh://web-2:99999\" must be 1-65535",
            "6:5: servers[2]: the user \"bad user\" in \"ssh://bad user@web-3\" is not a login name (letters, digits, '.', '_', '-')",
            "7:5: servers[3]: \"ssh://web-4/path\" has a path or query; write ssh://USER@HOST[:PORT]",
            "8:5: servers[4]: the host \"-oProxyCommand=evil\" in \"ssh://-oProxyCommand=evil\" is not a host name or address",
            "10:13: servers[5].roles[0]: \"Web\" is not a valid role: lowercase letters, digits, '_' and '-', starting with a letter",
            "11:5: servers[5].colour: unknown key `colour`; allowed: `url`, `roles`, `labels`, `dir`, `docker_host`",
            "12:5: servers[6]: expected ssh://[USER@]HOST[:PORT] or an object with `url`, got the integer 42",
            "13:5: servers[7]: the port \"99999\" in \"ssh://web-2:99999\" must be 1-65535",
            "14:20: replicas_per_host: must be between 1 and 100 (got 0)",
        ], "\(errors)")
        #expect(singleError("service: web\nrun: [./web]\nservers: [ssh://a, ssh://b, ssh://a]\n") == "3:10: servers: lists the server a more than once")
        #expect(singleError("service: web\nrun: [./web]\nservers: []\n") == "3:10: servers: must list at least one entry")
        #expect(singleError("service: web\nimage: acme/web\nservers: [{ url: ssh://a, docker_host: tcp://10.0.0.1:2375 }]\n")
            == "3:40: servers[0].docker_host: \"tcp://10.0.0.1:2375\" is not a unix socket: the server's engine is reached over unix:///PATH on that server (through its router)")
        #expect(singleError("service: web\nimage: acme/web\nservers: [{ url: ssh://a, docker_host: \"unix://run/docker.sock\" }]\n")
            == "3:40: servers[0].docker_host: \"unix://run/docker.sock\" names no absolute socket path: write unix:///path/to/docker.sock")
    }

    @Test func wavesSelectServersByRoleOrLabel() throws {
        let fleet = """
            service: web
            run: [./web]
            servers:
              - { url: ssh://a, roles: [web] }
              - { url: ssh://b, roles: [web, canary], labels: { zone: eu-2 } }
              - { url: ssh://c, labels: { zone: eu-2 } }

            """
        let spec = try parse(fleet + "waves: [{ roles: [canary] }, { labels: { zone: eu-2 } }, 100%]\n")
        #expect(spec.waves?.sizes == [.select(ServerSelector(roles: ["canary"])), .select(ServerSelector(labels: ["zone": "eu-2"])), .percent(100)])
        #expect(spec.waves.map { $0.layout(spec.servers).order } == ["b", "c", "a"])
        #expect(singleError(fleet + "waves: [{ roles: [db] }, 100%]\n")
            == "7:8: waves: wave 1 {roles: [db]} matches none of the 3 server(s) of `servers:` (roles: canary, web; labels: zone=eu-2)")
        #expect(singleError(fleet + "waves: [{ labels: { zone: eu-2 } }, { roles: [canary] }, 100%]\n")
            == "7:8: waves: must grow: wave 2 {roles: [canary]} adds no server to the waves before it")
        #expect(singleError(fleet + "waves: [{ roles: [canary] }]\n")
            == "7:8: waves: the last wave covers 1 of the 3 server(s); end with 100%")
        #expect(singleError(fleet + "waves: [{}, 100%]\n") == "7:9: waves[0]: names no server: give `roles` and/or `labels`")
        #expect(singleError(fleet + "waves: [{ role: canary }, 100%]\n") == "7:11: waves[0].role: unknown key `role`; did you mean `roles`?")
    }

    @Test func containersOnServersNameEachServersEngine() throws {
        let spec = try parse("""
            service: web
            image: ghcr.io/acme/web:{{version}}
            servers:
              - ssh://deploy@web-1
              - { url: ssh://deploy@web-2, docker_host: "unix:///run/podman/podman.sock" }
            """)
        #expect(spec.container?.image == "ghcr.io/acme/web:{{version}}")
        #expect(spec.servers.map(\.dockerHost) == [nil, "unix:///run/podman/podman.sock"])
        // It survives the store's JSON round trip.
        let decoded = try JSONDecoder().decode(ServiceSpec.self, from: try JSONEncoder().encode(spec))
        #expect(decoded.servers == spec.servers)
    }

    @Test func wavesAndMaxFailedHosts() throws {
        let short = try parse("service: web\nrun: [./web]\nservers: [ssh://a, ssh://b, ssh://c, ssh://d]\nwaves: [1, 50%, 100%]\nmax_failed_hosts: 1\n")
        #expect(short.waves == WavesSpec(sizes: [.hosts(1), .percent(50), .percent(100)]) && short.maxFailedHosts == 1)
        let long = try parse("""
            service: web
            run: [./web]
            servers: [ssh://a, ssh://b]
            analysis: { errors: { interval: 10s } }
            waves: { sizes: [1, 100%], analysis: errors }
            """)
        #expect(long.waves == WavesSpec(sizes: [.hosts(1), .percent(100)], analysis: "errors"))
        let decoded = try JSONDecoder().decode(ServiceSpec.self, from: try JSONEncoder().encode(long))
        #expect(decoded == long, "the waves survive the store")
        #expect(try parse("service: web\nrun: [./web]\nservers: [ssh://a]\n").waves == nil)

        let fleet = "service: web\nrun: [./web]\nservers: [ssh://a, ssh://b, ssh://c, ssh://d]\n"
        #expect(singleError(fleet + "waves: [50%, 1, 100%]\n") == "4:8: waves: must grow: 1 covers 1 of the 4 server(s), fewer than the wave before (2)")
        #expect(singleError(fleet + "waves: [1, 2]\n") == "4:8: waves: the last wave covers 2 of the 4 server(s); end with 100%")
        #expect(singleError(fleet + "waves: [0, 100%]\n") == "4:9: waves[0]: the integer 0 is not a wave size: a number of servers (1 or more), a share of the fleet (1% to 100%), or {roles: [...]} / {labels: {...}} naming servers")
        #expect(singleError(fleet + "waves: [1, 150%]\n") == "4:12: waves[1]: the string \"150%\" is not a wave size: a number of servers (1 or more), a share of the fleet (1% to 100%), or {roles: [...]} / {labels: {...}} naming servers")
        #expect(singleError(fleet + "waves: { sizes: [1, 100%], analysis: nope }\n") == "4:38: waves.analysis: unknown analysis `nope`; the file defines none under `analysis:`")
        #expect(singleError(fleet + "waves: [1, 100%]\nstrategy: { canary: { steps: [{ weight: 50 }] } }\n") == "4:8: waves: applies to blue-green rollouts; a canary splits the traffic of every server at once")
        #expect(singleError(fleet + "strategy: { rolling: {} }\n")?.hasPrefix("4:11: strategy: strategy `rolling` replaces instances by count, not by server") == true)
        #expect(singleError("service: web\nrun: [./web]\nwaves: [1, 100%]\n") == "3:8: waves: applies to a service on `servers:` only")
        #expect(singleError("service: web\nrun: [./web]\nmax_failed_hosts: 2\n") == "3:19: max_failed_hosts: applies to a service on `servers:` only")
    }

    @Test func theFleetExampleLoads() throws {
        let spec = try ConfigLoader.load(file: repositoryRoot.appendingPathComponent("Examples/hello/fleet.yml").path)
        #expect(spec.servers.count == 3 && spec.instancesPerServer == 2)
        #expect(spec.waves == WavesSpec(sizes: [.hosts(1), .percent(100)], analysis: "errors") && spec.maxFailedHosts == 0)
    }

    @Test(arguments: [
        ("ssh://h", ServerSpec(host: "h")),
        ("ssh://u@h:2", ServerSpec(user: "u", host: "h", port: 2)),
        ("ssh://u@[::1]", ServerSpec(user: "u", host: "::1")),
        ("ssh://h.example.com/", ServerSpec(host: "h.example.com")),
    ])
    func parses(text: String, server: ServerSpec) throws {
        #expect(try ServerSpec.parse(text).get() == server)
    }
}
