import Foundation

/// Where a provider check gets its number (or its verdict) from.
public enum ProviderKind: String, Codable, Sendable, CaseIterable {
    /// A PromQL instant query against a Prometheus server.
    case prometheus
    /// A GET of a URL: its status, or a number in its JSON answer.
    case http
    /// A program: its exit status, or a number it prints.
    case command
}

/// What a provider check asks, before the placeholders are filled in.
public enum ProviderSource: Sendable, Equatable {
    /// `url` is the server's base URL (`http://127.0.0.1:9090`), `query` PromQL.
    case prometheus(url: String, query: String)
    /// Without `jsonPath` and without a bound the status decides (2xx passes); otherwise
    /// the number at `jsonPath` (the whole answer when nil) is held against the bound.
    case http(url: String, jsonPath: String?)
    /// argv; without a bound the exit status decides (0 passes), with one the number
    /// the program prints on stdout is held against it.
    case command(run: [String])

    public var kind: ProviderKind {
        switch self {
        case .prometheus: .prometheus
        case .http: .http
        case .command: .command
        }
    }
}

/// `{provider: prometheus|http|command, …, max|min, window, timeout}`: a number or a
/// verdict from outside Slipway. Fetching is the controller's; judging is `CheckJudge`'s.
public struct ProviderCheck: Codable, Sendable, Equatable {
    public var source: ProviderSource
    /// Required for prometheus; for http and command it turns the check into a number check.
    public var bound: ThresholdBound?
    /// What `{{window}}` stands for (capped at the rollout's age when the check runs).
    public var window: Duration
    /// How long the provider may take to answer; after that the check is inconclusive
    /// (and a command is killed).
    public var timeout: Duration

    public init(_ source: ProviderSource, _ bound: ThresholdBound? = nil, window: Duration = AnalysisDefaults.window, timeout: Duration = AnalysisDefaults.providerTimeout) {
        self.source = source
        self.bound = bound
        self.window = window
        self.timeout = timeout
    }

    public var provider: ProviderKind { source.kind }

    /// Whether the check compares a number with its bound (else a status decides).
    public var judgesNumber: Bool { bound != nil }

    // MARK: validation

    /// Where a problem is: the key of the check it concerns (`url`, `query`, `run`, `max`…)
    /// and, for `run`, the argument's index.
    public struct Problem: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// An unknown or unclosed placeholder.
            case template
            /// A json_path that is not a path.
            case jsonPathSyntax
            case other
        }

        public var key: String
        public var index: Int?
        public var kind: Kind
        public var message: String

        public init(key: String, index: Int? = nil, kind: Kind = .other, message: String) {
            self.key = key
            self.index = index
            self.kind = kind
            self.message = message
        }
    }

    /// Every problem of the check: missing parts, URLs that are not http(s), placeholders
    /// that do not exist or are never closed. Empty when the check can run.
    public var problems: [Problem] {
        var problems: [Problem] = []
        func templated(_ key: String, _ text: String, index: Int? = nil) {
            for problem in ProviderTemplate.problems(in: text) {
                problems.append(Problem(key: key, index: index, kind: .template, message: problem.message))
            }
        }
        switch source {
        case .prometheus(let url, let query):
            if let message = ProviderTemplate.urlProblem(url) { problems.append(Problem(key: "url", message: message)) }
            templated("url", url)
            if query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                problems.append(Problem(key: "query", message: "the PromQL query is empty"))
            }
            templated("query", query)
            if bound == nil {
                problems.append(Problem(key: "max", message: "a prometheus check needs max or min: the query's value is held against it"))
            }
        case .http(let url, let jsonPath):
            if let message = ProviderTemplate.urlProblem(url) { problems.append(Problem(key: "url", message: message)) }
            templated("url", url)
            if let jsonPath {
                if let message = JSONPath.problem(jsonPath) { problems.append(Problem(key: "json_path", kind: .jsonPathSyntax, message: message)) }
                if bound == nil {
                    problems.append(Problem(key: "json_path", message: "json_path names a number to hold against max or min, but the check has neither"))
                }
            }
        case .command(let run):
            if run.isEmpty || run[0].isEmpty {
                problems.append(Problem(key: "run", message: "the command line is empty"))
            }
            for (i, argument) in run.enumerated() { templated("run", argument, index: i) }
        }
        if let bound, !bound.limit.isFinite {
            problems.append(Problem(key: bound.key, message: "\(bound.key) must be a finite number (got \(bound.limit))"))
        }
        if window <= .zero { problems.append(Problem(key: "window", message: "window must be longer than 0s")) }
        if timeout <= .zero { problems.append(Problem(key: "timeout", message: "timeout must be longer than 0s")) }
        return problems
    }

    // MARK: the request

    /// The request with every placeholder filled in.
    public func request(_ context: ProviderContext) -> ProviderRequest {
        switch source {
        case .prometheus(let url, let query):
            return .prometheus(url: ProviderTemplate.render(url, context, escape: .urlComponent), query: ProviderTemplate.render(query, context))
        case .http(let url, let jsonPath):
            return .http(url: ProviderTemplate.render(url, context, escape: .urlComponent), jsonPath: jsonPath)
        case .command(let run):
            return .command(run: run.map { ProviderTemplate.render($0, context) })
        }
    }

    // MARK: Codable

    enum CodingKeys: String, CodingKey {
        case provider, url, query, jsonPath = "json_path", run, max, min, window, timeout
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(ProviderKind.self, forKey: .provider)
        switch kind {
        case .prometheus: source = .prometheus(url: try c.decode(String.self, forKey: .url), query: try c.decode(String.self, forKey: .query))
        case .http: source = .http(url: try c.decode(String.self, forKey: .url), jsonPath: try c.decodeIfPresent(String.self, forKey: .jsonPath))
        case .command: source = .command(run: try c.decode([String].self, forKey: .run))
        }
        switch (try c.decodeIfPresent(Double.self, forKey: .max), try c.decodeIfPresent(Double.self, forKey: .min)) {
        case (let max?, nil): bound = .max(max)
        case (nil, let min?): bound = .min(min)
        case (nil, nil): bound = nil
        case (_?, _?): throw DecodingError.dataCorruptedError(forKey: .max, in: c, debugDescription: "a provider check takes max or min, not both")
        }
        window = try c.decodeIfPresent(TextDuration.self, forKey: .window)?.value ?? AnalysisDefaults.window
        timeout = try c.decodeIfPresent(TextDuration.self, forKey: .timeout)?.value ?? AnalysisDefaults.providerTimeout
        if let problem = problems.first {
            let key = CodingKeys(stringValue: problem.key) ?? .provider
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(problem.key): \(problem.message)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(provider, forKey: .provider)
        switch source {
        case .prometheus(let url, let query):
            try c.encode(url, forKey: .url)
            try c.encode(query, forKey: .query)
        case .http(let url, let jsonPath):
            try c.encode(url, forKey: .url)
            try c.encodeIfPresent(jsonPath, forKey: .jsonPath)
        case .command(let run):
            try c.encode(run, forKey: .run)
        }
        switch bound {
        case .max(let v)?: try c.encode(v, forKey: .max)
        case .min(let v)?: try c.encode(v, forKey: .min)
        case nil: break
        }
        try c.encode(TextDuration(window), forKey: .window)
        try c.encode(TextDuration(timeout), forKey: .timeout)
    }
}

