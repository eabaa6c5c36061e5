import Foundation
import Logging
import SlipwayCore

/// `--log-format json`: one JSON object per line on stderr with `time` (RFC 3339, UTC,
/// milliseconds), `level`, `logger`, `message`, then the metadata with its `slipway.` prefix
/// dropped (`service`, `rollout`, `request_id`, …). Lines are written whole (one `write`).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let label: String
    let output: @Sendable (String) -> Void

    public init(label: String, output: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.output = output
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        output(Self.line(time: Date(), level: event.level, label: label, message: "\(event.message)", error: event.error.map { "\($0)" }, metadata: fields))
    }

    static func line(time: Date, level: Logger.Level, label: String, message: String, error: String?, metadata: Logger.Metadata) -> String {
        var object: [String: Any] = [:]
        for (key, value) in metadata {
            let name = key.hasPrefix("slipway.") ? String(key.dropFirst("slipway.".count)) : key
            object[name] = plain(value)
        }
        object["time"] = Timestamps.format(time.timeIntervalSince1970, fractional: true)
        object["level"] = level.rawValue
        object["logger"] = label
        object["message"] = message
        if let error { object["error"] = error }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return a.map(plain)
        case .dictionary(let d): return d.mapValues(plain)
        }
    }
}

/// How the server and the router write their logs.
public enum LogFormat: String, CaseIterable, Sendable {
    case text, json

    /// The environment variable the server sets for the router it starts.
    public static let environmentName = "SLIPWAY_LOG_FORMAT"

    /// `$SLIPWAY_LOG_FORMAT`, text when unset; an unknown value is an error naming the variable.
    public static func fromEnvironment() throws -> LogFormat {
        guard let text = ProcessInfo.processInfo.environment[environmentName], !text.isEmpty else { return .text }
        guard let format = LogFormat(rawValue: text) else {
            throw ControllerError(.invalid, "\(environmentName) must be text or json (got \(text))")
        }
        return format
    }

    /// Bootstraps swift-log once for the process.
    public func bootstrap(level: Logger.Level) {
        switch self {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
