import Foundation
import SlipwayCore
import Yams

/// `image:` and its companions in slipway.yml: the service's instances are containers.
/// The keys sit at the top level beside `run:` (one of the two is given) and land in
/// `ServiceSpec.container`; everything but `image` can be overridden per environment
/// (a release is the same build in every environment, as with `run`).
extension ServiceFields {
    /// Keys that only mean something for containers.
    static let containerKeys = ["command", "args", "volumes", "cpus", "memory", "user", "read_only", "network", "pull", "registry"]

    static var containerSettings: [Field<ServiceSpec>] {
        [
            Field("image", imageReference, \.containerImage,
                  doc: "Run the instances as containers of this image (instead of `run`): REPOSITORY[:TAG]; {{version}} becomes the release's version label (ghcr.io/acme/web:{{version}}). Each release pins the image's digest when it first starts, so a rollback runs the same bytes even after the tag moved. The app listens on $PORT."),
            Field("command", .list(of: argument(placeholders: containerPlaceholders), nonEmpty: true), \.containerCommand,
                  doc: "Containers: replaces the image's ENTRYPOINT ({{port}} and {{version}} are replaced)."),
            Field("args", .list(of: argument(placeholders: containerPlaceholders)), \.containerArgs,
                  doc: "Containers: replaces the image's CMD ({{port}} and {{version}} are replaced)."),
            Field("volumes", .list(of: volume), \.containerVolumes,
                  doc: "Containers: mounts as SOURCE:TARGET[:ro|rw]; SOURCE is an absolute host path, a path starting with ./ or ../ (relative to the config file), or a named volume."),
            Field("cpus", .number(0, 1024, open: true), \.containerCPUs,
                  doc: "Containers: CPU limit in cores (0.5 is half a core)."),
            Field("memory", byteSize(minimum: 6 << 20), \.containerMemory,
                  doc: "Containers: memory limit, in bytes or with a unit: 512m, 1g, 256MiB (at least 6m). Going over it gets the container killed by the kernel's OOM killer, which Slipway records with the crash."),
            Field("user", ValueType<String>.string.checked { $0.isEmpty || $0.contains(" ") ? "must be USER[:GROUP] (names or numeric ids) without spaces" : nil }, \.containerUser,
                  doc: "Containers: the user (and group) the app runs as, USER[:GROUP]; default: the image's."),
            Field("read_only", .boolean, \.containerReadOnly,
                  doc: "Containers: mount the root filesystem read-only (write to volumes)."),
            Field("network", ValueType<ContainerSpec.Network>.enumeration, \.containerNetwork,
                  doc: "Containers: bridge (default: the engine's bridge, $PORT published on 127.0.0.1 only) or host (the host's network; the app binds $PORT on the host)."),
            Field("pull", ValueType<ContainerSpec.PullPolicy>.enumeration, \.containerPull,
                  doc: "Containers: when the engine pulls the image for a new release: never (it must be on the engine), missing (default), always (a moved tag is seen; the release still pins the digest)."),
            Field("registry", registry.valueType, \.containerRegistry,
                  doc: "Containers: credentials the engine uses to pull the image; the password is a ${NAME} reference to a secret (`slipway secrets set`)."),
            Field("artifact", ValueType<String>.string.checked { $0.isEmpty ? "must not be empty" : nil }, \.artifact,
                  doc: "Local processes: a file or directory (relative to the config file) whose exact bytes each release records (SHA-256) and keeps in the state directory, beside the program run[0] names. A directory becomes the instances' working directory (its stored copy); {{artifact}} in `run` and $SLIPWAY_ARTIFACT name the stored copy."),
        ]
    }

    static var imageReference: ValueType<String> {
        ValueType<String>.string.checked { reference in
            for placeholder in ProviderTemplate.scan(reference) {
                guard let name = placeholder else { return "has `{{` without a closing `}}`; the known placeholder is {{version}}" }
                if name != "version" { return "unknown placeholder `{{\(name)}}`; the known placeholder is {{version}}" }
            }
            guard ImageReference.problem(reference.replacingOccurrences(of: "{{version}}", with: "v1")) == nil else {
                return "\(quoted(reference)) is not an image reference: write [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST] with a lowercase repository, such as ghcr.io/acme/web:{{version}}"
            }
            return nil
        }
    }

