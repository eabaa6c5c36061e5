import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// Decodes the JSON a CLI command printed.
func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(text.utf8))
}

/// Runs `body` with a fresh harness and always shuts it down (instances, router, control
/// plane) before returning, whether the body passed or threw.
func withHarness<T>(_ body: (SlipwayHarness) async throws -> T) async throws -> T {
    let h = try SlipwayHarness()
    do {
        let result = try await body(h)
        await h.shutdown()
        return result
    } catch {
        await h.shutdown()
        throw error
    }
}

/// `withHarness` with the hello service deployed as v1 and serving through the router.
func withHello<T>(replicas: Int = 2, extra: String = "", keepPrevious: String = "10m", deployTimeout: String = "20s", healthy: Int? = nil,
                  strategy: String? = nil, environment: [String: String]? = nil, _ body: (SlipwayHarness, Int) async throws -> T) async throws -> T {
    try await withHarness { h in
        let port = try await startHello(h, replicas: replicas, extra: extra, keepPrevious: keepPrevious, deployTimeout: deployTimeout, healthy: healthy, strategy: strategy, environment: environment)
        return try await body(h, port)
    }
}

/// Starts the server with the hello service and waits until v1 serves through the router.
/// The listen port is probed free and released before the server binds it, so a suite
/// running in parallel can take it first: the server then refuses to start ("Address
/// already in use", from its own check or the router's bind), and a new port is tried (at
/// most three times; any other failure is thrown).
private func startHello(_ h: SlipwayHarness, replicas: Int, extra: String, keepPrevious: String, deployTimeout: String, healthy: Int?, strategy: String?,
                        environment: [String: String]?) async throws -> Int {
    var attempt = 0
    var port = 0
    while true {
        attempt += 1
        let made = try h.helloConfig(replicas: replicas, extra: extra, keepPrevious: keepPrevious, deployTimeout: deployTimeout, strategy: strategy)
        port = made.port
        if let healthy {
            let text = try String(contentsOfFile: made.path, encoding: .utf8).replacingOccurrences(of: "healthy: 2,", with: "healthy: \(healthy),")
            try text.write(toFile: made.path, atomically: true, encoding: .utf8)
        }
        do {
            try await h.startServer(configs: [made.path], environment: environment)
            break
        } catch let error as PollStop where attempt < 3 && error.description.contains("Address already in use") {
            continue
        }
    }
    _ = try await eventually("v1 to serve through the router") {
        (try? await h.versionAt(port: port)) == "v1" ? true : nil
    }
    return port
}

/// Sends requests through the router until stopped, counting failures (non-200 or
/// connection errors). Bounded: at most `limit` requests.
final class TrafficProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var ok = 0
    private var failures: [String] = []
    private var versions: [String: Int] = [:]
    /// Requests sent again because they met a keep-alive connection the server had closed
    /// while it was idle in the client's pool (see `TestHTTP.requestRetryingClosedIdle`).
    private var retriedClosedIdle = 0
    private var task: Task<Void, Never>?

    /// `pace`: at most one request per `pace` (low-traffic scenarios); nil sends them back to back.
    init(port: Int, host: String = "127.0.0.1", limit: Int = 20_000, pace: Duration? = nil, headers: [(String, String)] = []) {
        task = Task { [weak self] in
            var n = 0
            while !Task.isCancelled && n < limit {
                n += 1
                if let pace, n > 1 { try? await Task.sleep(for: pace) }
                do {
                    let (reply, retried) = try await TestHTTP.requestRetryingClosedIdle("http://\(host):\(port)/", method: .GET, headers: headers, timeout: .seconds(10))
                    if retried { self?.lock.withLock { self?.retriedClosedIdle += 1 } }
                    self?.record(reply.status == 200 ? nil : "HTTP \(reply.status): \(reply.body)", version: reply.header("X-Version"))
                } catch {
                    // A request cut short by stop() is not a failure of the system under test.
                    if Task.isCancelled { break }
                    self?.record("\(error)", version: nil)
                }
            }
        }
    }

    private func record(_ failure: String?, version: String?) {
        lock.withLock {
            if let failure { failures.append(failure) } else { ok += 1 }
            if let version { versions[version, default: 0] += 1 }
        }
    }

    /// Waits until the probe got an answer from `version` (a busy machine can delay its first
    /// request past a quick rollout, which would then look as if no traffic crossed it).
    func waitForAnswer(from version: String, timeout: Duration = .seconds(30)) async throws {
        _ = try await eventually("the traffic probe's first answer from \(version)", timeout: timeout) {
            lock.withLock { versions[version, default: 0] > 0 } ? true : nil
        }
    }

    /// Requests answered so far (successes and failures).
    var served: Int { lock.withLock { ok + failures.count } }

    /// How many requests met a closed idle keep-alive connection and were sent again.
    var retried: Int { lock.withLock { retriedClosedIdle } }

    func stop() async -> (ok: Int, failures: [String], versions: [String: Int]) {
        task?.cancel()
        await task?.value
        return lock.withLock { (ok, failures, versions) }
    }
}
