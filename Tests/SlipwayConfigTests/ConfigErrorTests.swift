@testable import SlipwayConfig
import Testing

@Suite struct ConfigErrorTests {
    @Test func descriptionIsFileLineColumnPathMessage() {
        let error = ConfigError(file: "slipway.yml", line: 14, column: 7, path: "replicas", message: "must be between 1 and 100 (got 150)")
        #expect(error.description == "slipway.yml:14:7: replicas: must be between 1 and 100 (got 150)")
        let fileLevel = ConfigError(file: "a.yml", line: 1, column: 1, path: "", message: "the file is empty")
        #expect(fileLevel.description == "a.yml:1:1: the file is empty")
        #expect(ConfigErrors([error, fileLevel]).description == "\(error)\n\(fileLevel)")
    }

    // MARK: Unknown keys

    @Test func unknownTopLevelKeySuggestsTheClosest() {
        #expect(singleError(minimal + "replica: 2\n") == "3:1: replica: unknown key `replica`; did you mean `replicas`?")
    }

    @Test func unknownNestedKeySuggestsTheClosest() {
        let yaml = minimal + """
            strategy:
              blue-green:
                keep_previos: 5m
            """
        #expect(singleError(yaml) == "5:5: strategy.blue-green.keep_previos: unknown key `keep_previos`; did you mean `keep_previous`?")
    }

