import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SlipwayCore

/// What the router's fuzz targets (`Fuzz/`, `scripts/fuzz.sh`) run: the router's HTTP/1.1
/// request handling on embedded channels and its parsers, each checking invariants that
/// must hold for any input. A target returns the invariant an input broke (nil when all
/// held); the fuzzer turns that into a finding, the corpus tests into a failure. A crash or
/// trap inside is a finding by itself. The router never calls any of this.
public enum RouterFuzzing {
    static let listen = ListenAddress(host: "127.0.0.1", port: 8080)

    /// The table the HTTP/1.1 target routes by: a split between two versions with sticky
    /// assignment, version pins, a restricted path, security headers, a body limit and a
    /// rate limit, so that every per-request feature sees the fuzzer's bytes.
    public static let http1Table = RouteTable(generation: 1, services: [
        {
            var route = ServiceRoute(
                service: "web", listen: listen, hosts: ["web", "web.example"],
                groups: [
                    BackendGroup(version: "v1", weight: 50, endpoints: [Endpoint(id: "v1-a", host: "127.0.0.1", port: 9001)]),
                    BackendGroup(version: "v2", weight: 50, endpoints: [Endpoint(id: "v2-a", host: "127.0.0.1", port: 9002)]),
                ],
                upstreamTimeout: .seconds(30),
                affinity: Affinity(cookie: "slipway-web", key: String(repeating: "ab", count: 32), scope: "production"),
                pin: PinRule(),
                headers: SecurityHeaders(hsts: "max-age=31536000", contentTypeOptions: "nosniff"),
                rateLimit: RateLimitSpec(perSecond: 1_000_000, burst: 1_000_000),
                restrict: [PathRestriction(paths: ["/admin"], allow: ["10.0.0.0/8"])])
            route.maxRequestBody = 4096
            return route
        }(),
        ServiceRoute(service: "api", listen: listen, hosts: ["api"],
                     groups: [BackendGroup(version: "v7", weight: 100, endpoints: [Endpoint(id: "v7-a", host: "127.0.0.1", port: 9007)])]),
    ])

    // MARK: HTTP/1.1

    /// Arbitrary bytes from one client connection through the router's HTTP/1.1 handling.
    /// Instances answer every request they receive (a response framed by length, chunks or
    /// close, picked by the request's path). Invariants: every byte an instance receives
    /// parses as HTTP/1.1 requests under a strict parser, each with one unambiguous framing
    /// (never both `Content-Length` and `Transfer-Encoding`, only `chunked`, one length),
    /// without hop-by-hop headers, and with the router's forwarding headers; a request to
    /// the restricted path from a client outside its network never reaches an instance.
    public static func http1(_ bytes: UnsafeRawBufferPointer) -> String? {
        http1(bytes, table: http1Table)
    }

    static func http1(_ bytes: UnsafeRawBufferPointer, table: RouteTable) -> String? {
        let harness: EmbeddedRouter
        do {
            harness = try EmbeddedRouter(table: table)
        } catch {
            return "the embedded router did not start: \(error)"
        }
        defer { harness.finish() }
        var buffer = harness.client.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        _ = try? harness.client.writeInbound(buffer)
        // Let instances answer, the router forward the answers and later pipelined requests.
        for round in 0..<8 {
            if let problem = harness.pumpInstances() { return problem }
            _ = try? EmbeddedRouter.drain(harness.client)
            if round == 4 {
                // Past every timeout: request head, instance answer, keep-alive idle.
                harness.loop.advanceTime(by: .seconds(120))
            }
        }
        return harness.problem
    }

    // MARK: Route tables

