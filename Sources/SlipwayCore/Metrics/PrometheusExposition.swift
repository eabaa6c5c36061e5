/// The router's cumulative per-version numbers in the Prometheus text exposition format
/// (version 0.0.4), as `GET /metrics` on the control-plane API serves them:
///
/// - `slipway_requests_total{service,version,code_class}`: counter; `code_class` is `1xx`…`5xx`,
///   or `none` for requests whose client left before a response. Summed over classes it is
///   every request, as the built-in `error_rate` counts them.
/// - `slipway_upstream_errors_total{service,version}`: counter of router-made 502/504.
/// - `slipway_request_duration_seconds{service,version}`: histogram (`_bucket{le}`, `_sum`,
///   `_count`) of head-received-to-response-end latency of answered requests.
///
/// A service on `servers:` has one series per server (label `server`), each counted by that
/// server's router: sum over `server` for the fleet. A server that does not answer a scrape
/// has no series in it (`slipway_server_up` says which).
public enum PrometheusExposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// - Parameter edge: requests services' edges answered themselves (429, 403); their
    ///   families are left out when no service has edge rules.
    public static func render(_ versions: [VersionTotals], edge: [EdgeTotals] = []) -> String {
        var out = ""
        let sorted = versions.sorted { ($0.service, $0.version, $0.server ?? "") < ($1.service, $1.version, $1.server ?? "") }

        out += "# HELP slipway_requests_total Requests the router finished, per service, version and status class (none: the client left before a response).\n"
        out += "# TYPE slipway_requests_total counter\n"
        for v in sorted {
            let classes: [(String, UInt64)] = [("1xx", v.status1xx), ("2xx", v.status2xx), ("3xx", v.status3xx), ("4xx", v.status4xx), ("5xx", v.status5xx), ("none", v.noResponse)]
            for (name, count) in classes {
                out += "slipway_requests_total\(labels(v, ("code_class", name))) \(count)\n"
            }
        }

        out += "# HELP slipway_upstream_errors_total Requests the router answered 502 or 504 itself because the instance did not answer.\n"
        out += "# TYPE slipway_upstream_errors_total counter\n"
        for v in sorted {
            out += "slipway_upstream_errors_total\(labels(v)) \(v.upstreamErrors)\n"
        }

        if sorted.contains(where: { $0.grpcErrors != nil }) {
            out += "# HELP slipway_grpc_errors_total gRPC calls that ended with a grpc-status other than 0 (OK) in an HTTP answer below 500.\n"
            out += "# TYPE slipway_grpc_errors_total counter\n"
            for v in sorted {
                out += "slipway_grpc_errors_total\(labels(v)) \(v.grpcErrors ?? 0)\n"
            }
        }

        out += "# HELP slipway_request_duration_seconds Time from a request's head to the end of its response, per service and version.\n"
        out += "# TYPE slipway_request_duration_seconds histogram\n"
        for v in sorted {
            var cumulative: UInt64 = 0
            for (i, bound) in ExportedLatency.bucketSeconds.enumerated() {
                cumulative += i < v.latencyBuckets.count ? v.latencyBuckets[i] : 0
                out += "slipway_request_duration_seconds_bucket\(labels(v, ("le", "\(bound)"))) \(cumulative)\n"
            }
            out += "slipway_request_duration_seconds_bucket\(labels(v, ("le", "+Inf"))) \(v.latencyCount)\n"
            out += "slipway_request_duration_seconds_sum\(labels(v)) \(Double(v.latencySumMicros) / 1_000_000)\n"
            out += "slipway_request_duration_seconds_count\(labels(v)) \(v.latencyCount)\n"
        }

        out += "# HELP slipway_upgraded_connections Upgraded connections (WebSocket and other Upgrades) open to the version's instances through the router.\n"
        out += "# TYPE slipway_upgraded_connections gauge\n"
        for v in sorted {
            out += "slipway_upgraded_connections\(labels(v)) \(v.openTunnels ?? 0)\n"
        }

        if !edge.isEmpty {
            let services = edge.sorted { $0.service < $1.service }
            out += "# HELP slipway_rate_limited_total Requests the router answered 429 because their client address was over the service's rate_limit (no version handled them).\n"
            out += "# TYPE slipway_rate_limited_total counter\n"
            for e in services { out += "slipway_rate_limited_total{service=\"\(escape(e.service))\"} \(e.rateLimited)\n" }
            out += "# HELP slipway_forbidden_total Requests the router answered 403 because the path is restricted and the client address is not allowed (no version handled them).\n"
            out += "# TYPE slipway_forbidden_total counter\n"
            for e in services { out += "slipway_forbidden_total{service=\"\(escape(e.service))\"} \(e.forbidden)\n" }
        }
        return out
    }

    /// One fleet server as `GET /metrics` shows it.
    public struct ServerLine: Sendable, Equatable {
        public var id: String
        /// Its router answered this scrape.
        public var up: Bool
        /// ssh and scp processes the control plane started for it (since it started).
        public var sshCommands: Int
        /// Calls the control plane made to its router over the forwarded socket.
        public var routerCalls: Int

        public init(id: String, up: Bool, sshCommands: Int = 0, routerCalls: Int = 0) {
            self.id = id
            self.up = up
            self.sshCommands = sshCommands
            self.routerCalls = routerCalls
        }
    }

    /// `slipway_server_up{server}` (1 when the fleet server's router answered the scrape)
    /// and the control plane's cost per server: `slipway_fleet_ssh_commands_total{server}`,
    /// `slipway_fleet_router_calls_total{server}`.
    public static func renderServers(_ servers: [ServerLine]) -> String {
        guard !servers.isEmpty else { return "" }
        let sorted = servers.sorted { $0.id < $1.id }
        let families: [(name: String, type: String, help: String, value: (ServerLine) -> String)] = [
            ("slipway_server_up", "gauge", "Whether the fleet server's router answered this scrape (its series are absent when 0).", { $0.up ? "1" : "0" }),
            ("slipway_fleet_ssh_commands_total", "counter", "ssh and scp processes the control plane started for the fleet server (master connection, commands, copies, forwards).", { "\($0.sshCommands)" }),
            ("slipway_fleet_router_calls_total", "counter", "Calls the control plane made to the fleet server's router over SSH (tables, health, numbers, instances).", { "\($0.routerCalls)" }),
        ]
        var out = ""
        for family in families {
            out += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
            for server in sorted { out += "\(family.name){server=\"\(escape(server.id))\"} \(family.value(server))\n" }
        }
        return out
    }

    static func labels(_ v: VersionTotals, _ extra: (String, String)? = nil) -> String {
        var pairs = [("service", v.service), ("version", v.version)]
        if let server = v.server { pairs.append(("server", server)) }
        if let extra { pairs.append(extra) }
        return "{" + pairs.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// Label values escape `\`, `"` and newlines.
    static func escape(_ value: String) -> String {
        var out = ""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }
}
