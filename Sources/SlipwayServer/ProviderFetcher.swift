import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SlipwayCore
import SlipwayTargets

/// Fetches what provider checks ask for: a Prometheus instant query, a URL, a command.
/// Never throws: whatever goes wrong (no answer, timeout, garbage, a program that cannot
/// start) comes back as a `ProviderReading.error` in words, which the judge turns into an
/// inconclusive check.
struct ProviderFetcher: Sendable {
    /// Answers larger than this are refused.
    static let bodyLimit = 1 << 20

    /// Its own client: no retried connection attempts, redirects followed.
    static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .follow(max: 5, allowCycles: false)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    var http: HTTPClient = ProviderFetcher.sharedClient
    /// Commands run here, and a relative `run[0]` is found here (the service's working_dir).
    var workingDirectory: String?
    /// Where a bare `run[0]` is looked up before PATH.
    var searchDirectories: [String]
    /// The control plane's environment, which commands inherit.
    var environment: [String: String]

    func fetch(_ request: ProviderRequest, check: ProviderCheck, context: ProviderContext) async -> ProviderReading {
        switch request {
        case .prometheus:
            guard let url = request.prometheusQueryURL else { return .error("has no query URL") }
            return await get(url, timeout: check.timeout) { status, body in
                PrometheusAnswer.reading(status: status, body: body)
            }
        case .http(let url, let jsonPath):
            return await get(url, timeout: check.timeout) { status, body in
                HTTPAnswer.reading(status: status, body: body, jsonPath: jsonPath, wantsNumber: check.judgesNumber)
            }
        case .command(let run):
            return await execute(run, check: check, context: context)
        }
    }

    // MARK: HTTP

    func get(_ url: String, timeout: Duration, read: @Sendable (Int, String) -> ProviderReading) async -> ProviderReading {
        guard URL(string: url) != nil else { return .error("is not a valid URL") }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "application/json")
        request.headers.add(name: "user-agent", value: "slipway/\(SlipwayVersion.current) analysis")
        let http = self.http
        let prepared = request
        let answer: Result<(Int, String), AnswerFailure> = await Self.within(timeout) {
            let response = try await http.execute(prepared, timeout: .milliseconds(timeout.milliseconds))
            let body = try await response.body.collect(upTo: Self.bodyLimit)
            return (Int(response.status.code), String(buffer: body))
        }
        switch answer {
        case .success(let (status, body)): return read(status, body)
        case .failure(.timedOut): return .error("did not answer within \(DurationText.format(timeout))")
        case .failure(.failed(let error)) where error is NIOTooManyBytesError:
            return .error("answered more than \(Self.bodyLimit >> 20) MiB")
        case .failure(.failed(let error)): return .error("did not answer: \(Self.describe(error))")
        }
    }

    enum AnswerFailure: Error {
        case timedOut
        case failed(any Error)
    }

    /// Runs `body`, giving up (and cancelling it) after `timeout`.
    static func within<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async -> Result<T, AnswerFailure> {
        await withTaskGroup(of: Result<T, AnswerFailure>?.self) { group in
            group.addTask {
                do { return .success(try await body()) } catch { return .failure(.failed(error)) }
            }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return nil }
                return .failure(.timedOut)
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let next { return next }
            }
            return .failure(.timedOut)
        }
    }

    /// Words for a failed request: `connection refused`, `connect timed out`, …
    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout: return "connecting timed out"
            case .deadlineExceeded, .readTimeout, .writeTimeout: return "timed out"
            case .remoteConnectionClosed: return "the connection was closed before an answer"
            default: return "\(e)"
            }
        }
        if let e = error as? NIOConnectionError {
            if let first = e.connectionErrors.first { return describe(first.error) }
            if let dns = e.dnsAAAAError ?? e.dnsAError { return "its host name could not be resolved (\(dns))" }
            return "no connection could be made to \(e.host):\(e.port)"
        }
        if let e = error as? IOError {
            return lowercasedFirst(String(cString: strerror(e.errnoCode)))
        }
        return "\(error)"
    }

    static func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }

    // MARK: command

    func execute(_ run: [String], check: ProviderCheck, context: ProviderContext) async -> ProviderReading {
        guard let program = run.first, !program.isEmpty else { return .error("has an empty command line") }
        guard let executable = LocalProcess.resolveExecutable(program, workingDirectory: workingDirectory,
                                                              extraSearchDirectories: searchDirectories, path: environment["PATH"]) else {
            return .error("could not be started: \(program) was not found or is not executable (looked in \(workingDirectory ?? "."), \(searchDirectories.joined(separator: ", ")) and PATH)")
        }
        var env = environment
        env["SLIPWAY_SERVICE"] = context.service
        env["SLIPWAY_VERSION"] = context.version
        env["SLIPWAY_STABLE"] = context.stable
        env["SLIPWAY_WINDOW"] = context.window
        let result: CheckCommand.Result
        do {
            result = try await CheckCommand.run(executable: executable, arguments: run, environment: env,
                                                workingDirectory: workingDirectory, timeout: check.timeout)
        } catch {
            return .error("could not be started: \(error)")
        }
        switch result.exit {
        case .timedOut:
            return .error("did not finish within \(DurationText.format(check.timeout)); it was killed")
        case .status(let code):
            return CommandAnswer.reading(exit: .status(code), stdout: result.stdout, stderr: result.stderr, wantsNumber: check.judgesNumber)
        case .signal(let signal):
            return CommandAnswer.reading(exit: .signal(signal), stdout: result.stdout, stderr: result.stderr, wantsNumber: check.judgesNumber)
        }
    }
}