    static var volume: ValueType<String> {
        ValueType<String>.string.checked { text in
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let usage = "write SOURCE:TARGET[:ro|rw], e.g. ./data:/var/lib/app or cache:/tmp/cache:rw"
            guard parts.count == 2 || parts.count == 3 else { return "\(quoted(text)) is not a mount: \(usage)" }
            let (source, target) = (parts[0], parts[1])
            guard !source.isEmpty else { return "\(quoted(text)) names no source: \(usage)" }
            guard target.hasPrefix("/") else { return "the target \(quoted(target)) of \(quoted(text)) must be an absolute path inside the container" }
            if parts.count == 3, !["ro", "rw"].contains(parts[2]) { return "the mode \(quoted(parts[2])) of \(quoted(text)) must be ro or rw" }
            let isPath = source.hasPrefix("/") || source.hasPrefix("./") || source.hasPrefix("../") || source == "." || source == ".."
            if !isPath, !matches(source, "^[A-Za-z0-9][A-Za-z0-9_.-]*$") {
                return "the source \(quoted(source)) of \(quoted(text)) is neither a path (absolute, or starting with ./ or ../) nor a volume name (letters, digits, '_', '.', '-')"
            }
            return nil
        }
    }

    /// Bytes: an integer, or a number with a unit b, k, m, g (powers of 1024; `KiB`, `MB`… alike).
    static func byteSize(minimum: Int64) -> ValueType<Int64> {
        let pattern = "^[0-9]+(\\.[0-9]+)?\\s*([bBkKmMgGtT]([iI]?[bB])?)?$"
        let schema: [(String, JSONValue)] = [("oneOf", .array([
            .object([("type", .string("string")), ("pattern", .string(pattern))]),
            .object([("type", .string("integer")), ("minimum", .integer(Int(minimum)))]),
        ]))]
        return ValueType(schema: schema, json: { .integer(Int($0)) }) { node, path, diagnostics in
            let expected = "a size such as 512m, 1g or 268435456 (bytes)"
            guard case .scalar(let scalar) = node, [.string, .integer, .number].contains(ScalarKind(node)),
                  let bytes = parseByteSize(scalar.string) else {
                diagnostics.typeMismatch(expected: expected, found: node, path)
                return nil
            }
            guard bytes >= minimum else {
                diagnostics.error(at: node, path, "must be at least \(ByteText.format(minimum)) (got \(scalar.string))")
                return nil
            }
            return bytes
        }
    }

    static func parseByteSize(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        guard let number = Double(digits), number >= 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kb", "kib": scale = 1024
        case "m", "mb", "mib": scale = 1024 * 1024
        case "g", "gb", "gib": scale = 1024 * 1024 * 1024
        case "t", "tb", "tib": scale = 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = number * scale
        guard bytes < Double(Int64.max) else { return nil }
        return Int64(bytes)
    }

    static var registry: ObjectType<RegistryCredentials> {
        ObjectType(
            doc: "Credentials for the image's registry.",
            initial: RegistryCredentials(username: "", password: ""),
            fields: [
                Field("server", ValueType<String>.string.checked { $0.isEmpty || $0.contains("/") ? "must be a registry host such as ghcr.io or 127.0.0.1:5000" : nil }, \.server,
                      doc: "The registry host (default: the one the image reference names, else Docker Hub)."),
                Field("username", ValueType<String>.string.checked { referenceProblem($0) ?? ($0.isEmpty ? "must not be empty" : nil) }, \.username, required: true,
                      doc: "The user name (or a ${NAME} reference)."),
                Field("password", ValueType<String>.string.checked { password in
                    if let problem = referenceProblem(password) { return problem }
                    guard password.hasPrefix("${"), password.hasSuffix("}"), password.filter({ $0 == "$" }).count == 1 else {
                        return "must be a `${NAME}` reference to a secret (`slipway secrets set SERVICE NAME`), never the password itself"
                    }
                    return nil
                }, \.password, required: true,
                      doc: "A ${NAME} reference: the secret NAME of the service (or a variable of the server's environment), read when a pull runs."),
            ]
        )
    }

