import Foundation
import Synchronization
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

/// Seconds since 1970, injectable so tests can drive time; and a monotonic reading, which
/// steps of the wall clock do not move, to tell such a step from time passing.
public protocol WallClock: Sendable {
    func now() -> Double
    func monotonic() -> Double
}

extension WallClock {
    public func monotonic() -> Double { SystemWallClock.read(CLOCK_MONOTONIC) }
}

public struct SystemWallClock: WallClock {
    /// Test hook: a file holding seconds added to the wall clock (re-read every 50 ms), so a
    /// test can step this process's clock forward and back without touching the machine's.
    /// Unset, the clock is the system's.
    public static let faultOffsetVariable = "SLIPWAY_FAULT_CLOCK_FILE"

    private let offset: FaultClockOffset?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        offset = environment[Self.faultOffsetVariable].flatMap { $0.isEmpty ? nil : FaultClockOffset(path: $0) }
    }

    public func now() -> Double {
        Self.read(CLOCK_REALTIME) + (offset?.seconds() ?? 0)
    }

    static func read(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// The controller's clock: the wall clock's reading when it started, advanced by the
/// monotonic clock, so that it never jumps while a tick runs. The run loop compares it with
/// the wall clock between ticks; a difference of a second or more is a step of the wall
/// clock, and the controller moves its timers by it and then `adopt`s it, so every time a
/// tick computes is in one frame.
final class SteadyClock: WallClock, Sendable {
    let base: any WallClock
    /// Wall time minus monotonic time, as of the last adopted step.
    private let offset: Mutex<Double>

    init(base: any WallClock) {
        self.base = base
        offset = Mutex(base.now() - base.monotonic())
    }

    func now() -> Double { base.monotonic() + offset.withLock { $0 } }
    func monotonic() -> Double { base.monotonic() }

    /// How far the wall clock is from this clock now (a step when at least a second).
    func drift() -> Double { base.now() - now() }

    /// Takes the wall clock's frame: `now()` moves by `step`.
    func adopt(_ step: Double) { offset.withLock { $0 += step } }
}

/// The offset file of `SLIPWAY_FAULT_CLOCK_FILE`, cached for 50 ms.
final class FaultClockOffset: Sendable {
    let path: String
    private let cache = Mutex<(readAt: Double, seconds: Double)>((-1, 0))

    init(path: String) { self.path = path }

    func seconds() -> Double {
        let now = SystemWallClock.read(CLOCK_MONOTONIC)
        return cache.withLock { cache in
            if cache.readAt < 0 || now - cache.readAt >= 0.05 {
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                cache = (now, Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
            }
            return cache.seconds
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
