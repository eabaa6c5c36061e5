import NIOHTTP1

/// Header rewriting between client and instance.
enum ProxyHeaders {
    static let requestIDName = "X-Request-Id"

    /// Rewrites a client request head for the instance: drops hop-by-hop headers, appends
    /// the client to X-Forwarded-For, sets X-Forwarded-Proto and X-Request-Id.
    /// Returns the request id (the client's when it sent one).
    static func prepareRequest(_ head: inout HTTPRequestHead, clientIP: String, https: Bool = false, random: inout FastRandom) -> String {
        stripHopByHop(&head.headers)
        head.version = .http1_1
        let forwarded = head.headers[canonicalForm: "x-forwarded-for"]
        if forwarded.isEmpty {
            head.headers.add(name: "X-Forwarded-For", value: clientIP)
        } else {
            head.headers.replaceOrAdd(name: "X-Forwarded-For", value: forwarded.joined(separator: ", ") + ", " + clientIP)
        }
        let proto = https ? "https" : "http"
        if head.headers.contains(name: "x-forwarded-proto") {
            head.headers.replaceOrAdd(name: "X-Forwarded-Proto", value: proto)
        } else {
            head.headers.add(name: "X-Forwarded-Proto", value: proto)
        }
        if let id = head.headers.first(name: requestIDName), !id.isEmpty {
            return id
        }
        let id = random.requestID()
        head.headers.add(name: requestIDName, value: id)
        return id
    }

    /// Rewrites an instance's response head for the client. Returns true when the client
    /// connection must close after this response.
    static func prepareResponse(_ head: inout HTTPResponseHead, requestID: String, clientVersion: HTTPVersion, clientKeepAlive: Bool) -> Bool {
        stripHopByHop(&head.headers)
        if !head.headers.contains(name: requestIDName) {
            head.headers.add(name: requestIDName, value: requestID)
        }
        head.version = clientVersion
        var keepAlive = clientKeepAlive
        if clientVersion.major == 1 && clientVersion.minor == 0 {
            // HTTP/1.0 has no chunked encoding: a body without a length ends at close.
            if head.headers.contains(name: "transfer-encoding") {
                head.headers.remove(name: "transfer-encoding")
            }
            if head.status.mayHaveResponseBody && !head.headers.contains(name: "content-length") {
                keepAlive = false
            }
            if keepAlive { head.headers.add(name: "Connection", value: "keep-alive") }
        } else if !keepAlive {
            head.headers.add(name: "Connection", value: "close")
        }
        return !keepAlive
    }

    /// Removes Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade and any header named
    /// in Connection. Scans once and touches nothing when none is present (the common case).
    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        var found = false
        for (name, _) in headers where isHopByHop(name) {
            found = true
            break
        }
        guard found else { return }
        for token in headers[canonicalForm: "connection"] {
            let name = String(token)
            if !name.isEmpty, !isFraming(name) { headers.remove(name: name) }
        }
        var proxyNames: [String] = []
        for (name, _) in headers where hasProxyPrefix(name) { proxyNames.append(name) }
        for name in proxyNames { headers.remove(name: name) }
        for name in ["connection", "keep-alive", "te", "trailer", "upgrade"] {
            headers.remove(name: name)
        }
    }

    @inline(__always)
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return equalsLowercase(name, "te")
        case 7: return equalsLowercase(name, "trailer") || equalsLowercase(name, "upgrade")
        case 10: return equalsLowercase(name, "connection") || equalsLowercase(name, "keep-alive")
        default: return hasProxyPrefix(name)
        }
    }

    private static func isFraming(_ name: String) -> Bool {
        equalsLowercase(name, "content-length") || equalsLowercase(name, "transfer-encoding") || equalsLowercase(name, "host")
    }

    private static func hasProxyPrefix(_ name: String) -> Bool {
        let prefix = "proxy-".utf8
        guard name.utf8.count > prefix.count else { return false }
        return zip(name.utf8, prefix).allSatisfy { lower($0) == $1 }
    }

    /// ASCII case-insensitive equality with an already-lowercase `lowercase`.
    @inline(__always)
    static func equalsLowercase(_ value: String, _ lowercase: StaticString) -> Bool {
        lowercase.withUTF8Buffer { expected in
            guard value.utf8.count == expected.count else { return false }
            var index = 0
            for byte in value.utf8 {
                if lower(byte) != expected[index] { return false }
                index += 1
            }
            return true
        }
    }

    @inline(__always)
    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
