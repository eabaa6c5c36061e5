import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing

/// `image:` and its companions, and `artifact:`: what parses (defaults, units, paths made
/// absolute, per-environment overrides, the spec through JSON) and the precise error for
/// what does not.
@Suite struct ContainerConfigTests {
    func parse(_ yaml: String) throws -> ServiceSpec {
        try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: "/srv/app")
    }

    @Test func imageWithDefaults() throws {
        let spec = try parse("service: web\nimage: ghcr.io/acme/web:{{version}}\n")
        #expect(spec.target == .container)
        #expect(spec.run.isEmpty)
        let container = try #require(spec.container)
        #expect(container == ContainerSpec(image: "ghcr.io/acme/web:{{version}}"))
        #expect(container.pull == .missing && container.network == .bridge && !container.readOnly && container.volumes.isEmpty)
        #expect(container.reference(version: "v2") == "ghcr.io/acme/web:v2")
    }

    @Test func everySettingAndUnits() throws {
        let spec = try parse("""
            service: web
            image: 127.0.0.1:5000/acme/web:{{version}}
            command: [/web, --port, "{{port}}"]
            args: [--label, "{{version}}"]
            volumes: ["./data:/data:ro", "../shared:/shared", "/var/cache/web:/cache:rw", "scratch:/scratch"]
            cpus: 1.5
            memory: 1.5g
            user: "1000:1000"
            read_only: true
            network: host
            pull: always
            registry: { username: deploy, password: "${REGISTRY_TOKEN}" }
            """)
        let container = try #require(spec.container)
        #expect(container.command == ["/web", "--port", "{{port}}"])
        #expect(container.args == ["--label", "{{version}}"])
        #expect(container.volumes == ["/srv/app/data:/data:ro", "/srv/shared:/shared", "/var/cache/web:/cache:rw", "scratch:/scratch"],
                "relative host paths are the config file's; names are volumes")
        #expect(container.cpus == 1.5)
        #expect(container.memory == Int64(1536) << 20)
        #expect(container.user == "1000:1000" && container.readOnly && container.network == .host && container.pull == .always)
        #expect(container.registry == RegistryCredentials(username: "deploy", password: "${REGISTRY_TOKEN}"))
        let decoded = try JSONDecoder().decode(ServiceSpec.self, from: try JSONEncoder().encode(spec))
        #expect(decoded == spec, "the spec survives the store")
    }

    @Test(arguments: [("268435456", Int64(268_435_456)), ("512m", 512 << 20), ("512MiB", 512 << 20), ("2g", 2 << 30), ("64 MB", 64 << 20), ("8192k", 8 << 20)])
    func memorySizes(text: String, bytes: Int64) throws {
        #expect(try parse("service: web\nimage: a/b\nmemory: \(text)\n").container?.memory == bytes)
    }

    @Test func environmentsOverrideContainerSettingsButNotTheImage() throws {
        let units = try ConfigLoader.parseUnits("""
            service: web
            image: acme/web:{{version}}
            memory: 256m
            environments:
              staging: {}
              production:
                listen: 9090
                memory: 1g
                pull: always
                registry: { username: deploy, password: "${TOKEN}" }
            """, fileName: "slipway.yml", baseDirectory: nil)
        let staging = try #require(units.first { $0.environmentName == "staging" }?.container)
        let production = try #require(units.first { $0.environmentName == "production" }?.container)
        #expect(staging.memory == 256 << 20 && staging.pull == .missing && staging.registry == nil)
        #expect(production.memory == 1 << 30 && production.pull == .always && production.registry?.username == "deploy")
        #expect(production.image == staging.image)
        let errors = configErrors("""
            service: web
            image: acme/web:{{version}}
            environments:
              production: { image: "acme/other:{{version}}" }
            """).map(short)
        #expect(errors.count == 1 && errors[0].hasPrefix("4:17: environments.production.image: unknown key `image`"), "\(errors)")
    }

    @Test func artifactIsResolvedAgainstTheConfigFile() throws {
        let spec = try parse("service: web\nrun: [./web, --assets, \"{{artifact}}\"]\nartifact: dist\n")
        #expect(spec.artifact == "/srv/app/dist")
        #expect(spec.target == .local && spec.container == nil)
    }

    @Test func badValuesNameTheirLine() {
        let errors = configErrors("""
            service: web
            image: ghcr.io/Acme/web:{{version}}
            command: []
            volumes: ["data", "./d:relative", "x:/y:rx", "bad name:/z"]
            cpus: 0
            memory: 1k
            user: "a b"
            network: overlay
            pull: sometimes
            registry: { username: me, password: hunter2 }
            """).map(short)
        #expect(errors == [
            "2:8: image: \"ghcr.io/Acme/web:{{version}}\" is not an image reference: write [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST] with a lowercase repository, such as ghcr.io/acme/web:{{version}}",
            "3:10: command: must list at least one entry",
            "4:11: volumes[0]: \"data\" is not a mount: write SOURCE:TARGET[:ro|rw], e.g. ./data:/var/lib/app or cache:/tmp/cache:rw",
            "4:19: volumes[1]: the target \"relative\" of \"./d:relative\" must be an absolute path inside the container",
            "4:35: volumes[2]: the mode \"rx\" of \"x:/y:rx\" must be ro or rw",
            "4:46: volumes[3]: the source \"bad name\" of \"bad name:/z\" is neither a path (absolute, or starting with ./ or ../) nor a volume name (letters, digits, '_', '.', '-')",
            "5:7: cpus: must be between 0 and 1024 (exclusive) (got 0)",
            "6:9: memory: must be at least 6 MiB (got 1k)",
            "7:7: user: must be USER[:GROUP] (names or numeric ids) without spaces",
            "8:10: network: unknown value `overlay`; allowed: `bridge`, `host`",
            "9:7: pull: unknown value `sometimes`; allowed: `never`, `missing`, `always`",
            "10:37: registry.password: must be a `${NAME}` reference to a secret (`slipway secrets set SERVICE NAME`), never the password itself",
        ])
    }

    @Test func runOrImageExactlyOnce() {
        #expect(singleError("service: web\nrun: [./web]\nimage: acme/web\n") == "3:8: image: give `run` (local processes) or `image` (containers), not both")
        #expect(singleError("service: web\nreplicas: 2\n")
            == "1:1: run: the file names nothing to run: give `run: [PROGRAM, ARGS…]` (a local process) or `image: REPOSITORY:TAG` (a container)")
        #expect(singleError("service: web\nrun: [./web]\nmemory: 1g\n")
            == "3:9: memory: `memory` applies to containers; this service runs a local process (`run`). Use `image:` instead of `run:`, or remove `memory`")
        #expect(singleError("service: web\nimage: acme/web\nartifact: dist\n")
            == "3:11: artifact: `artifact` applies to local processes; a container's bytes are its image, pinned by digest")
        #expect(singleError("service: web\nrun: [./web, \"{{artifact}}\"]\n") == "2:6: run: uses {{artifact}}, but the service has no `artifact:`")
        #expect(singleError("service: web\nimage: acme/web:{{tag}}\n") == "2:8: image: unknown placeholder `{{tag}}`; the known placeholder is {{version}}")
        #expect(singleError("service: web\nimage: acme/web\ncommand: [/web, \"{{artifact}}\"]\n")
            == "3:17: command[1]: unknown placeholder `{{artifact}}`; the known placeholders are {{port}} and {{version}}")
    }

    @Test func imageReferences() {
        #expect(ImageReference.problem("ghcr.io/acme/web:v1.2-rc_1") == nil)
        #expect(ImageReference.problem("localhost:5000/web@sha256:" + String(repeating: "a", count: 64)) == nil)
        #expect(ImageReference.problem("web") == nil)
        #expect(ImageReference.problem("Web:v1") != nil)
        #expect(ImageReference.problem("web:v1+build") != nil)
        #expect(ImageReference.versionProblem(image: "acme/web:{{version}}", version: "1.0+b7")?.contains("image tags allow letters, digits") == true)
        #expect(ImageReference.versionProblem(image: "acme/web:latest", version: "1.0+b7") == nil, "no {{version}}: any label")
        #expect(ImageReference.registry(of: "ghcr.io/acme/web:v1") == "ghcr.io")
        #expect(ImageReference.registry(of: "127.0.0.1:5000/web") == "127.0.0.1:5000")
        #expect(ImageReference.registry(of: "acme/web:v1") == "docker.io")
        #expect(ImageReference.split("127.0.0.1:5000/web") == ("127.0.0.1:5000/web", "latest"))
        #expect(ImageReference.split("127.0.0.1:5000/web:v2") == ("127.0.0.1:5000/web", "v2"))
        #expect(ImageReference.repository(of: "acme/web@sha256:abc") == "acme/web")
    }
}
