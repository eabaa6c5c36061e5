/// One check of an analysis run.
public enum AnalysisCheck: Codable, Sendable, Equatable {
    case threshold(ThresholdCheck)
    case baseline(BaselineComparison)

    /// The window the controller must fetch for this check.
    public var window: Duration {
        switch self {
        case .threshold(let t): t.window
        case .baseline(let b): b.window
        }
    }

    private enum Key: String, CodingKey { case compare }

    /// A check with a `compare` key is a baseline comparison, any other a threshold.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self = c.contains(.compare) ? .baseline(try BaselineComparison(from: decoder)) : .threshold(try ThresholdCheck(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .threshold(let t): try t.encode(to: encoder)
        case .baseline(let b): try b.encode(to: encoder)
        }
    }
}