    @Test func unknownKeySharingAPrefixIsSuggested() {
        #expect(singleError(minimal + "health: {unhealthy_threshold: 3}\n")
            == "3:10: health.unhealthy_threshold: unknown key `unhealthy_threshold`; did you mean `unhealthy`?")
    }

    @Test func unknownKeyWithNothingCloseListsTheAllowedKeys() {
        #expect(singleError(minimal + "health: {colour: red}\n")
            == "3:10: health.colour: unknown key `colour`; allowed: `path`, `interval`, `timeout`, `healthy`, `unhealthy`, `grace`, `kind`, `grpc_service`, `passive_failures`, `passive_ejection`")
    }

    @Test func unknownStrategy() {
        #expect(singleError(minimal + "strategy:\n  bluegreen: {}\n")
            == "4:3: strategy.bluegreen: unknown strategy `bluegreen`; did you mean `blue-green`?")
        #expect(singleError(minimal + "strategy: rainbow\n")
            == "3:11: strategy: unknown strategy `rainbow`; allowed: `blue-green`, `canary`, `rolling`")
    }

    @Test func strategyNeedsExactlyOneKind() {
        #expect(singleError(minimal + "strategy: {}\n") == "3:11: strategy: choose one strategy: `blue-green`, `canary`, `rolling`")
        #expect(singleError(minimal + "strategy: [blue-green]\n")
            == "3:11: strategy: expected a mapping with one of `blue-green`, `canary`, `rolling`, got a list")
    }

    // MARK: Types and ranges

    @Test func wrongTypeSaysWhatWasExpectedAndFound() {
        #expect(singleError(minimal + "replicas: two\n") == "3:11: replicas: expected an integer, got the string \"two\"")
        #expect(singleError(minimal + "replicas: 1.5\n") == "3:11: replicas: expected an integer, got the number 1.5")
        #expect(singleError(minimal + "health: yes\n") == "3:9: health: expected a mapping, got the boolean yes")
        #expect(singleError(minimal + "hosts: example.com\n") == "3:8: hosts: expected a list, got the string \"example.com\"")
        #expect(singleError(minimal + "service2: 1\n") != nil)
    }

    @Test func serviceName() {
        #expect(singleError("service: Web_1\nrun: [x]\n")
            == "1:10: service: \"Web_1\" is not a valid service name: use lowercase letters, digits and '-', start with a letter, at most 63 characters")
        #expect(singleError("service: 42\nrun: [x]\n") == "1:10: service: expected a string, got the integer 42")
        #expect(singleError("service: \(String(repeating: "a", count: 64))\nrun: [x]\n") != nil)
    }

    @Test func integerRanges() {
        #expect(singleError(minimal + "replicas: 150\n") == "3:11: replicas: must be between 1 and 100 (got 150)")
        #expect(singleError(minimal + "replicas: 0\n") == "3:11: replicas: must be between 1 and 100 (got 0)")
        #expect(singleError(minimal + "health:\n  healthy: 0\n") == "4:12: health.healthy: must be at least 1 (got 0)")
    }

    @Test func durations() {
        #expect(singleError(minimal + "upstream_timeout: fast\n")
            == "3:19: upstream_timeout: expected a duration such as 500ms, 2s, 1m30s or 10m, got the string \"fast\"")
        #expect(singleError(minimal + "upstream_timeout: 0s\n") == "3:19: upstream_timeout: must be longer than 0 (got 0s)")
        #expect(singleError(minimal + "max_request_body: lots\n")
            == "3:19: max_request_body: expected a size such as 512m, 1g or 268435456 (bytes), got the string \"lots\"")
        #expect(singleError(minimal + "upstream_timeout: -1\n")
            == "3:19: upstream_timeout: expected a duration such as 500ms, 2s, 1m30s or 10m, got the integer -1")
        #expect(singleError(minimal + "strategy: {blue-green: {deploy_timeout: 0}}\n")
            == "3:41: strategy.blue-green.deploy_timeout: must be longer than 0 (got 0)")
    }

    @Test func traceRequestsIsAShare() throws {
        #expect(singleError(minimal + "trace_requests: 0\n") == "3:17: trace_requests: must be above 0 and at most 1 (100%) (got 0)")
        #expect(singleError(minimal + "trace_requests: 150%\n") == "3:17: trace_requests: must be above 0 and at most 1 (100%) (got 150%)")
        #expect(singleError(minimal + "trace_requests: lots\n") == "3:17: trace_requests: expected a share such as 0.1 or 10%, got the string \"lots\"")
        #expect(try ConfigLoader.parse(minimal + "trace_requests: 0.5\n", fileName: "slipway.yml", baseDirectory: nil).traceRequests == 0.5)
    }

    @Test func healthTimeoutMustNotExceedInterval() {
        let yaml = minimal + """
            health:
              interval: 1s
              timeout: 2s
            """
        #expect(singleError(yaml) == "5:12: health.timeout: health.timeout (2s) must not be longer than health.interval (1s)")
        // Against the default interval too.
        #expect(singleError(minimal + "health: {timeout: 5s}\n")
            == "3:19: health.timeout: health.timeout (5s) must not be longer than health.interval (1s)")
    }

    @Test func healthPath() {
        #expect(singleError(minimal + "health: {path: health}\n") == "3:16: health.path: must start with / (got \"health\")")
    }

    @Test func listenAddress() {
        #expect(singleError(minimal + "listen: localhost\n")
            == "3:9: listen: expected an address such as 127.0.0.1:8080, :8080 or 8080, got the string \"localhost\"")
        #expect(singleError(minimal + "listen: 127.0.0.1:0\n") == "3:9: listen: the port must be between 1 and 65535 (got 0)")
        #expect(singleError(minimal + "listen: 70000\n")
            == "3:9: listen: expected an address such as 127.0.0.1:8080, :8080 or 8080, got the integer 70000")
    }

    @Test func hosts() {
        #expect(configErrors(minimal + "hosts: [example.com, \"exa mple.com\", \"a:80\"]\n").map(short) == [
            "3:22: hosts[1]: \"exa mple.com\" is not a valid host name (letters, digits, '-' and '.', without a port)",
            "3:38: hosts[2]: \"a:80\" is not a valid host name (letters, digits, '-' and '.', without a port)",
        ])
        #expect(singleError(minimal + "hosts: [example.com, EXAMPLE.com]\n") == "3:8: hosts: lists \"example.com\" more than once")
    }

    @Test func upstreamAndGRPCHealthErrorsNameTheKey() throws {
        #expect(singleError(minimal + "upstream: http2\n") == "3:11: upstream: unknown value `http2`; did you mean `http1`?")
        #expect(singleError(minimal + "health: { kind: grpc }\n")
            == "3:9: health: health.kind: grpc needs `upstream: h2c` (gRPC runs over HTTP/2; the service's instances are reached over HTTP/1.1)")
        #expect(singleError(minimal + "upstream: h2c\nhealth: { kind: grpcs }\n") == "4:17: health.kind: unknown value `grpcs`; did you mean `grpc`?")
        let grpc = try ConfigLoader.parse(minimal + "upstream: h2c\nhealth: { kind: grpc }\n", fileName: "slipway.yml", baseDirectory: nil)
        #expect(grpc.upstream == .h2c && grpc.health.kind == .grpc && grpc.health.grpcService == "")
    }

    // MARK: run and env

    @Test func runMustBeANonEmptyList() {
        #expect(singleError("service: web\nrun: []\n") == "2:6: run: must list at least one entry")
        #expect(singleError("service: web\nrun: ./web --port 80\n") == "2:6: run: expected a list, got the string \"./web --port 80\"")
        #expect(singleError("service: web\nrun: [./web, {a: 1}]\n") == "2:14: run[1]: expected a string, number or boolean, got a mapping")
    }

    @Test func unknownPlaceholderNamesTheKnownOnes() {
        let yaml = """
            service: web
            run:
              - ./web
              - --port={{port}}
              - --host={{host}}
              - "{{version"
            """
        #expect(configErrors(yaml).map(short) == [
            "5:5: run[2]: unknown placeholder `{{host}}`; the known placeholders are {{port}}, {{version}} and {{artifact}}",
            "6:5: run[3]: has `{{` without a closing `}}`; the known placeholders are {{port}}, {{version}} and {{artifact}}",
        ])
    }

    @Test func environment() {
        let yaml = minimal + """
            env:
              GOOD: 1
              2BAD: x
              LIST: [a]
              EMPTY:
            """
        #expect(configErrors(yaml).map(short) == [
            "5:3: env.2BAD: `2BAD` is not a valid environment variable name (letters, digits and '_', not starting with a digit)",
            "6:9: env.LIST: expected a string, number or boolean, got a list",
            "7:9: env.EMPTY: expected a string, number or boolean, got an empty value",
        ])
    }

    // MARK: Missing keys, empty files, syntax

    @Test func missingRequiredKeysPointAtTheMapping() {
        #expect(configErrors("\n\nreplicas: 2\n").map(short) == [
            "3:1: service: the file lacks the required key `service`",
            "3:1: run: the file names nothing to run: give `run: [PROGRAM, ARGS…]` (a local process) or `image: REPOSITORY:TAG` (a container)",
        ])
    }

    @Test(arguments: ["", "\n\n", "# only a comment\n", "---\n"])
    func emptyFile(text: String) {
        #expect(singleError(text) == "1:1: the file is empty; a slipway.yml needs at least `service:` and `run:` (or `image:`)")
    }

    @Test func topLevelMustBeAMapping() {
        #expect(singleError("- service: web\n")
            == "1:1: expected a mapping of settings (`service:`, `run:`, …) at the top level, got a list")
    }

    @Test func syntaxErrorHasItsPosition() {
        let yaml = """
            service: web
            run: [./web
            replicas: 2
            """
        let error = singleError(yaml)
        #expect(error?.hasPrefix("3:9: invalid YAML: ") == true, "\(error ?? "")")
    }

    @Test func badIndentationHasItsPosition() {
        let yaml = """
            service: web
            run: [x]
            health:
              path: /h
             interval: 1s
            """
        let error = singleError(yaml)
        #expect(error?.hasPrefix("5:") == true && error?.contains("invalid YAML") == true, "\(error ?? "")")
    }

    @Test func tabIndentationSaysSo() {
        let error = singleError("service: web\nrun: [x]\n\thealth: {}\n")
        #expect(error?.hasPrefix("3:1: invalid YAML: ") == true)
        #expect(error?.hasSuffix("; YAML does not allow tabs for indentation") == true, "\(error ?? "")")
    }

    @Test func oneDocumentOnly() {
        #expect(singleError("service: web\nrun: [x]\n---\nservice: b\n")
            == "3:1: invalid YAML: expected a single document in the stream but found another document")
    }

    @Test func keysMustBeStrings() {
        #expect(singleError(minimal + "1: x\n") == "3:1: keys must be strings, got the integer 1")
    }

    // MARK: Duplicates and many errors at once

    @Test func duplicateKeysPointAtTheSecondOne() {
        let yaml = """
            service: web
            run: [x]
            replicas: 2
            health:
              interval: 1s
              interval: 2s
            replicas: 3
            """
        #expect(configErrors(yaml).map(short) == [
            "6:3: health.interval: duplicate key `interval` (first given at line 5, column 3)",
            "7:1: replicas: duplicate key `replicas` (first given at line 3, column 1)",
        ])
    }

    @Test func duplicateKeyInAFlowMapping() {
        #expect(singleError(minimal + "health: {path: /a, path: /b}\n") == "3:20: duplicate key `path` (first given at line 3, column 10)")
    }

    /// Found by fuzzing: past 100 duplicate keys the file was refused with no error at all
    /// (`slipway validate` exited 1 and printed nothing). Each duplicate costs a parse of
    /// the whole file, so the check stops after a bound, but it always says why.
    @Test func manyDuplicateKeysAreReportedUpToABoundThenTheCheckSaysItStopped() {
        let limit = YAMLDocument.duplicateLimit
        let exactly = configErrors("service: web\n" + String(repeating: "run: [x]\n", count: limit + 1)).map(short)
        #expect(exactly.count == limit, "\(exactly)")
        #expect(exactly.allSatisfy { $0.contains("run: duplicate key `run` (first given at line 2, column 1)") }, "\(exactly)")
        #expect(!exactly.contains { $0.contains("check stopped") }, "\(limit) duplicates are all reported: \(exactly)")

        let many = configErrors("service: web\n" + String(repeating: "run: [x]\n", count: 150)).map(short)
        #expect(many.count == limit + 1, "\(many.count) errors")
        #expect(many.first == "3:1: run: duplicate key `run` (first given at line 2, column 1)")
        #expect(many.last == "\(limit + 3):1: run: duplicate key `run` (first given at line 2, column 1); that makes \(limit + 1) duplicate keys, so the check stopped here: remove them and check again for any others")
    }

    @Test func duplicateKeysAreReportedWithOtherErrors() {
        let yaml = """
            service: web
            run: [x]
            service: api
            replicas: zero
            """
        #expect(configErrors(yaml).map(short) == [
            "3:1: service: duplicate key `service` (first given at line 1, column 1)",
            "4:11: replicas: expected an integer, got the string \"zero\"",
        ])
    }

    @Test func everyErrorInTheFileIsReportedInOrder() {
        let yaml = """
            service: Web
            run: ["./web", "{{prot}}"]
            health:
              path: health
              intervall: 1s
            replicas: 0
            strategy:
              blue-green:
                drain_timeout: soon
            colour: blue
            """
        let errors = configErrors(yaml)
        #expect(errors.map { "\($0.line):\($0.column) \($0.path)" } == [
            "1:10 service",
            "2:16 run[1]",
            "4:9 health.path",
            "5:3 health.intervall",
            "6:11 replicas",
            "9:20 strategy.blue-green.drain_timeout",
            "10:1 colour",
        ])
        #expect(errors.allSatisfy { $0.file == "slipway.yml" })
    }
}