    /// The JSON the data plane accepts as a route table: decoded, compiled into a routing
    /// snapshot, and a request for each service's first host sent through the router with
    /// that table. Invariants: a decoded table encodes and decodes to an equal table; the
    /// snapshot routes every service of the table; the requests obey the HTTP/1.1 target's
    /// invariants.
    public static func routeTable(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let table = try? JSONDecoder().decode(RouteTable.self, from: Data(bytes)) else { return nil }
        do {
            let again = try JSONDecoder().decode(RouteTable.self, from: JSONEncoder().encode(table))
            guard again == table else { return "a route table does not survive encoding and decoding: \(table) became \(again)" }
        } catch {
            return "a decoded route table does not encode and decode again: \(error)"
        }
        let snapshot = EndpointRegistry(shardCount: 2).compile(table)
        for route in table.services {
            guard let listener = snapshot.listeners[route.listen], listener.services.contains(where: { $0.name == route.service }) else {
                // A service is left out only with a problem saying why.
                guard snapshot.problems.contains(where: { $0.service == route.service }) else {
                    return "service \(route.service) is missing from the compiled snapshot without a problem naming it"
                }
                continue
            }
        }
        // The embedded router plays instances over HTTP/1.1 only.
        var plain = table
        for index in plain.services.indices { plain.services[index].upstream = .http1 }
        var requests = ""
        for route in table.services.prefix(4) {
            let host = route.hosts.first.map { $0.filter { $0.isASCII && !$0.isWhitespace && !$0.isNewline } } ?? ""
            requests += "GET / HTTP/1.1\r\nHost: \(host.isEmpty ? "x" : host)\r\n\r\n"
        }
        return requests.utf8.withContiguousStorageIfAvailable { http1(UnsafeRawBufferPointer($0), table: plain) } ?? nil
    }

    // MARK: Cookies and headers

