import SlipwayCore
import SlipwayEvidence

extension OpenAPI {
    /// A JSON field of a request body.
    struct Field {
        enum Kind {
            case string, integer, number, boolean
            /// An object of string values (`env`).
            case stringMap
            case stringArray
            /// One of these strings.
            case oneOf([String])
            /// Another schema of `bodies`.
            case object(String)
            case array(String)
        }

        let name: String
        let kind: Kind
        let required: Bool
        let description: String

        init(_ name: String, _ kind: Kind, required: Bool = false, _ description: String) {
            self.name = name
            self.kind = kind
            self.required = required
            self.description = description
        }

        var schema: [String: Any] {
            var schema: [String: Any]
            switch kind {
            case .string: schema = ["type": "string"]
            case .integer: schema = ["type": "integer"]
            case .number: schema = ["type": "number"]
            case .boolean: schema = ["type": "boolean"]
            case .stringMap: schema = ["type": "object", "additionalProperties": ["type": "string"]]
            case .stringArray: schema = ["type": "array", "items": ["type": "string"]]
            case .oneOf(let values): schema = ["type": "string", "enum": values]
            case .object(let name): schema = ["$ref": "#/components/schemas/\(name)"]
            case .array(let name): schema = ["type": "array", "items": ["$ref": "#/components/schemas/\(name)"]]
            }
            if case .object = kind {
                // A $ref takes no siblings in every tool; the description goes on the referenced schema.
                return schema
            }
            schema["description"] = description
            return schema
        }
    }

    /// A request body: the Swift type the route decodes and its fields. `OpenAPITests` checks
    /// each against its type (every field read, with its type and whether it is required,
    /// and no field of the type left out), so the document cannot drift from the code.
    struct Body {
        let type: any Codable.Type
        let fields: [Field]
        /// The route works without a body (the fields all take defaults).
        var optional = false
        var description = ""

