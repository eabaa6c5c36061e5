/// Provider checks: a reading from Prometheus, a URL or a command against the check.
///
/// Pass only on a value within the bound, or on a passing status (2xx, exit 0) when the
/// check has no bound. A reading that is missing, an error, no data or NaN is
/// inconclusive and says why; it never passes.
extension CheckJudge {
    public static func judge(_ check: ProviderCheck, request: ProviderRequest?, reading: ProviderReading?) -> CheckVerdict {
        let kind = check.provider.rawValue
        var evidence = CheckEvidence(metric: kind, bound: check.bound?.key, threshold: check.bound?.limit, minSamples: 0,
                                     provider: kind, query: request?.description)
        func verdict(_ outcome: AnalysisOutcome, _ summary: String) -> CheckVerdict {
            CheckVerdict(check: .provider(check), outcome: outcome, evidence: evidence, summary: summary)
        }
        let asked = request.map { Self.asked($0) } ?? ""

        guard let request, let reading else {
            return verdict(.inconclusive, "\(kind) check is inconclusive: it was not run")
        }
        switch reading {
        case .error(let words):
            evidence.error = "\(request.answerer) \(words)"
            return verdict(.inconclusive, "\(kind) check is inconclusive: \(request.answerer) \(words)\(asked)")
        case .noData(let words):
            evidence.error = words
            return verdict(.inconclusive, "\(kind) check is inconclusive: \(words)\(asked)")
        case .status(let passed, let detail):
            guard check.bound == nil else {
                evidence.error = "answered \(detail) where a number was needed"
                return verdict(.inconclusive, "\(kind) check is inconclusive: \(request.answerer) answered \(detail) where a number was needed")
            }
            return verdict(passed ? .pass : .fail, "\(Self.subject(request)) \(passed ? "passed" : "failed"): \(detail)")
        case .value(let value):
            guard let bound = check.bound else {
                evidence.error = "answered a number where a status was expected"
                return verdict(.inconclusive, "\(kind) check is inconclusive: \(request.answerer) answered a number but the check has no max or min")
            }
            if value.isNaN {
                evidence.error = "the value is NaN"
                return verdict(.inconclusive, "\(kind) check is inconclusive: the value is NaN (no data, e.g. 0/0)\(asked)")
            }
            // JSON has no infinity: the evidence keeps finite values only; the sentence says it.
            if value.isFinite { evidence.canaryValue = value }
            let (shown, limit) = Self.distinct(value, bound.limit)
            let observed = "\(kind) value \(shown)"
            switch (bound, bound.isViolated(by: value)) {
            case (.max, true): return verdict(.fail, "\(observed) exceeded \(limit)\(asked)")
            case (.max, false): return verdict(.pass, "\(observed) is within the \(limit) maximum\(asked)")
            case (.min, true): return verdict(.fail, "\(observed) is below the \(limit) minimum\(asked)")
            case (.min, false): return verdict(.pass, "\(observed) meets the \(limit) minimum\(asked)")
            }
        }
    }

    /// ` (query: …)`, ` (json_path data.x at URL)`, ` (command ./x)`.
    static func asked(_ request: ProviderRequest) -> String {
        switch request {
        case .prometheus(_, let query): " (query: \(query))"
        case .http(let url, let path?): " (\(path) at \(url))"
        case .http(let url, nil): " (\(url))"
        case .command: " (command `\(request.description)`)"
        }
    }

    /// `http check of URL`, `command check ./x`.
    static func subject(_ request: ProviderRequest) -> String {
        switch request {
        case .prometheus(_, let query): "prometheus check \(query)"
        case .http(let url, _): "http check of \(url)"
        case .command: "command check `\(request.description)`"
        }
    }

    /// A value and a limit as plain numbers that read differently whenever they differ.
    static func distinct(_ value: Double, _ limit: Double) -> (String, String) {
        for digits in [4, 6, 9, 12, 17] {
            let (a, b) = (AnalysisText.significant(value, digits: digits), AnalysisText.significant(limit, digits: 6))
            if a != b || value == limit { return (a, b) }
        }
        return (AnalysisText.significant(value, digits: 17), AnalysisText.significant(limit, digits: 6))
    }
}