extension ThresholdBound {
    /// `max` or `min`, as the config writes it.
    public var key: String {
        switch self {
        case .max: "max"
        case .min: "min"
        }
    }
}

/// What the placeholders of a provider check stand for in one analysis run.
public struct ProviderContext: Sendable, Equatable {
    public var service: String
    /// The canary's version.
    public var version: String
    /// The stable release's version; empty when there is none.
    public var stable: String
    /// Whole seconds, at least 1.
    public var windowSeconds: Int

    public init(service: String, version: String, stable: String?, windowSeconds: Int) {
        self.service = service
        self.version = version
        self.stable = stable ?? ""
        self.windowSeconds = max(1, windowSeconds)
    }

    /// The check's window, but never reaching back before the rollout began (`age`
    /// seconds ago), so a retried version's earlier traffic does not count; at least 1 s.
    public init(service: String, version: String, stable: String?, window: Duration, rolloutAge: Double) {
        let seconds = min(window.seconds, max(0, rolloutAge))
        self.init(service: service, version: version, stable: stable, windowSeconds: Int(seconds.rounded(.up)))
    }

    /// `30s`: how PromQL writes a range.
    public var window: String { "\(windowSeconds)s" }
}

/// A provider check's request with its placeholders filled in.
public enum ProviderRequest: Sendable, Equatable, CustomStringConvertible {
    case prometheus(url: String, query: String)
    case http(url: String, jsonPath: String?)
    case command(run: [String])

    /// The Prometheus HTTP API's instant query: `BASE/api/v1/query?query=…` (nil for other kinds).
    public var prometheusQueryURL: String? {
        guard case .prometheus(let url, let query) = self else { return nil }
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/api/v1/query?query=" + ProviderTemplate.Escape.queryValue.apply(query)
    }

    /// What was asked, as the evidence shows it: the PromQL, the URL, or the command line.
    public var description: String {
        switch self {
        case .prometheus(_, let query): query
        case .http(let url, _): url
        case .command(let run): run.map(ProviderTemplate.shellQuoted).joined(separator: " ")
        }
    }

    /// Who answers, for sentences: `prometheus at http://…:9090`, `http://…/status`, `command ./check.sh v2`.
    public var answerer: String {
        switch self {
        case .prometheus(let url, _): "prometheus at \(url)"
        case .http(let url, _): url
        case .command: "command `\(description)`"
        }
    }
}
