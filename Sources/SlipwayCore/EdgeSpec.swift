/// What the router does at a service's edge before a request reaches an instance:
/// terminate TLS, add security headers, limit each client's request rate, and keep
/// chosen path prefixes to allowed networks. Each is off unless configured.

/// The router terminates TLS on the service's `listen` address with these PEM files.
/// Paths are absolute once the config loader has resolved them against the config
/// file's directory. Every service on one listen address must name the same files.
public struct TLSSpec: Codable, Sendable, Hashable {
    /// The certificate chain (PEM), leaf first.
    public var cert: String
    /// The private key of the leaf certificate (PEM, unencrypted).
    public var key: String

    public init(cert: String, key: String) {
        self.cert = cert
        self.key = key
    }
}

/// Security headers the router adds to every response of the service (proxied answers
/// and its own error answers). A header the instance already set is left as it is.
public struct SecurityHeaders: Codable, Sendable, Equatable {
    /// `Strict-Transport-Security`.
    public var hsts: String?
    /// `Content-Security-Policy`.
    public var csp: String?
    /// `X-Content-Type-Options`.
    public var contentTypeOptions: String?
    /// `X-Frame-Options`.
    public var frameOptions: String?
    /// `Referrer-Policy`.
    public var referrerPolicy: String?

    public init(hsts: String? = nil, csp: String? = nil, contentTypeOptions: String? = nil, frameOptions: String? = nil, referrerPolicy: String? = nil) {
        self.hsts = hsts
        self.csp = csp
        self.contentTypeOptions = contentTypeOptions
        self.frameOptions = frameOptions
        self.referrerPolicy = referrerPolicy
    }

    /// The configured headers as (name, value), in a fixed order.
    public var fields: [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        if let hsts { result.append(("Strict-Transport-Security", hsts)) }
        if let csp { result.append(("Content-Security-Policy", csp)) }
        if let contentTypeOptions { result.append(("X-Content-Type-Options", contentTypeOptions)) }
        if let frameOptions { result.append(("X-Frame-Options", frameOptions)) }
        if let referrerPolicy { result.append(("Referrer-Policy", referrerPolicy)) }
        return result
    }
}

/// A token bucket per client address: `burst` tokens, refilled at `perSecond`; a request
/// takes one token or is answered 429 with `Retry-After`.
public struct RateLimitSpec: Codable, Sendable, Equatable {
    /// Sustained requests per second per client address.
    public var perSecond: Double
    /// Bucket size: how many requests a client may send at once after being idle.
    public var burst: Int

    public init(perSecond: Double, burst: Int? = nil) {
        self.perSecond = perSecond
        self.burst = burst ?? RateLimitSpec.defaultBurst(perSecond: perSecond)
    }

    /// The rates a limit may have: from one request an hour to a million a second. Outside
    /// it the arithmetic stops meaning anything (a wait longer than a 64-bit count of
    /// nanoseconds, a burst beyond any integer); the config refuses such a rate and the
    /// router refuses a table with one.
    public static let perSecondRange: ClosedRange<Double> = (1.0 / 3600)...1_000_000

    /// Without `burst`: one second's worth of requests (at least 1).
    public static func defaultBurst(perSecond: Double) -> Int {
        let second = perSecond.rounded(.up)
        guard second.isFinite, second >= 1 else { return 1 }
        return Int(exactly: second) ?? Int(perSecondRange.upperBound)
    }

    /// Parses `100/s`, `6000/m`, `50/h` (a count per second, minute or hour); nil otherwise.
    public static func parseRate(_ text: String) -> Double? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let count = parts[0].trimmingCharactersInSpaces
        guard !count.isEmpty, count.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(count), value.isFinite, value > 0 else { return nil }
        switch parts[1].trimmingCharactersInSpaces {
        case "s": return value
        case "m": return value / 60
        case "h": return value / 3600
        default: return nil
        }
    }
}

extension Substring {
    fileprivate var trimmingCharactersInSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// Requests whose path is one of `paths` (or below it, on a `/` boundary) are answered
/// 403 unless the client's address is in one of the `allow` networks.
public struct PathRestriction: Codable, Sendable, Equatable {
    /// Path prefixes such as `/metrics` and `/admin`.
    public var paths: [String]
    /// Client networks in CIDR notation.
    public var allow: [String]

    public init(paths: [String], allow: [String]) {
        self.paths = paths
        self.allow = allow
    }
}
