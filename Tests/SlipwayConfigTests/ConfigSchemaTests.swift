import Foundation
@testable import SlipwayConfig
import SlipwayCore
import Testing
import Yams

@Suite struct ConfigSchemaTests {
    func schemaObject() throws -> [String: Any] {
        let data = Data(ConfigSchema.jsonSchema().utf8)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func isDraft202012JSON() throws {
        let schema = try schemaObject()
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema["type"] as? String == "object")
        #expect(schema["required"] as? [String] == ["service"])
        let oneOf = try #require(schema["oneOf"] as? [[String: Any]])
        #expect(oneOf.map { $0["required"] as? [String] ?? [] } == [["run"], ["image"]], "run or image")
        #expect(schema["additionalProperties"] as? Bool == false)
        #expect(ConfigSchema.jsonSchema().contains("\n  \"properties\": {"), "pretty-printed")
    }

    /// Every key the parser accepts appears in the schema, and nothing else: both come from
    /// the field tables, so a key added without a schema fails here.
    @Test func listsEveryAcceptedKey() throws {
        var found: Set<String> = []
        func walk(_ schema: Any, _ prefix: String) {
            guard let schema = schema as? [String: Any] else { return }
            if let properties = schema["properties"] as? [String: Any] {
                for (key, value) in properties {
                    let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                    found.insert(path)
                    walk(value, path)
                }
            }
            for branch in schema["oneOf"] as? [Any] ?? [] {
                walk(branch, prefix)
            }
        }
        walk(try schemaObject(), "")
        #expect(found == Set(ConfigSchema.acceptedKeys))
        #expect(found.isSuperset(of: ["service", "run", "env", "working_dir", "health.timeout", "listen", "hosts",
                                      "replicas", "upstream_timeout", "strategy.blue-green.keep_previous"]))
    }

    @Test func everyPropertyHasADescription() throws {
        func walk(_ schema: Any, _ path: String) {
            guard let schema = schema as? [String: Any] else { return }
            for (key, value) in schema["properties"] as? [String: Any] ?? [:] {
                let description = (value as? [String: Any])?["description"] as? String
                #expect(description?.isEmpty == false, "\(path).\(key) has no description")
                walk(value, "\(path).\(key)")
            }
            for branch in schema["oneOf"] as? [Any] ?? [] { walk(branch, path) }
        }
        walk(try schemaObject(), "")
    }

    @Test func defaultsComeFromCore() throws {
        let properties = try #require(try schemaObject()["properties"] as? [String: Any])
        func property(_ path: String...) -> [String: Any]? {
            var current: [String: Any]? = ["properties": properties]
            for key in path {
                current = (current?["properties"] as? [String: Any])?[key] as? [String: Any]
            }
            return current
        }
        #expect(property("replicas")?["default"] as? Int == Defaults.replicas)
        #expect(property("listen")?["default"] as? String == Defaults.listen.description)
        #expect(property("upstream_timeout")?["default"] as? String == DurationText.format(Defaults.upstreamTimeout))
        #expect(property("health", "interval")?["default"] as? String == DurationText.format(Defaults.healthInterval))
        #expect(property("health", "unhealthy")?["default"] as? Int == Defaults.unhealthyThreshold)
        #expect(property("health", "path")?["default"] as? String == Defaults.healthPath)
        #expect(property("service")?["default"] == nil)
    }

    /// Validates configs (as JSON) against the generated schema with python's `jsonschema`,
    /// an implementation independent of ours.
    @Test func validatesConfigsWithPythonJSONSchema() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let schemaFile = directory.appendingPathComponent("schema.json")
        try ConfigSchema.jsonSchema().write(to: schemaFile, atomically: true, encoding: .utf8)

        let example = try String(contentsOfFile: exampleConfigPath, encoding: .utf8)
        let cases: [(name: String, yaml: String, valid: Bool)] = [
            ("example", example, true),
            ("canary-example", try String(contentsOfFile: canaryExamplePath, encoding: .utf8), true),
            ("every-key", ConfigLoaderTests.everyKey, true),
            ("minimal", minimal, true),
            ("strategy-name", minimal + "strategy: blue-green\n", true),
            ("strategy-null", minimal + "strategy:\n  blue-green:\n", true),
            ("unknown-key", minimal + "replica: 2\n", false),
            ("unknown-nested-key", minimal + "strategy: {blue-green: {keep_previos: 1m}}\n", false),
            ("bad-name", "service: Web\nrun: [x]\n", false),
            ("no-run", "service: web\n", false),
            ("empty-run", "service: web\nrun: []\n", false),
            ("empty-strategy", minimal + "strategy: {}\n", false),
            ("bad-duration", minimal + "health: {interval: soon}\n", false),
            ("zero-timeout", minimal + "upstream_timeout: 0s\n", false),
            ("bad-env-name", minimal + "env: {2X: y}\n", false),
            ("replicas", minimal + "replicas: 101\n", false),
            ("provider-check", minimal + "analysis:\n  default:\n    checks:\n      - { provider: prometheus, url: \"http://p:9090\", query: up, max: 1 }\n", true),
            ("unknown-provider", minimal + "analysis:\n  default:\n    checks:\n      - { provider: graphite, url: \"http://p:9090\", query: up, max: 1 }\n", false),
            ("check-without-metric", minimal + "analysis:\n  default:\n    checks:\n      - { max: 1 }\n", false),
        ]
        var files: [String] = []
        for c in cases {
            // Cross-check: our parser agrees with the schema on every case.
            let parsed = (try? ConfigLoader.parse(c.yaml, fileName: c.name, baseDirectory: nil)) != nil
            #expect(parsed == c.valid, "parser and case disagree on \(c.name)")
            let value = try #require(try Yams.load(yaml: c.yaml))
            let json = try JSONSerialization.data(withJSONObject: value)
            let file = directory.appendingPathComponent("\(c.name).json")
            try json.write(to: file)
            files.append(file.path)
        }

        let script = """
            import json, sys
            try:
                import jsonschema
            except ImportError:
                print("python3 has no jsonschema module (pip install jsonschema)")
                sys.exit(3)
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            validator = jsonschema.Draft202012Validator(schema)
            for path in sys.argv[2:]:
                errors = list(validator.iter_errors(json.load(open(path))))
                print("valid" if not errors else "invalid: " + "; ".join(e.message for e in errors))
            """
        let (status, output) = try runPython(script, arguments: [schemaFile.path] + files)
        try #require(status == 0, "python3 jsonschema check failed (status \(status)): \(output)")
        let verdicts = output.split(separator: "\n").map(String.init)
        try #require(verdicts.count == cases.count, "\(output)")
        for (c, verdict) in zip(cases, verdicts) {
            #expect(verdict.hasPrefix("valid") == c.valid, "\(c.name): \(verdict)")
        }
    }

    private func runPython(_ script: String, arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            Issue.record("cannot start python3 to validate the schema: \(error)")
            throw error
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