    /// A `Cookie` header value: the router's scan must find exactly the pairs a plain
    /// reading of RFC 6265 §5.4 finds (split at `;`, name up to the first `=`, spaces and
    /// tabs trimmed, one pair of quotes around a value dropped, pairs without `=` or name
    /// skipped), and the sticky cookie of each version must be recognised among them.
    public static func cookie(_ bytes: UnsafeRawBufferPointer) -> String? {
        let header = Array(bytes)
        var scanned: [([UInt8], [UInt8])] = []
        _ = header.withUnsafeBufferPointer { pointer in
            CookieHeader.scan(pointer) { name, value in
                scanned.append((Array(name), Array(value)))
                return false
            }
        }
        let expected = referenceCookiePairs(header)
        guard scanned.count == expected.count, zip(scanned, expected).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) else {
            return "Cookie header \(String(decoding: header, as: UTF8.self).debugDescription): scan found \(scanned.map { "\(String(decoding: $0.0, as: UTF8.self))=\(String(decoding: $0.1, as: UTF8.self))" }), RFC 6265 reading \(expected.map { "\(String(decoding: $0.0, as: UTF8.self))=\(String(decoding: $0.1, as: UTF8.self))" })"
        }
        // The input's text as scope and version: the signer's cookie must stay a valid
        // header value and be found again by the scan.
        let text = String(decoding: header.prefix(64), as: UTF8.self)
        var problems: [RouteProblem] = []
        let route = ServiceRoute(service: "web", listen: listen, groups: [
            BackendGroup(version: text, weight: 1, endpoints: []), BackendGroup(version: "other", weight: 1, endpoints: []),
        ], affinity: Affinity(cookie: "sticky", key: String(repeating: "0f", count: 32), scope: text))
        guard let signer = AffinitySigner(route: route, problems: &problems) else { return "no signer for a valid affinity rule: \(problems)" }
        let cookie = signer.cookie(for: text)
        guard cookie.value.allSatisfy(isCookieOctet) else {
            return "the sticky cookie for \(text.debugDescription) has bytes outside RFC 6265's cookie-octet: \(String(decoding: cookie.value, as: UTF8.self))"
        }
        let sent = Array("a=b; sticky=".utf8) + cookie.value + Array("; c=d".utf8)
        let found = sent.withUnsafeBufferPointer { pointer in
            CookieHeader.scan(pointer) { name, value in name.bytesEqual(Array("sticky".utf8)) && cookie.matches(value) }
        }
        guard found else { return "the sticky cookie for \(text.debugDescription) is not recognised in a Cookie header" }
        if let key = AffinitySigner.decodeHex(text) {
            let hex = Hex.string(key)
            guard hex == text.lowercased() else { return "hex \(text.debugDescription) decoded to bytes that encode as \(hex)" }
        }
        return nil
    }

    /// RFC 6265 §5.4 read plainly, the reference the scan is checked against.
    static func referenceCookiePairs(_ header: [UInt8]) -> [([UInt8], [UInt8])] {
        func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            var slice = bytes
            while let first = slice.first, first == 0x20 || first == 0x09 { slice.removeFirst() }
            while let last = slice.last, last == 0x20 || last == 0x09 { slice.removeLast() }
            return slice
        }
        var pairs: [([UInt8], [UInt8])] = []
        for piece in header.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false) {
            guard let equals = piece.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = trimmed(piece[..<equals])
            var value = trimmed(piece[(equals + 1)...])
            if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
                value = value.dropFirst().dropLast()
            }
            if !name.isEmpty { pairs.append((Array(name), Array(value))) }
        }
        return pairs
    }


    static func isCookieOctet(_ byte: UInt8) -> Bool {
        byte == 0x21 || (0x23...0x2B).contains(byte) || (0x2D...0x3A).contains(byte) || (0x3C...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
    }

    /// Header lines (`name: value`, one per line) and a request target: the forwarding
    /// rewrite must leave no hop-by-hop header (nor one `Connection` names) and end
    /// `X-Forwarded-For` with the client; the path guard's normal form must have no dot
    /// or empty segment, be lowercase, and be stable under another normalisation of its
    /// own percent-free form; a path it places under `/admin` is refused to outsiders.
    public static func headers(_ bytes: UnsafeRawBufferPointer) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let target = lines.isEmpty ? "/" : lines.removeFirst()
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target)
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...])
            // What NIO's request decoder can hand on: a token as name, no CR, LF or NUL in values.
            guard HTTPFieldSyntax.isName(name), !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else { continue }
            head.headers.add(name: name, value: value)
        }
        let nominated = Set(head.headers[canonicalForm: "connection"].map { $0.lowercased() })
        var random = FastRandom(seed: 1)
        let id = ProxyHeaders.prepareRequest(&head, clientIP: "10.9.8.7", random: &random)
        guard !id.isEmpty else { return "no request id" }
        for (name, _) in head.headers {
            let lower = name.lowercased()
            if ProxyHeaders.isHopByHop(name) {
                return "hop-by-hop header \(name) is forwarded"
            }
            if nominated.contains(lower), !["content-length", "transfer-encoding", "host", "x-forwarded-for", "x-forwarded-proto", "x-request-id"].contains(lower) {
                return "header \(name), named in Connection, is forwarded"
            }
        }
        guard head.headers["X-Forwarded-For"].count == 1, head.headers["X-Forwarded-For"].first?.hasSuffix("10.9.8.7") == true else {
            return "X-Forwarded-For does not end with the client: \(head.headers["X-Forwarded-For"])"
        }
        guard head.headers["X-Forwarded-Proto"] == ["http"] else { return "X-Forwarded-Proto is \(head.headers["X-Forwarded-Proto"])" }

        let path = PathGuard.normalise(PathGuard.pathBytes(of: target))
        guard path.first == UInt8(ascii: "/") else { return "normal form \(String(decoding: path, as: UTF8.self).debugDescription) does not start with /" }
        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        for segment in segments where path.count > 1 {
            if segment.isEmpty || segment.elementsEqual([0x2E]) || segment.elementsEqual([0x2E, 0x2E]) {
                return "normal form \(String(decoding: path, as: UTF8.self).debugDescription) of \(target.debugDescription) has an empty or dot segment"
            }
        }
        guard !path.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return "normal form has upper case" }
        if !path.contains(UInt8(ascii: "%")), !path.contains(UInt8(ascii: "\\")), !path.contains(UInt8(ascii: ";")) {
            guard PathGuard.normalise(path) == path else { return "normalising \(String(decoding: path, as: UTF8.self).debugDescription) again changes it" }
        }
        var problems: [RouteProblem] = []
        guard let guardRule = PathGuard([PathRestriction(paths: ["/admin"], allow: ["10.0.0.0/8"])], service: "web", problems: &problems) else {
            return "no path guard for a restriction"
        }
        if PathGuard.matches(path, prefix: Array("/admin".utf8)) {
            guard !guardRule.allows(uri: target, client: IPBits(SocketAddress.ipv4Loopback)) else {
                return "\(target.debugDescription) (normal form \(String(decoding: path, as: UTF8.self))) is under /admin but allowed to 127.0.0.1"
            }
        }
        return nil
    }
}

