import Foundation
import SlipwayCore
import Yams

/// Reads `slipway.yml` into a validated `ServiceSpec`, reporting every problem in the
/// file at once with its line and column.
public struct ConfigLoader {
    /// Reads and parses the file. `working_dir` defaults to the file's directory, and a
    /// relative `working_dir` is resolved against it.
    public static func load(file path: String) throws(ConfigErrors) -> ServiceSpec {
        let (text, directory) = try read(path)
        return try parse(text, fileName: path, baseDirectory: directory)
    }

    /// Reads the file into its deployment units: the service itself, or one unit per
    /// environment (`SERVICE@ENV`) when it has `environments:`.
    public static func loadUnits(file path: String) throws(ConfigErrors) -> [ServiceSpec] {
        let (text, directory) = try read(path)
        return try parseUnits(text, fileName: path, baseDirectory: directory)
    }

    static func read(_ path: String) throws(ConfigErrors) -> (String, String) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw ConfigErrors([ConfigError(file: path, line: 1, column: 1, path: "", message: "cannot read the file: \(reason)")])
        }
        return (text, URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path)
    }

    /// Parses config text of a service without environments. `fileName` only labels errors.
    /// With a `baseDirectory`, a missing `working_dir` becomes that directory and a relative
    /// one is resolved against it, and so are `tls.cert` and `tls.key`. The TLS files are
    /// read and checked either way.
    public static func parse(_ text: String, fileName: String, baseDirectory: String?) throws(ConfigErrors) -> ServiceSpec {
        let units = try parseUnits(text, fileName: fileName, baseDirectory: baseDirectory)
        guard units.count == 1, units[0].environment == nil else {
            throw ConfigErrors([ConfigError(file: fileName, line: 1, column: 1, path: "environments",
                                            message: "the service has environments (\(units.compactMap(\.environmentName).joined(separator: ", "))); each is a unit of its own")])
        }
        return units[0]
    }

    /// Parses config text into deployment units (see `loadUnits`).
    public static func parseUnits(_ text: String, fileName: String, baseDirectory: String?) throws(ConfigErrors) -> [ServiceSpec] {
        try document(text, fileName: fileName, baseDirectory: baseDirectory).units
    }

    /// The parsed file: its units and, per unit, the YAML it was decoded from (the service's
    /// settings merged with the environment's) — what `slipway config show` explains.
    struct Document {
        var root: Node
        var units: [ServiceSpec]
        var merged: [String: Node]
    }

    static func document(_ text: String, fileName: String, baseDirectory: String?) throws(ConfigErrors) -> Document {
        let diagnostics = Diagnostics(file: fileName)
        guard let root = YAMLDocument.compose(text, diagnostics) else {
            throw ConfigErrors(diagnostics.sorted)
        }
        if root.isNull {
            diagnostics.error(at: .start, .root, "the file is empty; a slipway.yml needs at least `service:` and `run:` (or `image:`)")
            throw ConfigErrors(diagnostics.sorted)
        }
        guard case .mapping(let mapping) = root else {
            diagnostics.typeMismatch(expected: "a mapping of settings (`service:`, `run:`, …) at the top level", found: root, .root)
            throw ConfigErrors(diagnostics.sorted)
        }
        // The service's own settings, and every environment's, checked once.
        let decoded = ServiceFields.service.decode(root, .root, diagnostics)
        guard let base = decoded, diagnostics.isEmpty else {
            throw ConfigErrors(diagnostics.sorted)
        }
        guard let environmentsNode = root["environments"],
              let environments = EnvironmentFields.decodeAll(environmentsNode, ConfigPath.root.key("environments"), Diagnostics(file: fileName)) else {
            var spec = base
            finish(&spec, root: root, baseDirectory: baseDirectory, diagnostics: diagnostics)
            guard diagnostics.isEmpty else { throw ConfigErrors(diagnostics.sorted) }
            return Document(root: root, units: [spec], merged: [spec.name: root])
        }
        let baseRoot = Node.mapping(Node.Mapping(mapping.filter { $0.key.scalar?.string != "environments" }, mapping.tag, mapping.style, mapping.mark))
        var units: [ServiceSpec] = []
        var merged: [String: Node] = [:]
        for (name, entry, node) in environments {
            let order = node.mapping.map { $0.keys.compactMap(\.scalar?.string) } ?? []
            let unitRoot = EnvironmentMerge.merge(baseRoot, overrides: entry.overrides, order: order)
            guard var spec = ServiceFields.service.decode(unitRoot, .root, diagnostics) else { continue }
            spec.name = UnitName.make(service: base.name, environment: name)
            spec.environment = entry.policy
            finish(&spec, root: unitRoot, baseDirectory: baseDirectory, diagnostics: diagnostics)
            units.append(spec)
            merged[spec.name] = unitRoot
        }
        NotificationEnvironments.check(root: root, environments: environments.map { ($0.name, $0.node) }, diagnostics: diagnostics)
        // Environments are isolated: each needs its own address (port, or host names).
        for (i, a) in units.enumerated() {
            for b in units[(i + 1)...] where a.listen.port == b.listen.port && a.listen.port != 0 {
                let shared = Set(a.hosts).intersection(b.hosts)
                guard (a.hosts.isEmpty && b.hosts.isEmpty) || !shared.isEmpty else { continue }
                let what = shared.isEmpty ? "every host" : shared.sorted().joined(separator: ", ")
                let envB = b.environmentName ?? "", envA = a.environmentName ?? ""
                let at = environmentsNode[envB]?["listen"] ?? environmentsNode[envB]?["hosts"] ?? environmentsNode[envB] ?? environmentsNode
                diagnostics.error(at: at, ConfigPath.root.key("environments").key(envB),
                                  "environments \(envA) and \(envB) would both answer \(what) on port \(a.listen.port); environments are isolated: give each its own `listen:` port or distinct `hosts:`")
            }
        }
        guard diagnostics.isEmpty else { throw ConfigErrors(diagnostics.sorted) }
        return Document(root: root, units: units, merged: merged)
    }

    private static func finish(_ spec: inout ServiceSpec, root: Node, baseDirectory: String?, diagnostics: Diagnostics) {
        if let baseDirectory {
            spec.workingDirectory = resolve(spec.workingDirectory, against: baseDirectory)
            for stage in HookStage.allCases {
                if let directory = spec.hooks[stage]?.workingDirectory {
                    spec.hooks[stage]?.workingDirectory = resolve(directory, against: baseDirectory)
                }
            }
            if let directory = spec.verify?.command?.workingDirectory {
                spec.verify?.command?.workingDirectory = resolve(directory, against: baseDirectory)
            }
            if let artifact = spec.artifact { spec.artifact = resolve(artifact, against: baseDirectory) }
            if var container = spec.container {
                // Host paths written relative (./data) are the config file's; names are volumes.
                container.volumes = container.volumes.map { volume in
                    guard volume.hasPrefix("./") || volume.hasPrefix("../") || volume.hasPrefix(".:") || volume.hasPrefix("..:") else { return volume }
                    let colon = volume.firstIndex(of: ":") ?? volume.endIndex
                    return resolve(String(volume[..<colon]), against: baseDirectory) + volume[colon...]
                }
                spec.container = container
            }
            if var backup = spec.backup {
                if backup.engine == .sqlite { backup.target = resolve(backup.target, against: baseDirectory) }
                if let directory = backup.directory { backup.directory = resolve(directory, against: baseDirectory) }
                spec.backup = backup
            }
        }
        TLSFileCheck.resolveAndCheck(&spec, root: root, baseDirectory: baseDirectory, diagnostics: diagnostics)
        EmailCAFileCheck.resolveAndCheck(&spec, root: root, baseDirectory: baseDirectory, diagnostics: diagnostics)
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
