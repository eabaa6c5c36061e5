#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Flags and fault-injection environment of one hello-app process. Invalid input ends
/// the process with status 2 and a message naming the flag or variable.
struct Settings: Sendable {
    var host = "127.0.0.1"
    var port: Int
    var version: String
    var faults: Faults
    /// `ACCESS_LOG=1`: one JSON line per request on stdout, with the router's X-Request-Id.
    var accessLog = false
    /// `HELLO_BUILD`: sent back as `X-Build` on every answer (tells two builds of one version apart).
    var build: String? = nil

    static let usage = """
        usage: hello-app --port N [--host H] [--version V]
          --port N      port to listen on (0 picks a free one); default: $PORT
          --host H      address to bind (default: $HOST, else 127.0.0.1; 0.0.0.0 in a container)
          --version V   version label served by GET / (default: $SLIPWAY_VERSION, else "dev")
        GET /bytes?n=N answers N bytes of "x" (0 to 1048576; for benchmarks of large answers)
        GET /ws with a WebSocket upgrade: every message comes back as "VERSION: message"
        fault injection (environment):
          FAULT_ERROR_RATE=0..1     share of GET / answered 500
          FAULT_LATENCY_MS=N        extra delay on GET /; FAULT_LATENCY_RATE=0..1 share delayed (default 1)
          FAULT_UNHEALTHY=1         GET /health answers 503
          FAULT_UNHEALTHY_FILE=PATH GET /health answers 503 while PATH exists
          FAULT_ERROR_FILE=PATH     GET / answers 500 while PATH exists ({port}: this instance's port)
          FAULT_CRASH_AFTER_S=N     exit(3) after N seconds
          FAULT_SERVER=ID           the faults apply only on the fleet server ID (Slipway
                                    sets SLIPWAY_SERVER for instances on fleet servers)
        logging (environment):
          ACCESS_LOG=1              a JSON line per request (method, path, status, request_id) on stdout
        build (environment):
          HELLO_BUILD=TEXT          sent back as X-Build on every answer
        """

    static func fromProcess() -> Settings {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var port: String? = nil
        var host: String? = nil
        var version: String? = nil
        while !arguments.isEmpty {
            let argument = arguments.removeFirst()
            if argument == "--help" || argument == "-h" {
                Output.line(usage)
                exit(0)
            }
            var name = argument
            var value: String? = nil
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            guard ["--port", "--host", "--version"].contains(name) else {
                Output.usageError("unknown argument \(argument)\n\(usage)")
            }
            if value == nil {
                guard !arguments.isEmpty else { Output.usageError("\(name) needs a value") }
                value = arguments.removeFirst()
            }
            switch name {
            case "--port": port = value
            case "--host": host = value
            default: version = value
            }
        }
        let portSource = port != nil ? "--port" : "PORT"
        guard let portText = port ?? environment("PORT") else {
            Output.usageError("--port is required (or set PORT)\n\(usage)")
        }
        guard let portNumber = Int(portText), (0...65535).contains(portNumber) else {
            Output.usageError("\(portSource) must be a port number from 0 to 65535 (got \"\(portText)\")")
        }
        if let host, host.isEmpty { Output.usageError("--host must not be empty") }
        let label = version ?? environment("SLIPWAY_VERSION") ?? "dev"
        if label.isEmpty { Output.usageError("--version must not be empty") }
        var settings = Settings(host: host ?? environment("HOST") ?? "127.0.0.1", port: portNumber, version: label, faults: Faults.fromEnvironment())
        settings.build = environment("HELLO_BUILD")
        if let text = environment("ACCESS_LOG") {
            switch text {
            case "1", "true": settings.accessLog = true
            case "0", "false", "": settings.accessLog = false
            default: Output.usageError("ACCESS_LOG must be 1 or 0 (got \"\(text)\")")
            }
        }
        return settings
    }

    /// A non-empty environment variable.
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

/// Misbehaviour on request, for rollback and drain tests.
struct Faults: Sendable {
    /// Share (0...1) of `GET /` answered 500.
    var errorRate: Double = 0
    /// Extra delay on `GET /`, scheduled on the event loop.
    var latencyMilliseconds: Int64 = 0
    /// Share (0...1) of `GET /` that get the extra delay.
    var latencyRate: Double = 1
    /// `GET /health` answers 503.
    var unhealthy = false
    /// `GET /health` answers 503 while this file exists (tests hold a release unhealthy
    /// for exactly as long as they need).
    var unhealthyFile: String? = nil
    /// `GET /` answers 500 while this file exists; `{port}` in it is this instance's port
    /// (tests make one instance of a release fail and recover).
    var errorFile: String? = nil
    /// Exit with status 3 after this many seconds.
    var crashAfterSeconds: Double? = nil

    static func fromEnvironment() -> Faults {
        var faults = Faults()
        if let text = Settings.environment("FAULT_ERROR_RATE") {
            faults.errorRate = share(text, "FAULT_ERROR_RATE")
        }
        if let text = Settings.environment("FAULT_LATENCY_MS") {
            guard let ms = Int64(text), ms >= 0 else {
                Output.usageError("FAULT_LATENCY_MS must be a whole number of milliseconds, 0 or more (got \"\(text)\")")
            }
            faults.latencyMilliseconds = ms
        }
        if let text = Settings.environment("FAULT_LATENCY_RATE") {
            faults.latencyRate = share(text, "FAULT_LATENCY_RATE")
        }
        if let text = Settings.environment("FAULT_UNHEALTHY") {
            switch text {
            case "1", "true": faults.unhealthy = true
            case "0", "false": faults.unhealthy = false
            default: Output.usageError("FAULT_UNHEALTHY must be 1 or 0 (got \"\(text)\")")
            }
        }
        if let text = Settings.environment("FAULT_UNHEALTHY_FILE") {
            guard !text.isEmpty else { Output.usageError("FAULT_UNHEALTHY_FILE must be a path") }
            faults.unhealthyFile = text
        }
        if let text = Settings.environment("FAULT_ERROR_FILE") {
            guard !text.isEmpty else { Output.usageError("FAULT_ERROR_FILE must be a path") }
            faults.errorFile = text
        }
        if let text = Settings.environment("FAULT_CRASH_AFTER_S") {
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0 else {
                Output.usageError("FAULT_CRASH_AFTER_S must be a number of seconds, 0 or more (got \"\(text)\")")
            }
            faults.crashAfterSeconds = seconds
        }
        if let server = Settings.environment("FAULT_SERVER"), server != Settings.environment("SLIPWAY_SERVER") {
            // Another server's instance: no faults here.
            return Faults()
        }
        return faults
    }

    private static func share(_ text: String, _ name: String) -> Double {
        guard let value = Double(text), value >= 0, value <= 1 else {
            Output.usageError("\(name) must be a number from 0 to 1 (got \"\(text)\")")
        }
        return value
    }
}