extension SocketAddress {
    static let ipv4Loopback = try! SocketAddress(ipAddress: "127.0.0.1", port: 1)
}

/// One client connection into a `ProxyServerHandler` on an embedded loop, with instances
/// played by embedded channels (the fuzz targets' router).
final class EmbeddedRouter {
    let loop = EmbeddedEventLoop()
    let connector: EmbeddedUpstreams
    let context: LoopContext
    let client: EmbeddedChannel
    private(set) var problem: String?
    /// Endpoint id → the normalised prefixes its service restricts.
    let restricted: [String: [[UInt8]]]

    init(table: RouteTable) throws {
        var restricted: [String: [[UInt8]]] = [:]
        for route in table.services {
            let prefixes = (route.restrict ?? []).flatMap { $0.paths.map { PathGuard.normalise(Array($0.utf8)) } }
            guard !prefixes.isEmpty else { continue }
            for group in route.groups {
                for endpoint in group.endpoints { restricted[endpoint.id, default: []] += prefixes }
            }
        }
        self.restricted = restricted
        connector = EmbeddedUpstreams(loop: loop)
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        context = LoopContext(loop: loop, index: 0, connector: connector, random: FastRandom(seed: 7), logger: logger)
        let snapshot = EndpointRegistry(shardCount: 1).compile(table)
        for (endpoint, _) in snapshot.endpoints { endpoint.forceActiveHealth(true) }
        context.install(snapshot)
        client = EmbeddedChannel(loop: loop)
        try ProxyServerHandler.install(on: client, loop: context, listenAddress: RouterFuzzing.listen, tls: false)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        client.remoteAddress = try SocketAddress(ipAddress: "192.0.2.1", port: 40000)
    }

    /// Reads what each instance received, checks it, and answers each complete request.
    /// Returns the first invariant broken.
    func pumpInstances() -> String? {
        for upstream in connector.upstreams {
            var sent = upstream.channel.allocator.buffer(capacity: 0)
            while let data = try? upstream.channel.readOutbound(as: IOData.self) {
                if case .byteBuffer(var buffer) = data { sent.writeBuffer(&buffer) }
            }
            guard sent.readableBytes > 0 else { continue }
            let bytes = sent
            do {
                try upstream.reparser.writeInbound(sent)
            } catch {
                return "an instance received bytes a strict HTTP/1.1 parser refuses (\(error)): \(String(buffer: bytes).debugDescription)"
            }
            while let part = try? upstream.reparser.readInbound(as: HTTPServerRequestPart.self) {
                switch part {
                case .head(let head):
                    if let problem = Self.check(head, restricted: restricted[upstream.endpointID] ?? []) { return problem + ": " + String(buffer: bytes).debugDescription }
                    upstream.heads.append(head)
                case .body:
                    break
                case .end:
                    guard !upstream.heads.isEmpty else { return "a request ended that never began" }
                    let head = upstream.heads.removeFirst()
                    upstream.answer(head)
                    loop.run()
                }
            }
        }
        loop.run()
        return nil
    }

