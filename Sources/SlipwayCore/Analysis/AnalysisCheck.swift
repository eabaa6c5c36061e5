/// One check of an analysis run.
public enum AnalysisCheck: Codable, Sendable, Equatable {
    case threshold(ThresholdCheck)
    case baseline(BaselineComparison)
    /// A number or a verdict from Prometheus, a URL or a command.
    case provider(ProviderCheck)

    /// The window the controller must fetch for this check.
    public var window: Duration {
        switch self {
        case .threshold(let t): t.window
        case .baseline(let b): b.window
        case .provider(let p): p.window
        }
    }

    /// The provider check, when this is one.
    public var provider: ProviderCheck? {
        if case .provider(let p) = self { return p }
        return nil
    }

    private enum Key: String, CodingKey { case compare, provider }

    /// A check with a `provider` key is a provider check, one with a `compare` key a
    /// baseline comparison, any other a threshold.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if c.contains(.provider) {
            self = .provider(try ProviderCheck(from: decoder))
        } else {
            self = c.contains(.compare) ? .baseline(try BaselineComparison(from: decoder)) : .threshold(try ThresholdCheck(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .threshold(let t): try t.encode(to: encoder)
        case .baseline(let b): try b.encode(to: encoder)
        case .provider(let p): try p.encode(to: encoder)
        }
    }
}
