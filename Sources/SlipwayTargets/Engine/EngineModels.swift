/// The parts of the engine's JSON that Slipway reads and writes. Field names are the API's.
public enum EngineModels {
    struct ErrorMessage: Decodable {
        var message: String
    }

    struct Version: Decodable {
        struct Component: Decodable { var Name: String }
        var Version: String
        var ApiVersion: String
        var Components: [Component]?
    }

    public struct ImageInspect: Decodable, Sendable {
        public var Id: String
        public var RepoTags: [String]?
        public var RepoDigests: [String]?
        public var Size: Int64?
    }

    public struct ContainerSummary: Decodable, Sendable {
        public var Id: String
        public var Names: [String]?
        public var State: String?
        public var Labels: [String: String]?
    }

    public struct ContainerInspect: Decodable, Sendable {
        public struct State: Decodable, Sendable {
            public var Status: String?
            public var Running: Bool?
            public var ExitCode: Int?
            public var OOMKilled: Bool?
            public var Error: String?
        }
        public struct HostConfig: Decodable, Sendable {
            public var Memory: Int64?
        }
        public struct Config: Decodable, Sendable {
            public var Labels: [String: String]?
            public var Env: [String]?
            public var Cmd: [String]?
            public var Entrypoint: [String]?
        }
        public var Id: String
        public var State: State?
        public var HostConfig: HostConfig?
        public var Config: Config?
    }

    struct Created: Decodable {
        var Id: String
        var Warnings: [String]?
    }

    /// One line of a pull's progress stream.
    struct PullProgress: Decodable {
        struct Detail: Decodable { var message: String? }
        var status: String?
        var id: String?
        var progress: String?
        var error: String?
        var errorDetail: Detail?
    }

    /// `POST /containers/create`.
    struct CreateContainer: Encodable {
        struct PortBinding: Encodable {
            var HostIp: String
            var HostPort: String
        }
        struct RestartPolicy: Encodable { var Name: String }
        struct Host: Encodable {
            var Init: Bool
            var NetworkMode: String
            var PortBindings: [String: [PortBinding]]?
            var Binds: [String]?
            var NanoCpus: Int64?
            var Memory: Int64?
            var ReadonlyRootfs: Bool
            var RestartPolicy: RestartPolicy
        }
        struct Empty: Encodable {}
        var Image: String
        var Entrypoint: [String]?
        var Cmd: [String]?
        var Env: [String]
        var Labels: [String: String]
        var User: String?
        var ExposedPorts: [String: Empty]?
        var HostConfig: Host
    }
}