    /// `restricted`: the normalised path prefixes the instance's service allows only to
    /// 10.0.0.0/8 (the client is 192.0.2.1); another service may serve those paths.
    static func check(_ head: HTTPRequestHead, restricted: [[UInt8]]) -> String? {
        let lengths = head.headers[canonicalForm: "content-length"]
        let codings = head.headers[canonicalForm: "transfer-encoding"]
        if !lengths.isEmpty, !codings.isEmpty { return "an instance received Content-Length and Transfer-Encoding together" }
        if lengths.count > 1 { return "an instance received \(lengths.count) Content-Length values" }
        if !codings.isEmpty, codings.map({ $0.lowercased() }) != ["chunked"] { return "an instance received Transfer-Encoding \(codings)" }
        for (name, _) in head.headers where ProxyHeaders.isHopByHop(name) && !(name.lowercased() == "connection" || name.lowercased() == "upgrade") {
            return "an instance received hop-by-hop header \(name)"
        }
        guard head.headers["X-Forwarded-For"].last?.hasSuffix("192.0.2.1") == true else {
            return "an instance received a request whose X-Forwarded-For does not end with the client: \(head.headers["X-Forwarded-For"])"
        }
        let path = PathGuard.normalise(PathGuard.pathBytes(of: head.uri))
        if let prefix = restricted.first(where: { PathGuard.matches(path, prefix: $0) }) {
            return "a request for \(head.uri) (under the restricted \(String(decoding: prefix, as: UTF8.self))) reached an instance from a client outside 10.0.0.0/8"
        }
        return nil
    }

    func finish() {
        _ = try? client.finish(acceptAlreadyClosed: true)
        for upstream in connector.upstreams {
            _ = try? upstream.channel.finish(acceptAlreadyClosed: true)
            _ = try? upstream.reparser.finish(acceptAlreadyClosed: true)
        }
    }

    static func drain(_ channel: EmbeddedChannel) throws -> Int {
        var count = 0
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { count += buffer.readableBytes }
        }
        return count
    }
}

/// Instances as embedded channels: each connection the router opens, with a strict request
/// parser over what it receives.
final class EmbeddedUpstreams: UpstreamConnector, @unchecked Sendable {
    final class Upstream {
        let channel: EmbeddedChannel
        let reparser: EmbeddedChannel
        let endpointID: String
        var heads: [HTTPRequestHead] = []

        init(channel: EmbeddedChannel, endpointID: String, loop: EmbeddedEventLoop) throws {
            self.channel = channel
            self.endpointID = endpointID
            reparser = EmbeddedChannel(loop: loop)
            try reparser.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
        }

        /// A response framed by length, by chunks or by close, chosen by the path.
        func answer(_ head: HTTPRequestHead) {
            let response: String
            if head.uri.contains("chunk") {
                response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
            } else if head.uri.contains("close") {
                response = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nclosing"
            } else if head.method == .HEAD {
                response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
            } else {
                response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            }
            _ = try? channel.writeInbound(channel.allocator.buffer(string: response))
            if head.uri.contains("close") { channel.close(promise: nil) }
        }
    }

    let loop: EmbeddedEventLoop
    private(set) var upstreams: [Upstream] = []

    init(loop: EmbeddedEventLoop) { self.loop = loop }

    func connect(to endpoint: EndpointState, on loop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<UpstreamHandler> {
        let channel = EmbeddedChannel(loop: self.loop)
        do {
            let handler = try UpstreamHandler.configure(channel)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: endpoint.endpoint.port)).wait()
            upstreams.append(try Upstream(channel: channel, endpointID: endpoint.endpoint.id, loop: self.loop))
            return loop.assumeIsolated().makeSucceededFuture(handler)
        } catch {
            return loop.makeFailedFuture(error)
        }
    }
}
