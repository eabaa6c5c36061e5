import Foundation
import SlipwayCore
import Yams

/// Reads `slipway.yml` into a validated `ServiceSpec`, reporting every problem in the
/// file at once with its line and column.
public struct ConfigLoader {
    /// Reads and parses the file. `working_dir` defaults to the file's directory, and a
    /// relative `working_dir` is resolved against it.
    public static func load(file path: String) throws(ConfigErrors) -> ServiceSpec {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw ConfigErrors([ConfigError(file: path, line: 1, column: 1, path: "", message: "cannot read the file: \(reason)")])
        }
        let directory = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        return try parse(text, fileName: path, baseDirectory: directory)
    }

    /// Parses config text. `fileName` only labels errors. With a `baseDirectory`, a missing
    /// `working_dir` becomes that directory and a relative one is resolved against it, and
    /// so are `tls.cert` and `tls.key`. The TLS files are read and checked either way.
    public static func parse(_ text: String, fileName: String, baseDirectory: String?) throws(ConfigErrors) -> ServiceSpec {
        let diagnostics = Diagnostics(file: fileName)
        guard let root = YAMLDocument.compose(text, diagnostics) else {
            throw ConfigErrors(diagnostics.sorted)
        }
        if root.isNull {
            diagnostics.error(at: .start, .root, "the file is empty; a slipway.yml needs at least `service:` and `run:`")
            throw ConfigErrors(diagnostics.sorted)
        }
        guard case .mapping = root else {
            diagnostics.typeMismatch(expected: "a mapping of settings (`service:`, `run:`, …) at the top level", found: root, .root)
            throw ConfigErrors(diagnostics.sorted)
        }
        let decoded = ServiceFields.service.decode(root, .root, diagnostics)
        guard var spec = decoded, diagnostics.isEmpty else {
            throw ConfigErrors(diagnostics.sorted)
        }
        if let baseDirectory {
            spec.workingDirectory = resolve(spec.workingDirectory, against: baseDirectory)
        }
        TLSFileCheck.resolveAndCheck(&spec, root: root, baseDirectory: baseDirectory, diagnostics: diagnostics)
        guard diagnostics.isEmpty else {
            throw ConfigErrors(diagnostics.sorted)
        }
        return spec
    }

    private static func resolve(_ directory: String?, against base: String) -> String {
        guard let directory else { return base }
        return resolve(directory, against: base)
    }

    /// An absolute path stays; a relative one is resolved against `base`.
    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: base, isDirectory: true)).standardizedFileURL.path
    }
}
