import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing

/// The repository root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

let exampleConfigPath = repositoryRoot.appendingPathComponent("Examples/hello/slipway.yml").path
let canaryExamplePath = repositoryRoot.appendingPathComponent("Examples/hello/canary.yml").path

/// Parses `yaml` expecting failure and returns the errors (an empty list after a success
/// is recorded as a test failure).
func configErrors(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> [ConfigError] {
    do {
        let spec = try ConfigLoader.parse(yaml, fileName: "slipway.yml", baseDirectory: nil)
        Issue.record("expected errors, parsed \(spec)", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.errors
    }
}

/// The single error `yaml` produces, as `LINE:COL: path: message`.
func singleError(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    let errors = configErrors(yaml, sourceLocation: sourceLocation)
    #expect(errors.count == 1, "\(errors)", sourceLocation: sourceLocation)
    return errors.first.map(short)
}

/// `LINE:COL: path: message` without the file name.
func short(_ error: ConfigError) -> String {
    error.path.isEmpty ? "\(error.line):\(error.column): \(error.message)" : "\(error.line):\(error.column): \(error.path): \(error.message)"
}

/// The smallest valid config, to which tests add one bad line.
let minimal = """
    service: web
    run: [./web, --port, "{{port}}"]

    """