    /// Exactly one of `run` and `image`; container keys need `image`, `artifact` needs `run`.
    static func checkTarget(_ spec: inout ServiceSpec, _ scope: ObjectScope) {
        let hasRun = scope.isGiven("run"), hasImage = scope.isGiven("image")
        if hasRun && hasImage {
            scope.error(at: "image", "give `run` (local processes) or `image` (containers), not both")
            return
        }
        if !hasRun && !hasImage {
            let at = scope.path.description.isEmpty ? "the file" : "`\(scope.path)`"
            scope.diagnostics.error(at: scope.node, scope.path.key("run"), "\(at) names nothing to run: give `run: [PROGRAM, ARGS…]` (a local process) or `image: REPOSITORY:TAG` (a container)")
            return
        }
        if hasRun {
            for key in containerKeys where scope.isGiven(key) {
                scope.error(at: key, "`\(key)` applies to containers; this service runs a local process (`run`). Use `image:` instead of `run:`, or remove `\(key)`")
            }
            spec.container = nil
            if spec.artifact == nil, spec.run.contains(where: { $0.contains("{{artifact}}") }) {
                scope.error(at: "run", "uses {{artifact}}, but the service has no `artifact:`")
            }
        } else if scope.isGiven("artifact") {
            scope.error(at: "artifact", "`artifact` applies to local processes; a container's bytes are its image, pinned by digest")
        }
    }
}

/// Sizes for messages: `6 MiB`.
enum ByteText {
    static func format(_ bytes: Int64) -> String {
        if bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}

/// The top-level container keys as properties of the spec, for the field table: setting
/// any of them creates `container` (an image of "" until `image` is read).
extension ServiceSpec {
    /// `run`, absent (nil) for a container service.
    var runCommand: [String]? {
        get { run.isEmpty ? nil : run }
        set { run = newValue ?? [] }
    }

    var containerOrEmpty: ContainerSpec { container ?? ContainerSpec(image: "") }

    var containerImage: String? {
        get { container.map(\.image) }
        set { if let newValue { container = containerOrEmpty; container?.image = newValue } }
    }
    var containerCommand: [String]? {
        get { container?.command }
        set { container = containerOrEmpty; container?.command = newValue }
    }
    var containerArgs: [String]? {
        get { container?.args }
        set { container = containerOrEmpty; container?.args = newValue }
    }
    var containerVolumes: [String] {
        get { container?.volumes ?? [] }
        set { container = containerOrEmpty; container?.volumes = newValue }
    }
    var containerCPUs: Double? {
        get { container?.cpus }
        set { container = containerOrEmpty; container?.cpus = newValue }
    }
    var containerMemory: Int64? {
        get { container?.memory }
        set { container = containerOrEmpty; container?.memory = newValue }
    }
    var containerUser: String? {
        get { container?.user }
        set { container = containerOrEmpty; container?.user = newValue }
    }
    var containerReadOnly: Bool {
        get { container?.readOnly ?? false }
        set { container = containerOrEmpty; container?.readOnly = newValue }
    }
    var containerNetwork: ContainerSpec.Network {
        get { container?.network ?? .bridge }
        set { container = containerOrEmpty; container?.network = newValue }
    }
    var containerPull: ContainerSpec.PullPolicy {
        get { container?.pull ?? Defaults.pullPolicy }
        set { container = containerOrEmpty; container?.pull = newValue }
    }
    var containerRegistry: RegistryCredentials? {
        get { container?.registry }
        set { container = containerOrEmpty; container?.registry = newValue }
    }
}
