/// Every default Slipway applies, in one place. The config parser, the JSON Schema,
/// the CLI help and the README all read these constants.
public enum Defaults {
    public static let apiAddress = ListenAddress(host: "127.0.0.1", port: 7878)
    public static let listen = ListenAddress(host: "127.0.0.1", port: 8080)
    public static let replicas = 1
    public static let healthPath = "/health"
    public static let healthInterval: Duration = .seconds(1)
    public static let healthTimeout: Duration = .seconds(1)
    public static let healthyThreshold = 2
    public static let unhealthyThreshold = 3
    public static let healthGrace: Duration = .seconds(10)
    public static let keepPrevious: Duration = .seconds(600)
    public static let deployTimeout: Duration = .seconds(120)
    public static let drainTimeout: Duration = .seconds(30)
    public static let upstreamTimeout: Duration = .seconds(60)
    /// How long upgraded connections (WebSocket…) stay on an instance after its release
    /// stopped taking new traffic; then the router closes them.
    public static let websocketDrain: Duration = .seconds(30)
    public static let stopGrace: Duration = .seconds(10)
    public static let statsWindow: Duration = .seconds(60)
    /// Passive health: this many consecutive connection failures or 5xx responses eject
    /// an instance from rotation for `passiveEjectCooldown`.
    public static let passiveFailureRun = 5
    public static let passiveEjectCooldown: Duration = .seconds(10)
    /// Per-instance log files rotate at this size; this many rotated files are kept.
    public static let logMaxBytes = 10 * 1024 * 1024
    public static let logKeepFiles = 3
    /// Crash restarts back off from `restartBackoffBase`, doubling up to `restartBackoffMax`.
    public static let restartBackoffBase: Duration = .seconds(1)
    public static let restartBackoffMax: Duration = .seconds(30)
    public static let initialVersion = "v1"
    /// How long a rollout waits for its approvals before it fails (`approval_timeout`).
    public static let approvalTimeout: Duration = .seconds(24 * 3600)
    /// How long a gate `command` may run.
    public static let gateCommandTimeout: Duration = .seconds(60)
    /// How long a deploy hook (`hooks.*.timeout`) may run before it and its process group are killed.
    public static let hookTimeout: Duration = .seconds(300)
    /// How many of a hook's last output lines go into the rollout's events and failure reason.
    public static let hookOutputLines = 20
    /// Database backups (`backup:`) of a unit kept by default.
    public static let backupKeep = 10
    /// How long one database backup or restore may run by default.
    public static let backupTimeout: Duration = .seconds(600)
    /// The request header that pins a request to a named version (`pin.header`).
    public static let pinHeader = "X-Slipway-Version"
    /// Who may use the pin header (`pin.allow`): loopback only, so a public client cannot
    /// choose an unreleased version.
    public static let pinAllow = ["127.0.0.0/8", "::1/128"]
    /// Canary instances that crash this many times during a rollout fail it (crash loop).
    public static let canaryMaxRestarts = 3
    /// Crashes of a blue-green or rolling release's instances that make a crash loop.
    public static let maxRestarts = 3
    /// Fleet: how long a switch waits for a server whose prepare or commit failed (while it
    /// answered before) to confirm the table through its reconnect before going on.
    public static let fleetSwitchAcknowledgement: Duration = .seconds(10)
    /// Rolling: new instances started above `replicas` at a time.
    public static let rollingMaxSurge = 1
    /// Rolling: instances below `replicas` that may be out of service at a time.
    public static let rollingMaxUnavailable = 0
    /// The sticky-assignment cookie is named this plus the service name.
    public static let affinityCookiePrefix = "slipway_"
    /// When the container engine fetches an image (`pull:`).
    public static let pullPolicy: ContainerSpec.PullPolicy = .missing
    /// The engine's socket when neither `--docker-host` nor `DOCKER_HOST` names one.
    public static let dockerSocket = "/var/run/docker.sock"
    /// The Docker Engine API version Slipway speaks (Docker 20.10+, Podman 4+).
    public static let engineAPIVersion = "1.41"
    /// Slipway's directory on a fleet server (`servers[].dir`), relative to the login
    /// user's home: its binary, router state and instance logs.
    public static let serverDirectory = ".slipway-host"
    /// Seconds SSH waits for a fleet server's TCP connection (`ConnectTimeout`).
    public static let sshConnectTimeoutSeconds = 10
    /// A difference of at least this many seconds between the wall clock and the controller's
    /// steady clock is a step of the wall clock (smaller ones are NTP slewing and noise).
    public static let clockStepTolerance = 1.0
    /// Events and settled notifications older than this are deleted (`slipway server --retention`).
    public static let retention: Duration = .seconds(90 * 86_400)
}
