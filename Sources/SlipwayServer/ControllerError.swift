import SlipwayCore

/// An operation the controller refused or could not finish, with a sentence for the user.
public struct ControllerError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable {
        case notFound, conflict, invalid, unavailable
    }
    public let code: Code
    public let message: String
    /// The running rollout a conflict is about.
    public let rolloutID: Int64?

    init(_ code: Code, _ message: String, rolloutID: Int64? = nil) {
        self.code = code
        self.message = message
        self.rolloutID = rolloutID
    }

    public var description: String { message }
}

/// Seconds since 1970, injectable so tests can drive time.
public protocol WallClock: Sendable {
    func now() -> Double
}

public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

#if canImport(Glibc)
import Glibc
#endif
