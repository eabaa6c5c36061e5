import Foundation
import SlipwayCore
import Yams

/// `slipway config show`: a unit's effective settings, each with where it came from
/// (the service's line, the environment's line, or a default).
public enum ConfigExplain {
    public struct Line: Codable, Sendable, Equatable {
        public var key: String
        public var value: String
        /// `slipway.yml:7`, `environments.production (slipway.yml:31)` or `default`.
        public var origin: String
    }

    public struct Explanation: Codable, Sendable {
        public var unit: String
        public var environments: [String]
        public var lines: [Line]
    }

    public static func explain(file: String, environment: String?) throws(ConfigErrors) -> Explanation {
        let (text, directory) = try ConfigLoader.read(file)
        let document = try ConfigLoader.document(text, fileName: file, baseDirectory: directory)
        let environments = document.units.compactMap(\.environmentName)
        let unit: ServiceSpec
        if let environment {
            guard let found = document.units.first(where: { $0.environmentName == environment }) else {
                let known = environments.isEmpty ? "it has no `environments:`" : "its environments: \(environments.joined(separator: ", "))"
                throw ConfigErrors([ConfigError(file: file, line: 1, column: 1, path: "environments", message: "unknown environment \(quoted(environment)); \(known)")])
            }
            unit = found
        } else {
            guard document.units.count == 1, document.units[0].environment == nil else {
                throw ConfigErrors([ConfigError(file: file, line: 1, column: 1, path: "environments", message: "the service has environments (\(environments.joined(separator: ", "))); name one with --env")])
            }
            unit = document.units[0]
        }
        let merged = document.merged[unit.name] ?? document.root
        var lines: [Line] = []
        let json = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(unit))) ?? [:]
        flatten(json, path: []) { path, value in
            guard let yamlPath = yamlPath(path, environment: unit.environmentName) else { return }
            let origin: String
            if yamlPath.first == "environments" {
                origin = lookup(document.root, yamlPath).map { "\(file):\($0.position?.line ?? 0)" } ?? "default"
            } else if let node = lookup(merged, yamlPath) {
                let line = "\(file):\(node.position?.line ?? 0)"
                if let env = unit.environmentName, let envNode = lookup(document.root, ["environments", env] + yamlPath),
                   envNode.position == node.position {
                    origin = "environments.\(env) (\(line))"
                } else {
                    origin = line
                }
            } else {
                origin = "default"
            }
            lines.append(Line(key: yamlPath.joined(separator: "."), value: yamlPath == ["service"] ? unit.serviceName : value, origin: origin))
        }
        return Explanation(unit: unit.name, environments: environments, lines: lines)
    }

    /// JSON keys to the file's keys.
    static func yamlPath(_ path: [String], environment: String?) -> [String]? {
        guard let first = path.first else { return nil }
        switch first {
        case "name": return ["service"]
        case "environment":
            guard let environment, path.count > 1, path[1] != "name", path[1] != "order" else { return nil }
            return ["environments", environment] + path.dropFirst()
        default:
            // Names inside free-form maps (env variables, analysis names) stay as written.
            return path.enumerated().map { i, key in
                (first == "env" && i >= 1) || (first == "analysis" && i == 1) || (first == "hooks" && i == 3 && path[2] == "env") ? key : snake(key)
            }
        }
    }

    static func snake(_ key: String) -> String {
        if key == "workingDirectory" { return "working_dir" }
        var out = ""
        for c in key {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    static func lookup(_ node: Node, _ path: [String]) -> Node? {
        var current = node
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    static func flatten(_ value: Any, path: [String], _ emit: ([String], String) -> Void) {
        if let object = value as? [String: Any] {
            if object.isEmpty { emit(path, "{}"); return }
            for key in object.keys.sorted() { flatten(object[key]!, path: path + [key], emit) }
        } else if let text = value as? String {
            emit(path, text)
        } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]),
                  let text = String(data: data, encoding: .utf8) {
            emit(path, text)
        }
    }

    /// Aligned text: `key  value  # origin`.
    public static func render(_ explanation: Explanation) -> String {
        let keyWidth = explanation.lines.map(\.key.count).max() ?? 0
        let valueWidth = min(explanation.lines.map(\.value.count).max() ?? 0, 48)
        var out = "# \(explanation.unit): effective settings and where each comes from\n"
        for line in explanation.lines {
            let key = line.key.padding(toLength: keyWidth, withPad: " ", startingAt: 0)
            let value = line.value.count >= valueWidth ? line.value : line.value.padding(toLength: valueWidth, withPad: " ", startingAt: 0)
            out += "\(key)  \(value)  # \(line.origin)\n"
        }
        return out
    }
}