        var schema: [String: Any] {
            var schema: [String: Any] = ["type": "object", "properties": Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0.schema) })]
            let required = fields.filter(\.required).map(\.name)
            if !required.isEmpty { schema["required"] = required }
            if !description.isEmpty { schema["description"] = description }
            return schema
        }
    }

    /// Every request body, by schema name (`Doc.body`), with the schemas they refer to.
    static let bodies: [String: Body] = [
        "DashboardLoginRequest": Body(type: DashboardLoginRequest.self, fields: [
            Field("token", .string, required: true, "An API token (`slipway token create`)."),
        ]),
        "ApplyRequest": Body(type: ApplyRequest.self, fields: [
            Field("path", .string, required: true, "Absolute path of the config file; its folder is the default working directory and errors name it."),
            Field("text", .string, required: true, "The file's text (YAML)."),
        ]),
        "DeployRequest": Body(type: DeployRequest.self, fields: [
            Field("version", .string, required: true, "The release's version."),
            Field("env", .stringMap, "Extra environment variables for this release's instances."),
            Field("overrideFreeze", .string, "An admin's reason to deploy inside a freeze window (audited)."),
            Field("image", .string, "Container services: this release's image instead of the config's `image:`."),
        ]),
        "RollbackRequest": Body(type: RollbackRequest.self, fields: [
            Field("to", .string, "The release to go back to; the previous one when absent."),
        ], optional: true),
        "CommandRequest": Body(type: CommandRequest.self, fields: [
            Field("full", .boolean, "promote only: skip every remaining step and analysis."),
            Field("by", .string, "Who asks, recorded with the decision (`alice@laptop via CLI`)."),
        ], optional: true),
        "ReleaseRequest": Body(type: ReleaseRequest.self, fields: [
            Field("service", .string, required: true, "The service (or `service@environment`)."),
            Field("version", .string, required: true, "The release's version."),
            Field("commit", .string, "The commit it was built from."),
            Field("commitTime", .number, "When that commit was made (seconds since 1970), for lead time."),
            Field("evidence", .array("EvidenceItem"), required: true, "CI reports read on the CI machine (`--evidence FORMAT=PATH`)."),
        ]),
        "EvidenceItem": Body(type: EvidenceItem.self, fields: [
            Field("format", .oneOf(EvidenceFormat.allCases.map(\.rawValue)), required: true, "The report's format."),
            Field("file", .string, required: true, "The path as given on the command line."),
            Field("sha256", .string, required: true, "The file's SHA-256 (hex)."),
            Field("bytes", .integer, required: true, "The file's size."),
            Field("tests", .object("TestEvidence"), "junit: test counts."),
            Field("coverage", .object("CoverageEvidence"), "cobertura, lcov: line coverage."),
            Field("vulnerabilities", .object("VulnerabilityEvidence"), "sarif, trivy: findings by severity."),
            Field("secrets", .object("SecretScanEvidence"), "gitleaks: secrets found."),
            Field("revisions", .stringArray, "sarif: the commits the log says it analysed."),
            Field("artifact", .string, "trivy: the image or artifact scanned."),
        ], description: "One CI report: its digest and what it says."),
        "TestEvidence": Body(type: TestEvidence.self, fields: [
            Field("tests", .integer, required: true, "Test cases."),
            Field("failures", .integer, required: true, "Failed ones."),
            Field("errors", .integer, required: true, "Ones that errored."),
            Field("skipped", .integer, required: true, "Skipped ones."),
        ], description: "Test counts of a JUnit report."),
        "CoverageEvidence": Body(type: CoverageEvidence.self, fields: [
            Field("linesValid", .integer, required: true, "Lines that count."),
            Field("linesCovered", .integer, required: true, "Lines run by the tests."),
        ], description: "Line coverage of a Cobertura or LCOV report."),
        "VulnerabilityEvidence": Body(type: VulnerabilityEvidence.self, fields: [
            Field("critical", .integer, required: true, "Critical findings."),
            Field("high", .integer, required: true, "High findings."),
            Field("medium", .integer, required: true, "Medium findings."),
            Field("low", .integer, required: true, "Low findings."),
            Field("unknown", .integer, required: true, "Findings without a usable severity."),
        ], description: "Findings by severity of a SARIF or Trivy report."),
        "SecretScanEvidence": Body(type: SecretScanEvidence.self, fields: [
            Field("findings", .integer, required: true, "Secrets found."),
        ], description: "What a gitleaks report found."),
        "GateCheckRequest": Body(type: GateCheckRequest.self, fields: [
            Field("version", .string, required: true, "The release whose gates to check."),
        ]),
        "VoteRequest": Body(type: VoteRequest.self, fields: [
            Field("comment", .string, "Why (recorded with the decision)."),
        ], optional: true),
        "SecretSetRequest": Body(type: SecretSetRequest.self, fields: [
            Field("value", .string, required: true, "The secret's value (encrypted at rest, never answered)."),
            Field("env", .string, "The environment it applies to; absent or empty for every environment."),
            Field("by", .string, "Who sets it (audited)."),
        ]),
        "RotateKeyRequest": Body(type: RotateKeyRequest.self, fields: [
            Field("newKey", .string, "The new master key (base64 or hex of 32 bytes); required when the key comes from SLIPWAY_MASTER_KEY."),
            Field("by", .string, "Who rotates it (audited)."),
        ], optional: true),
        "CreateTokenRequest": Body(type: CreateTokenRequest.self, fields: [
            Field("name", .string, required: true, "The token's name."),
            Field("role", .oneOf(Role.allCases.map(\.rawValue)), required: true, "Its role."),
            Field("environments", .stringArray, "Limits it to these environments."),
            Field("expiresIn", .string, "A duration such as `30d`; absent: it does not expire."),
        ]),
        "ShutdownRequest": Body(type: ShutdownRequest.self, fields: [
            Field("dataPlane", .boolean, required: true, "Also stop every instance and the router."),
        ], optional: true),
    ]
}
