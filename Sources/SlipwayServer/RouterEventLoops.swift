import NIOCore

/// How many event loops (threads) the router serves traffic on: `slipway router
/// --event-loops N`, else `SLIPWAY_ROUTER_EVENT_LOOPS` (the control plane passes it on to the
/// router it starts), else SwiftNIO's default — one per CPU core the process may use (its
/// affinity mask and cgroup CPU quota count, so a router limited to 2 CPUs runs 2 loops).
public enum RouterEventLoops {
    public static let environmentName = "SLIPWAY_ROUTER_EVENT_LOOPS"
    public static let allowed = 1...256

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sizes NIO's shared event loop group (the router's loops and its admin socket) from
    /// the flag or the environment. Must run before anything uses that group.
    public static func configure(flag: Int?, environment: [String: String]) throws {
        if let count = try resolve(flag: flag, environment: environment) {
            NIOSingletons.groupLoopCountSuggestion = count
        }
    }

    /// The count asked for, or nil for the default. Throws naming the flag or the variable.
    public static func resolve(flag: Int?, environment: [String: String]) throws(Invalid) -> Int? {
        if let flag {
            guard allowed.contains(flag) else {
                throw Invalid(description: "--event-loops must be from \(allowed.lowerBound) to \(allowed.upperBound) (got \(flag))")
            }
            return flag
        }
        guard let text = environment[environmentName] else { return nil }
        guard let count = Int(text), allowed.contains(count) else {
            throw Invalid(description: "\(environmentName) must be a whole number from \(allowed.lowerBound) to \(allowed.upperBound) (got \(String(reflecting: text)))")
        }
        return count
    }
}
