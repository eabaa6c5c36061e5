import Foundation
import SlipwayCore

/// Debian's Chromium, headless, driven over the DevTools protocol (a WebSocket to the
/// port it writes to `DevToolsActivePort`): navigate, evaluate JavaScript, take PNG
/// screenshots, and collect page exceptions and console errors (CSP violations among them).
public final class HeadlessChromium: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public let process: ChildProcess
    public let profile: TemporaryDirectory
    private let socket: WebSocketConnection
    private let lock = NSLock()
    private var nextID = 0
    private var _exceptions: [String] = []
    private var _consoleErrors: [String] = []

    /// The Chromium binary, if installed (`apt-get install chromium`).
    public static var executable: String? {
        ["/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private init(process: ChildProcess, profile: TemporaryDirectory, socket: WebSocketConnection) {
        self.process = process
        self.profile = profile
        self.socket = socket
    }

    public static func launch(width: Int = 1400, height: Int = 1000) async throws -> HeadlessChromium {
        guard let executable else { throw Failure("chromium is not installed (apt-get install chromium)") }
        let profile = try TemporaryDirectory(prefix: "slipway-chromium")
        let child = try ChildProcess(executable: executable, arguments: [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync", "--mute-audio", "--hide-scrollbars",
            "--remote-debugging-port=0", "--user-data-dir=\(profile.path)", "--window-size=\(width),\(height)", "about:blank",
        ])
        do {
            let port = try await eventually("Chromium to write DevToolsActivePort", timeout: .seconds(60)) { () -> Int? in
                if !child.isRunning { throw Failure("chromium exited with \(child.process.terminationStatus): \(child.stderr.suffix(2000))") }
                guard let text = try? String(contentsOfFile: profile.file("DevToolsActivePort"), encoding: .utf8) else { return nil }
                return text.split(separator: "\n").first.flatMap { Int($0) }
            }
            let page = try await eventually("Chromium's page target", timeout: .seconds(30)) { () -> String? in
                let reply = try await TestHTTP.get("http://127.0.0.1:\(port)/json/list")
                let targets = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]] ?? []
                guard let url = targets.first(where: { $0["type"] as? String == "page" })?["webSocketDebuggerUrl"] as? String,
                      let start = url.range(of: "/devtools/") else { return nil }
                return String(url[start.lowerBound...])
            }
            let browser = HeadlessChromium(process: child, profile: profile, socket: try await WebSocketConnection(port: port, path: page))
            _ = try await browser.call("Runtime.enable")
            _ = try await browser.call("Log.enable")
            _ = try await browser.call("Page.enable")
            return browser
        } catch {
            await Self.stop(child, profile: profile)
            throw error
        }
    }

    /// Uncaught exceptions in the page so far.
    public var exceptions: [String] { lock.withLock { _exceptions } }
    /// Console and browser log entries of level error (CSP violations, failed loads, `console.error`).
    public var consoleErrors: [String] { lock.withLock { _consoleErrors } }

    /// Sends one DevTools command and returns its result; events that arrive meanwhile are
    /// recorded (exceptions, errors) or dropped.
    @discardableResult
    public func call(_ method: String, _ params: [String: Any] = [:], timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        let id = lock.withLock { nextID += 1; return nextID }
        let data = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": params])
        try await socket.send(String(decoding: data, as: UTF8.self))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let text = try await socket.receive(timeout: deadline - ContinuousClock.now) else { break }
            guard let message = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { continue }
            if message["id"] as? Int == id {
                if let error = message["error"] as? [String: Any] { throw Failure("\(method) failed: \(error["message"] ?? error)") }
                return message["result"] as? [String: Any] ?? [:]
            }
            record(event: message)
        }
        throw Failure("\(method) got no answer within \(timeout)")
    }

    private func record(event: [String: Any]) {
        let params = event["params"] as? [String: Any] ?? [:]
        switch event["method"] as? String {
        case "Runtime.exceptionThrown":
            let details = params["exceptionDetails"] as? [String: Any] ?? [:]
            let description = (details["exception"] as? [String: Any])?["description"] as? String ?? details["text"] as? String ?? "\(details)"
            lock.withLock { _exceptions.append(description) }
        case "Log.entryAdded":
            let entry = params["entry"] as? [String: Any] ?? [:]
            if entry["level"] as? String == "error" { lock.withLock { _consoleErrors.append("\(entry["text"] ?? "") \(entry["url"] ?? "")") } }
        case "Runtime.consoleAPICalled":
            if params["type"] as? String == "error" { lock.withLock { _consoleErrors.append("console.error: \(params["args"] ?? "")") } }
        default:
            break
        }
    }

    public func navigate(_ url: String) async throws {
        let result = try await call("Page.navigate", ["url": url])
        if let error = result["errorText"] as? String { throw Failure("navigating to \(url) failed: \(error)") }
    }

    /// Evaluates a JavaScript expression (promises awaited) and returns its JSON value.
    public func evaluate(_ expression: String) async throws -> Any? {
        let result = try await call("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let details = result["exceptionDetails"] as? [String: Any] {
            let description = (details["exception"] as? [String: Any])?["description"] as? String ?? details["text"] as? String ?? "\(details)"
            throw Failure("\(expression.prefix(200)) threw: \(description)")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// `evaluate` for expressions that give a string (nil for anything else).
    public func string(_ expression: String) async throws -> String? {
        try await evaluate(expression) as? String
    }

    /// Saves a PNG of the viewport; returns its size in bytes.
    @discardableResult
    public func screenshot(to path: String) async throws -> Int {
        let result = try await call("Page.captureScreenshot", ["format": "png"])
        guard let base64 = result["data"] as? String, let png = Data(base64Encoded: base64) else { throw Failure("Page.captureScreenshot gave no image") }
        try FileManager.default.createDirectory(atPath: PathText.folder(of: path), withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: path))
        return png.count
    }

    /// Ends Chromium (SIGTERM, then SIGKILL) and removes its profile.
    public func close() async {
        await Self.stop(process, profile: profile)
    }

    private static func stop(_ child: ChildProcess, profile: TemporaryDirectory) async {
        if child.isRunning {
            child.signal(SIGTERM)
            if (try? await child.wait(timeout: .seconds(10))) == nil {
                child.signal(SIGKILL)
                _ = try? await child.wait(timeout: .seconds(10))
            }
        }
        profile.remove()
    }
}
