import Foundation
import SlipwayCore
import SlipwayTargets

/// The fleet `scripts/test-hosts.sh start` made: network namespaces on a bridge, each with
/// a real sshd on its own address, its own host key, and the test client's key authorized;
/// an ssh_config that verifies every host key against a known_hosts file with the real keys.
public struct TestHosts: Sendable {
    /// The hosts' addresses, in order.
    public let addresses: [String]
    /// The hosts' network namespaces, in the same order.
    public let namespaces: [String]
    /// `ssh -F` file: client key, known_hosts, StrictHostKeyChecking yes, BatchMode.
    public let sshConfig: String
    public let knownHosts: String
    /// The script's working directory.
    public let directory: String

    /// Indices (0-based) of the hosts with a Docker Engine of their own
    /// (`scripts/test-hosts.sh start N E`).
    public var engineIndices: [Int] {
        (ProcessInfo.processInfo.environment["SLIPWAY_TEST_SSH_ENGINES"] ?? "").split(separator: " ").compactMap { Int($0).map { $0 - 1 } }
    }

    /// The socket of host `index`'s engine, as `docker_host:` names it.
    public func dockerHost(_ index: Int) -> String { "unix://\(directory)/host\(index + 1)/docker.sock" }

    /// Host `index`'s engine, reached from this machine (the hosts share its file system).
    public func engine(_ index: Int) throws -> TestEngine {
        guard engineIndices.contains(index) else {
            throw PollStop("host \(index + 1) has no container engine: start the hosts with `scripts/test-hosts.sh start N E` (E hosts with an engine), as scripts/test.sh does")
        }
        let host = dockerHost(index)
        return TestEngine(kind: .docker, host: host, client: EngineClient(endpoint: try EngineEndpoint.parse(host, source: "test host \(index + 1)")))
    }

    public static func make() throws -> TestHosts {
        let env = ProcessInfo.processInfo.environment
        guard let hosts = env["SLIPWAY_TEST_SSH_HOSTS"], !hosts.isEmpty, let namespaces = env["SLIPWAY_TEST_SSH_NAMESPACES"],
              let config = env["SLIPWAY_TEST_SSH_CONFIG"], let known = env["SLIPWAY_TEST_SSH_KNOWN_HOSTS"], let dir = env["SLIPWAY_TEST_SSH_DIR"] else {
            throw PollStop("SLIPWAY_TEST_SSH_HOSTS is not set: the fleet tests need the hosts of scripts/test-hosts.sh; run scripts/test.sh, or `eval \"$(scripts/test-hosts.sh start 4)\"` before `swift test`")
        }
        return TestHosts(addresses: hosts.split(separator: " ").map(String.init), namespaces: namespaces.split(separator: " ").map(String.init),
                         sshConfig: config, knownHosts: known, directory: dir)
    }

    /// The server spec of host `index` (0-based) as root, with a Slipway directory of its
    /// own under `base` (the namespaces share this machine's file system).
    public func server(_ index: Int, base: String) -> ServerSpec {
        ServerSpec(user: "root", host: addresses[index], port: nil, dir: "\(base)/host\(index + 1)")
    }

    /// Cuts host `index`'s network link (its processes keep running) / puts it back.
    public func cut(_ index: Int) async throws { try await link(index, "cut") }
    public func restore(_ index: Int) async throws { try await link(index, "restore") }

    /// Runs `body` with the host's link cut; the link is up again afterwards, whether
    /// `body` returned or threw (restoring twice is harmless).
    public func whileCut<T>(_ index: Int, _ body: () async throws -> T) async throws -> T {
        try await cut(index)
        let result: T
        do {
            result = try await body()
        } catch {
            try? await restore(index)
            throw error
        }
        try await restore(index)
        return result
    }

    func link(_ index: Int, _ action: String) async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/test-hosts.sh").path
        let result = try await runCommand("/bin/bash", [script, action, "\(index + 1)"], environment: ProcessInfo.processInfo.environment.merging(["SLIPWAY_TEST_HOSTS": directory]) { _, new in new })
        guard result.status == 0 else { throw PollStop("test-hosts.sh \(action) \(index + 1) failed: \(result.stderr)") }
    }

    /// An ssh_config like the tests' own, but with another known_hosts file.
    public func config(knownHosts: String, in directory: String) throws -> String {
        let text = try String(contentsOfFile: sshConfig, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).hasPrefix("UserKnownHostsFile") ? "  UserKnownHostsFile \(knownHosts)" : String($0) }
            .joined(separator: "\n")
        let path = directory + "/ssh_config-\(UUID().uuidString.prefix(8))"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
