import Foundation

/// What a provider answered, reduced to what the judge needs. The controller fetches;
/// the functions below turn raw answers into readings; `CheckJudge` turns a reading into
/// a verdict. Only `.value` within the bound and `.status(passed: true)` ever pass.
public enum ProviderReading: Sendable, Equatable {
    /// A number to hold against the check's bound.
    case value(Double)
    /// A status that is the verdict itself (HTTP status, exit status), in words.
    case status(passed: Bool, detail: String)
    /// The provider answered, but with nothing to judge (an empty query result).
    case noData(String)
    /// The provider did not answer, timed out, or answered garbage: words that follow
    /// the answerer's name (`did not answer: connection refused`).
    case error(String)
}

/// Prometheus HTTP API answers (`GET /api/v1/query`).
public enum PrometheusAnswer {
    /// Reads an instant-query answer. A vector with exactly one sample or a scalar gives a
    /// value; an empty vector is no data; several series, other result types, an error
    /// status and anything that is not the API's JSON are errors.
    public static func reading(status: Int, body: String) -> ProviderReading {
        guard let json = JSONAny.parse(body), case .object(let root) = json,
              case .string(let outcome)? = root["status"] else {
            let http = (200..<300).contains(status) ? "" : "HTTP \(status) "
            return .error("answered \(http)with something that is not a Prometheus API response: \(ProviderText.excerpt(body))")
        }
        guard outcome == "success" else {
            var words = "answered HTTP \(status) with an error"
            if case .string(let type)? = root["errorType"] { words += " (\(type))" }
            if case .string(let message)? = root["error"] { words += ": \(message)" }
            return .error(words)
        }
        guard case .object(let data)? = root["data"], case .string(let type)? = data["resultType"], let result = data["result"] else {
            return .error("answered a success without data.resultType and data.result: \(ProviderText.excerpt(body))")
        }
        switch (type, result) {
        case ("vector", .array(let series)):
            if series.isEmpty { return .noData("the query returned no data (an empty vector)") }
            guard series.count == 1 else {
                return .error("answered \(series.count) series; the query must return one (aggregate it, e.g. with sum(…))")
            }
            guard case .object(let sample) = series[0], let pair = sample["value"] else {
                return .error("answered a vector sample without a value: \(ProviderText.excerpt(body))")
            }
            return sampleValue(pair, body: body)
        case ("scalar", _):
            return sampleValue(result, body: body)
        default:
            return .error("answered a \(type) result; the query must return an instant vector with one series or a scalar")
        }
    }

    /// `[timestamp, "value"]`.
    static func sampleValue(_ pair: JSONAny, body: String) -> ProviderReading {
        guard case .array(let parts) = pair, parts.count == 2, case .string(let text) = parts[1], let value = Double(text) else {
            return .error("answered a sample that is not [time, \"value\"]: \(ProviderText.excerpt(body))")
        }
        return .value(value)
    }
}

/// Answers of `http` provider checks.
public enum HTTPAnswer {
    /// Without `wantsNumber`, the status decides: 2xx passes, anything else fails. With it,
    /// a 2xx answer must hold a number at `jsonPath` (the whole answer when nil); any other
    /// status, or JSON without that number, is an error (inconclusive, not a failure: the
    /// number could not be read).
    public static func reading(status: Int, body: String, jsonPath: String?, wantsNumber: Bool) -> ProviderReading {
        let ok = (200..<300).contains(status)
        guard wantsNumber else {
            return .status(passed: ok, detail: "HTTP \(status)")
        }
        guard ok else {
            return .error("answered HTTP \(status): \(ProviderText.excerpt(body))")
        }
        guard let json = JSONAny.parse(body) else {
            return .error("answered something that is not JSON: \(ProviderText.excerpt(body))")
        }
        switch JSONPath.number(at: jsonPath, in: json) {
        case .success(let value): return .value(value)
        case .failure(let failure): return .error("answered JSON without the number: \(failure.description)")
        }
    }
}

/// How a command check's program ended.
public enum CommandExit: Sendable, Equatable {
    case status(Int32)
    case signal(Int32)
}

/// Answers of `command` provider checks.
public enum CommandAnswer {
    /// Without `wantsNumber`, exit status 0 passes and anything else fails. With it, the
    /// program must exit 0 and print a number as the last line of stdout.
    public static func reading(exit: CommandExit, stdout: String, stderr: String, wantsNumber: Bool) -> ProviderReading {
        let said = ProviderText.lastLine(stderr).map { " (stderr: \($0))" } ?? ""
        switch exit {
        case .signal(let signal):
            return .error("was killed by signal \(signal)\(said)")
        case .status(let code) where !wantsNumber:
            return .status(passed: code == 0, detail: "exit status \(code)\(code == 0 ? "" : said)")
        case .status(let code) where code != 0:
            return .error("exited with status \(code) instead of printing a number\(said)")
        case .status:
            guard let line = ProviderText.lastLine(stdout) else {
                return .error("printed nothing on stdout; it must print a number")
            }
            guard let value = Double(line) else {
                return .error("printed \(ProviderTemplate.quoted(ProviderText.excerpt(line))), not a number")
            }
            return .value(value)
        }
    }
}

enum ProviderText {
    /// At most 120 characters of `text` on one line, for error messages.
    static func excerpt(_ text: String) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        if flat.isEmpty { return "(an empty body)" }
        return flat.count > 120 ? String(flat.prefix(120)) + "…" : flat
    }

    /// The last non-empty line, trimmed.
    static func lastLine(_ text: String) -> String? {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.last { !$0.isEmpty }
    }
}
