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
        // NIO's request encoder frames a body by chunks only when Transfer-Encoding is
        // exactly `chunked`; for a GET, DELETE or OPTIONS with `Chunked` it wrote the decoded
        // body raw under the client's header, and the instance read the client's bytes as
        // chunk framing: a request hidden in a body reached it unseen (request smuggling,
        // found by fuzzing). `headProblem` lets only `chunked`, in any case, this far.
        if head.headers.contains(name: "transfer-encoding") {
            head.headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
        }
        if !head.headers.contains(name: "x-forwarded-for") {
            head.headers.add(name: "X-Forwarded-For", value: clientIP)
        } else {
            // The client's chain without empty elements (found by fuzzing: an empty header
            // stayed beside the router's, and `,` became `, CLIENT`), then the client.
            var chain = head.headers[canonicalForm: "x-forwarded-for"]
            chain.removeAll(where: \.isEmpty)
            chain.append(Substring(clientIP))
            head.headers.replaceOrAdd(name: "X-Forwarded-For", value: chain.joined(separator: ", "))
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

    /// The protocol an HTTP/1.1 request asks to switch to: its `Upgrade` header when
    /// `upgrade` is among its `Connection` tokens (RFC 9110 §7.8), else nil.
    static func upgradeRequested(_ head: HTTPRequestHead) -> String? {
        // The common case (no Upgrade header) costs one scan and no allocation.
        guard head.version.major == 1, head.version.minor >= 1, head.headers.contains(name: "upgrade"),
              head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else { return nil }
        let protocols = head.headers[canonicalForm: "upgrade"]
        guard !protocols.isEmpty else { return nil }
        return protocols.joined(separator: ", ")
    }

    /// The request as the instance receives it when the client asked to switch protocols:
    /// hop-by-hop headers are dropped as for any request, then the upgrade is asked for again.
    static func keepUpgrade(_ head: inout HTTPRequestHead, protocol upgrade: String) {
        head.headers.add(name: "Connection", value: "Upgrade")
        head.headers.add(name: "Upgrade", value: upgrade)
    }

    /// Rewrites an instance's `101 Switching Protocols` for the client: like any response,
    /// but the `Upgrade` it chose and `Connection: Upgrade` stay.
    static func prepareSwitch(_ head: inout HTTPResponseHead, requestID: String, requested: String) {
        let chosen = head.headers[canonicalForm: "upgrade"].joined(separator: ", ")
        stripHopByHop(&head.headers)
        if !head.headers.contains(name: requestIDName) {
            head.headers.add(name: requestIDName, value: requestID)
        }
        head.version = .http1_1
        head.headers.add(name: "Connection", value: "Upgrade")
        head.headers.add(name: "Upgrade", value: chosen.isEmpty ? requested : chosen)
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
