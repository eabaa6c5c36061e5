import Foundation

/// Runs the real `slipway` binary for end-to-end tests: a server on a fresh state
/// directory with its API on a random port, plus CLI invocations against it.
public final class SlipwayHarness: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let stateDir: String
    public private(set) var slipway: String
    public private(set) var server: ChildProcess?
    public private(set) var apiURL: String = ""
    /// The state directory's first admin token (read once the server is up).
    public private(set) var adminToken: String = ""

    public init() throws {
        directory = try TemporaryDirectory(prefix: "slipway-e2e")
        stateDir = directory.file("state")
        slipway = try BuiltProducts.path("slipway")
        _ = try BuiltProducts.path("hello-app")
    }

    /// A hello-app service config listening on a free loopback port. Health is checked
    /// every 200 ms, and three checks in a row must fail (200 ms each) before an instance
    /// counts as unhealthy: fast, yet a CI machine busy with the whole suite does not make
    /// a healthy instance flap.
    public func helloConfig(name: String = "hello", listenPort: Int = freeLoopbackPort(), replicas: Int = 2, extra: String = "",
                            keepPrevious: String = "10m", deployTimeout: String = "20s", drainTimeout: String = "10s",
                            strategy: String? = nil) throws -> (path: String, port: Int) {
        let strategyText = strategy ?? "blue-green: { keep_previous: \(keepPrevious), deploy_timeout: \(deployTimeout), drain_timeout: \(drainTimeout) }"
        let text = """
            service: \(name)
            run: ["hello-app", "--port", "{{port}}", "--version", "{{version}}"]
            health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 2, unhealthy: 5, grace: 5s }
            listen: 127.0.0.1:\(listenPort)
            replicas: \(replicas)
            strategy:
              \(strategyText)
            \(extra)
            """
        return (try directory.write("\(name).yml", text), listenPort)
    }

    /// The hello service as containers of `image` (an image made with `TestEngine.helloImage`,
    /// `{{version}}` in its tag), never pulled unless `extra` says otherwise; strategy as in
    /// `helloConfig`. Health takes 5 failed checks in a row (1 s) to count an instance
    /// unhealthy: requests reach a container through the engine's proxy, and on a machine
    /// busy with the whole suite a few 200 ms checks in a row can be slow without anything
    /// being wrong with the instance.
    public func helloContainerConfig(image: String, name: String = "hello", listenPort: Int = freeLoopbackPort(), replicas: Int = 2, extra: String = "",
                                     keepPrevious: String = "10m", deployTimeout: String = "30s", drainTimeout: String = "10s",
                                     strategy: String? = nil, pull: String = "never") throws -> (path: String, port: Int) {
        let strategyText = strategy ?? "blue-green: { keep_previous: \(keepPrevious), deploy_timeout: \(deployTimeout), drain_timeout: \(drainTimeout) }"
        let text = """
            service: \(name)
            image: \(image)
            pull: \(pull)
            health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 2, unhealthy: 5, grace: 5s }
            listen: 127.0.0.1:\(listenPort)
            replicas: \(replicas)
            strategy:
              \(strategyText)
            \(extra)
            """
        return (try directory.write("\(name).yml", text), listenPort)
    }

    /// Starts `slipway server` and waits for its readiness line (which names the API URL).
    public func startServer(configs: [String] = [], extraArguments: [String] = [], environment: [String: String]? = nil) async throws {
        var args = ["server", "--state-dir", stateDir, "--api", "127.0.0.1:0"]
        for c in configs { args += ["--config", c] }
        let child = try ChildProcess(executable: slipway, arguments: args + extraArguments, environment: environment)
        server = child
        apiURL = try await eventually("slipway server to print its API URL", timeout: .seconds(60)) {
            if !child.isRunning {
                throw PollStop("slipway server exited with \(child.process.terminationStatus): \(child.stderr)")
            }
            // Take the newest readiness block (a restarted server prints its own).
            guard let line = child.stdout.split(separator: "\n").last(where: { $0.contains("API:") }),
                  let start = line.range(of: "http://") ?? line.range(of: "https://") else { return nil }
            return String(line[start.lowerBound...].prefix { !$0.isWhitespace })
        }
        adminToken = (try String(contentsOfFile: stateDir + "/admin.token", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `Authorization` header with the admin token, for direct API requests.
    public var authorization: [(String, String)] { [("Authorization", "Bearer \(adminToken)")] }

    /// GETs an API path with the admin token.
    public func api(_ path: String) async throws -> TestHTTP.Reply {
        try await TestHTTP.request(apiURL + path, method: .GET, headers: authorization)
    }

    /// What a failed wait should show: the service's status, the fleet's servers, the
    /// service's last events and the tail of the control plane's log.
    public func diagnostics(service: String, events: Int = 40) async -> String {
        var parts: [String] = []
        if let status = try? await cli(["status", service]) { parts.append("status:\n\(status.stdout)\(status.stderr)") }
        if let servers = try? await cli(["servers", "status"]) { parts.append("servers status:\n\(servers.stdout)\(servers.stderr)") }
        if let reply = try? await api("/v1/services/\(service)/events?limit=\(events)") { parts.append("events:\n\(reply.body)") }
        if let server { parts.append("control plane stderr (tail):\n\(server.stderr.suffix(4000))") }
        if let log = try? String(contentsOfFile: stateDir + "/logs/router.log", encoding: .utf8) {
            parts.append("router log (tail):\n\(log.suffix(3000))")
        }
        return parts.joined(separator: "\n")
    }

    /// Runs a CLI command against the server; returns status and output.
    @discardableResult
    public func cli(_ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(120)) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await runCommand(slipway, arguments, environment: ["SLIPWAY_SERVER": apiURL, "SLIPWAY_TOKEN": adminToken], standardInput: stdin, timeout: timeout)
    }

    /// Runs a CLI command with extra environment (another token, no token, stdin input…).
    @discardableResult
    public func cli(_ arguments: [String], environment: [String: String], stdin: String? = nil, timeout: Duration = .seconds(120)) async throws -> (status: Int32, stdout: String, stderr: String) {
        var env = ["SLIPWAY_SERVER": apiURL, "SLIPWAY_TOKEN": adminToken]
        for (k, v) in environment { env[k] = v }
        return try await runCommand(slipway, arguments, environment: env, standardInput: stdin, timeout: timeout)
    }

    /// Copies the built `slipway` and `hello-app` into `directory` and runs the server and
    /// the CLI from there (a binary the test may replace, as an upgrade in place does).
    /// Returns the copy of `slipway`.
    @discardableResult
    public func runFromCopies(in directory: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["slipway", "hello-app"] {
            let copy = directory + "/" + name
            try? fm.removeItem(atPath: copy)
            try fm.copyItem(atPath: try BuiltProducts.path(name), toPath: copy)
        }
        slipway = directory + "/slipway"
        return slipway
    }

    /// Stops the control plane alone (`slipway down --control-plane-only`): the router and
    /// the instances keep serving.
    public func stopControlPlane() async throws {
        guard let server else { return }
        let reply = try await cli(["down", "--control-plane-only"])
        guard reply.status == 0 else { throw PollStop("slipway down --control-plane-only failed: \(reply.stderr)") }
        _ = try await server.wait(timeout: .seconds(30))
        self.server = nil
    }

    /// Kills the control plane with SIGKILL (the data plane and instances keep running).
    public func killServer() async throws {
        guard let server else { return }
        server.signal(SIGKILL)
        _ = try await server.wait()
        self.server = nil
    }

    /// Stops everything: instances, data plane, control plane; then deletes the directory.
    public func shutdown() async {
        if server?.isRunning == true {
            _ = try? await cli(["down"], timeout: .seconds(60))
            _ = try? await server?.wait(timeout: .seconds(30))
        }
        // Whatever is left (a test that killed the control plane): kill by state dir.
        Self.killProcesses(mentioning: stateDir)
        directory.remove()
    }

    /// Kills every process whose command line mentions `text` and every instance whose
    /// log lives under it (SIGKILL; tests only).
    public static func killProcesses(mentioning text: String) {
        let fm = FileManager.default
        for pid in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(pid) != nil {
            if let cmd = fm.contents(atPath: "/proc/\(pid)/cmdline"), String(decoding: cmd, as: UTF8.self).contains(text) {
                kill(Int32(pid)!, SIGKILL)
                continue
            }
            for fd in ["1", "2"] {
                if let target = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"), target.hasPrefix(text) {
                    kill(Int32(pid)!, SIGKILL)
                    break
                }
            }
        }
    }

    /// GETs the service's `/` through the router and returns the version that answered.
    public func versionAt(port: Int, host: String = "127.0.0.1") async throws -> String {
        let reply = try await TestHTTP.get("http://\(host):\(port)/")
        guard reply.status == 200, let v = reply.header("X-Version") else {
            throw PollTimeout(description: "GET / answered \(reply.status): \(reply.body)")
        }
        return v
    }
}

#if canImport(Glibc)
import Glibc
#endif
