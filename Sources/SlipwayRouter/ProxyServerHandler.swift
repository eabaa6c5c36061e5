import Logging
import NIOCore
import NIOHTTP1
import SlipwayCore
import Tracing

/// The client-facing end of a proxied connection. Sits after NIO's HTTP server codec, picks
/// an instance per request, and relays request and response parts with read backpressure
/// both ways.
///
/// Pipelined requests are queued here (not by NIO's `HTTPServerPipelineHandler`, which stops
/// reading between a request's end and its response's end: two `epoll_ctl` calls for every
/// keep-alive request). Reads stop only when more than `maxPipelinedParts` parts are queued.
final class ProxyServerHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        case idle
        /// Waiting for a connection to the chosen instance; request parts queue up.
        case connecting
        case proxying
        /// A router-made response is ready; it is sent when the request ends.
        case localPending(HTTPResponseStatus, String)
        /// The response is complete; the rest of the request body is dropped.
        case discarding
    }

    private let loop: LoopContext
    private let listenAddress: ListenAddress
    /// The connection came through the listener's TLS handler (X-Forwarded-Proto: https).
    private let tls: Bool
    private var context: ChannelHandlerContext?
    /// The client's address, read on the first request (nil until then).
    private var clientIP: String?
    /// The client's address for pin-rule checks, read on the first pinned request.
    private var clientBits: IPBits?
    private var clientBitsRead = false

    private var cachedSnapshot: RoutingSnapshot?
    private var cachedListener: ListenerRoutes?

    private var holdingReads = false
    private var readPending = false

    /// Parts of the next request(s) that arrived while the current exchange was still
    /// answering, replayed in order once it completes.
    private var pipelined = CircularBuffer<HTTPServerRequestPart>()
    private var pipelineFull = false
    static let maxPipelinedParts = 64

    // The current exchange.
    private var phase = Phase.idle
    private var upstreamHead = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
    private var clientVersion = HTTPVersion.http1_1
    private var clientKeepAlive = true
    /// The router is draining this connection (a hand-over): it closes after its response.
    private var quiescing = false
    /// Requests begun on this connection (tells a drained connection that stayed idle).
    private var requestsStarted = 0
    private var requestID = ""
    /// The exchange's span, when its service traces requests (`trace_requests`).
    private var span: (any Span)?
    private var service: ServiceState?
    private var assignment = VersionAssignment.weighted
    private var group: GroupState?
    private var endpoint: EndpointState?
    private var upstream: UpstreamHandler?
    private var pending: [HTTPClientRequestPart] = []
    private var requestEnded = false
    private var bodyForwarded = false
    /// Request body bytes received for the current exchange (against `max_request_body`).
    private var bodyBytes: Int64 = 0
    /// The connection's last response was written; it closes (see `writeEnd`).
    private var closing = false
    /// Set by a 413: the connection lingers when it closes (see `writeEnd`).
    private var lingerOnClose = false
    /// How long a connection closed with a request body still arriving keeps reading (and
    /// dropping) it after its response, so that the client reads the response first.
    static let lingerTime = TimeAmount.seconds(5)
    private var bodyPartsForwarded = 0
    private var responseHeadSent = false
    private var responseStatus: Int?
    private var upstreamKeepAlive = false
    private var closeAfterResponse = false
    private var needsUpstreamFlush = false
    private var attempts = 0
    private var attemptToken = 0
    /// The protocol the current request asks to switch to (WebSocket…), when it does.
    private var upgrade: String?
    /// A gRPC call (an `upstream: h2c` service) ended with a non-zero `grpc-status`.
    private var grpcFailed = false
    /// A gRPC "trailers-only" answer's fields, sent as the response's trailers.
    private var trailersOnly: HTTPHeaders?
    /// The instance answered `101`: the tunnel starts once its response ends.
    private var switching = false
    /// Seconds for the Retry-After header of a pending 429.
    private var retryAfter = 0
    private var started: UInt64 = 0
    /// The response-head timeout of the attempt in progress (nil: none runs). One timer per
    /// connection checks it, re-armed only when it fires: a request sets a deadline instead of
    /// scheduling and cancelling a timer of its own (each cost an allocation and a walk of
    /// the loop's timer heap, about 5 % of the router's user time per request).
    private var timeoutDeadline: NIODeadline?
    private var timeoutAmount = TimeAmount.zero
    /// `bodyPartsForwarded` when the deadline was set (a request body still moving extends it).
    private var timeoutProgress = 0
    private var timer: Scheduled<Void>?
    private var timerFiresAt: NIODeadline?

    init(loop: LoopContext, listenAddress: ListenAddress, tls: Bool = false) {
        self.loop = loop
        self.listenAddress = listenAddress
        self.tls = tls
    }

    /// Installs the HTTP/1.1 server codec and a `ProxyServerHandler` on an accepted
    /// connection. The request decoder hands on the bytes it read past an upgrade request
    /// when it is removed (`TunnelHandler.splice`): NIO picks `.forwardBytes` only when the
    /// pipeline is set up for upgrades, and an upgrade configuration with no upgraders of
    /// its own leaves every request to this handler (it steps aside at the first request).
    static func install(on channel: Channel, loop: LoopContext, listenAddress: ListenAddress, tls: Bool) throws {
        let timeouts = ClientTimeouts(headTimeout: requestHeadTimeout, idleTimeout: keepAliveIdleTimeout)
        try channel.pipeline.syncOperations.addHandler(timeouts)
        // No outbound header validation (a handler that re-checks every header name and value
        // of every response, about 2 % of the router's user time): what the router writes was
        // validated on the way in — instances' heads by the HTTP/1.1 parser (a name is a token,
        // a value cannot hold CR or LF) or by HTTP/2's header checks, the headers it adds from
        // config by the config checks (`headers:` values are printable ASCII on one line),
        // the rest are its own (`ProxyHeaders`). HostileHTTPTests sends the injections.
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withServerUpgrade: (upgraders: [], completionHandler: { _ in }), withErrorHandling: false,
            withOutboundHeaderValidation: false)
        let handler = ProxyServerHandler(loop: loop, listenAddress: listenAddress, tls: tls)
        handler.timeouts = timeouts
        timeouts.onHeadTimeout = { [weak handler] in handler?.requestHeadTimedOut() }
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// The head of the next request did not arrive in time (`ClientTimeouts`): 408 and close.
    func requestHeadTimedOut() {
        guard case .idle = phase, !responseHeadSent else {
            context?.close(promise: nil)
            return
        }
        clientKeepAlive = false
        writeLocal(.requestTimeout, "request timeout: the request head did not arrive within \(Self.requestHeadTimeout.nanoseconds / 1_000_000_000)s\n", close: true, record: false)
    }

    /// How long a client has to send a request's head once its first byte arrived (408 after).
    static let requestHeadTimeout = TimeAmount.seconds(20)
    /// How long a keep-alive connection may stay open with no request begun (nginx's default).
    static let keepAliveIdleTimeout = TimeAmount.seconds(75)

    /// The connection's head and idle timer (HTTP/1.1 connections; nil on HTTP/2 streams).
    var timeouts: ClientTimeouts?

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abandonExchange()
        disarmTimer()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        abandonExchange()
        disarmTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The connection's last response is out: what still comes is dropped.
        if closing { return }
        let part = unwrapInboundIn(data)
        if !pipelined.isEmpty || exchangeAwaitsResponse {
            pipelined.append(part)
            if pipelined.count > Self.maxPipelinedParts, !pipelineFull {
                pipelineFull = true
                updateReadHold()
            }
            return
        }
        dispatch(part)
    }

    private func dispatch(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head): startRequest(head)
        case .body(let buffer): requestBody(buffer)
        case .end(let trailers): requestEnd(trailers)
        }
    }

    /// The request has fully arrived but its response has not finished: whatever the
    /// client sends now belongs to the next request.
    private var exchangeAwaitsResponse: Bool {
        if case .idle = phase { return false }
        return requestEnded
    }

    /// Replays queued pipelined parts until one of them starts an exchange that must wait.
    private func replayPipelined() {
        while !pipelined.isEmpty, !exchangeAwaitsResponse, context != nil {
            dispatch(pipelined.removeFirst())
        }
        if pipelineFull, pipelined.count <= Self.maxPipelinedParts {
            pipelineFull = false
            updateReadHold()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsUpstreamFlush {
            needsUpstreamFlush = false
            upstream?.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        upstream?.holdReads(!context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    /// How long a drained connection may stay idle before it is closed: a client that
    /// keeps it busy gets its next response with `Connection: close` instead, so that no
    /// request it was about to send meets a closing connection. (Closing an idle HTTP/1.1
    /// connection always races a client about to reuse it; a client stalled for a second
    /// on a loaded machine lost that race with a 1 s grace.)
    static let quiesceIdleGrace = TimeAmount(Router.drainIdleGrace)

    /// A drain (NIO's `ChannelShouldQuiesceEvent`): an HTTP/1.1 connection closes after its
    /// current or next response (which says `Connection: close`), or after staying idle for
    /// `quiesceIdleGrace`. HTTP/2 streams leave it to their connection (`HTTP2Drain`).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent, context.channel.parent?.parent == nil else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard !quiescing else { return }
        quiescing = true
        clientKeepAlive = false
        let seen = requestsStarted
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.quiesceIdleGrace) { [self] in
            guard let current = self.context, requestsStarted == seen, case .idle = phase, pipelined.isEmpty else { return }
            current.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let malformed = error is HTTPParserError || error is ByteToMessageDecoderError
        // A head larger than the decoder takes (80 KiB) is 431, anything else unparsable 400.
        let (status, text) = (error as? HTTPParserError) == .headerOverflow
            ? (HTTPResponseStatus.requestHeaderFieldsTooLarge, "request header fields too large: the request line and headers exceed 80 KiB\n")
            : (HTTPResponseStatus.badRequest, "bad request: the router could not parse this HTTP request (\(error))\n")
        if malformed, !responseHeadSent, case .idle = phase {
            clientKeepAlive = false
            writeLocal(status, text, close: true, record: false)
            return
        }
        if malformed, !responseHeadSent, case .localPending = phase {
            abandonExchange()
            clientKeepAlive = false
            writeLocal(status, text, close: true, record: false)
            return
        }
        abandonExchange()
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if holdingReads || pipelineFull {
            readPending = true
        } else {
            context.read()
        }
    }

    private func holdClientReads(_ hold: Bool) {
        holdingReads = hold
        updateReadHold()
    }

    private func updateReadHold() {
        if !holdingReads, !pipelineFull, readPending, let context {
            readPending = false
            context.read()
        }
    }

    // MARK: Request

    private func startRequest(_ head: HTTPRequestHead) {
        timeouts?.headArrived()
        resetExchange()
        requestsStarted &+= 1
        started = NIODeadline.now().uptimeNanoseconds
        clientVersion = head.version
        if let (status, problem) = Self.headProblem(head) {
            // Refused at once, not after the body: its framing is what cannot be trusted.
            clientKeepAlive = false
            writeLocal(status, problem, close: true, record: false)
            return
        }
        // An HTTP/2 stream (see HTTP2Listener) carries one request; its connection stays.
        clientKeepAlive = !quiescing && (head.version.major >= 2 || head.isKeepAlive)
        upstreamHead = head
        let ip = clientIP ?? context?.channel.remoteAddress?.ipAddress ?? "unknown"
        clientIP = ip
        requestID = ProxyHeaders.prepareRequest(&upstreamHead, clientIP: ip, https: tls, random: &loop.random)
        if let requested = ProxyHeaders.upgradeRequested(head) {
            upgrade = requested
            ProxyHeaders.keepUpgrade(&upstreamHead, protocol: requested)
            // The request decoder reads nothing past an upgrade request: unless the instance
            // switches protocols, the connection ends with this exchange.
            clientKeepAlive = false
        }

        let host = head.headers.first(name: "host")
        guard let service = listener()?.service(forHost: host.map { Substring($0) }) else {
            let name = host.map { HostHeader.normalise($0) } ?? "(none)"
            phase = .localPending(.notFound, "no service for host \"\(name)\" on \(listenAddress)\n")
            return
        }
        self.service = service
        if let tracer = service.tracer {
            span = RequestSpans.start(tracer, head: head, upstream: &upstreamHead, service: service.name, clientIP: ip)
        }
        if service.upstreamHTTP2 {
            if upgrade != nil {
                phase = .localPending(.notImplemented, "service \(service.name) speaks HTTP/2 to its instances (upstream: h2c): protocol upgrades cannot be forwarded\n")
                return
            }
            // gRPC servers expect it; the router passes trailers on.
            upstreamHead.headers.replaceOrAdd(name: "te", value: "trailers")
        }
        if let limit = service.maxRequestBody, let length = head.headers.first(name: "content-length").flatMap({ Int64($0) }), length > limit {
            // Refused before any of it is read; the connection closes (after lingering: see
            // `writeEnd`) without reading the body into anything.
            clientKeepAlive = false
            lingerOnClose = true
            writeLocal(.payloadTooLarge, Self.tooLargeText(service: service.name, limit: limit), close: true, record: true)
            return
        }
        if let edge = service.edge, !admitAtEdge(edge, head: head) { return }
        let now = started
        assignment = service.assignment(for: head.headers, client: { clientAddress() }, isAvailable: { $0.isAvailable(now: now) })
        if case .unknownPin(let version, let header) = assignment {
            phase = .localPending(.serviceUnavailable, "service \(service.name) has no version \"\(version)\" (asked for with the \(header) header)\n")
            return
        }
        beginAttempt(excluding: nil)
    }

    /// Most header fields a request may carry (Apache's LimitRequestFields).
    static let maxHeaderFields = 100

    /// What makes a decoded head unfit to forward, with the status it gets: a
    /// `Transfer-Encoding` other than exactly `chunked` (RFC 9112 §6.3: an upstream could
    /// frame the body differently — request smuggling), or too many header fields.
    static func headProblem(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        if head.headers.count > maxHeaderFields {
            return (.requestHeaderFieldsTooLarge, "request header fields too large: \(head.headers.count) fields, at most \(maxHeaderFields)\n")
        }
        let codings = head.headers[canonicalForm: "transfer-encoding"]
        if !codings.isEmpty {
            guard codings.count == 1, codings[0].lowercased() == "chunked" else {
                return (.badRequest, "bad request: Transfer-Encoding must be exactly `chunked` (got \(codings.joined(separator: ", ").debugDescription))\n")
            }
            if head.version == .http1_0 {
                return (.badRequest, "bad request: Transfer-Encoding in an HTTP/1.0 request\n")
            }
        }
        // NIO's request encoder drops the framing headers of a TRACE and would write its body
        // raw, where the instance would read it as the next request.
        if head.method == .TRACE, !codings.isEmpty || head.headers[canonicalForm: "content-length"].contains(where: { $0 != "0" }) {
            return (.badRequest, "bad request: a TRACE request with content (RFC 9110 §9.3.8: it has none)\n")
        }
        return nil
    }

    /// The rate limit, then the path allowlist. On a refusal the 429 or 403 is pending
    /// (sent when the request ends) and false is returned. Refusals are counted per
    /// service, not in any version's numbers: no version handled them.
    private func admitAtEdge(_ edge: EdgeRules, head: HTTPRequestHead) -> Bool {
        if let limiter = edge.limiter, let client = clientAddress(),
           case .limit(let seconds) = limiter.take(client, now: started) {
            edge.counters.rateLimited.wrappingAdd(1, ordering: .relaxed)
            retryAfter = seconds
            phase = .localPending(.tooManyRequests, "too many requests: over the limit of \(limiter.limitText) per client address; retry after \(seconds)s\n")
            return false
        }
        if let pathGuard = edge.pathGuard, !pathGuard.allows(uri: head.uri, client: clientAddress()) {
            edge.counters.forbidden.wrappingAdd(1, ordering: .relaxed)
            phase = .localPending(.forbidden, "forbidden: this path is restricted to allowed client networks\n")
            return false
        }
        return true
    }

    private func clientAddress() -> IPBits? {
        if !clientBitsRead {
            clientBitsRead = true
            clientBits = context?.channel.remoteAddress.flatMap { IPBits($0) }
        }
        return clientBits
    }

    private func requestBody(_ buffer: ByteBuffer) {
        // A body under a head with neither length nor chunking (an HTTP/2 GET, HEAD, DELETE
        // or CONNECT with DATA and no content-length: NIO's HTTP/2 codec adds no framing for
        // those) would reach an HTTP/1.1 instance raw, to be read as the next request.
        if !bodyForwarded, buffer.readableBytes > 0, service?.upstreamHTTP2 == false,
           !upstreamHead.headers.contains(name: "content-length"), !upstreamHead.headers.contains(name: "transfer-encoding") {
            refuseBody(.badRequest, "bad request: a \(upstreamHead.method) request with content but neither content-length nor chunked framing\n")
            return
        }
        if let limit = service?.maxRequestBody {
            bodyBytes &+= Int64(buffer.readableBytes)
            if bodyBytes > limit {
                refuseOversizedBody(limit: limit)
                return
            }
        }
        switch phase {
        case .connecting:
            bodyForwarded = true
            bodyPartsForwarded &+= 1
            pending.append(.body(.byteBuffer(buffer)))
        case .proxying:
            guard let upstream else { return }
            bodyForwarded = true
            bodyPartsForwarded &+= 1
            upstream.write(.body(.byteBuffer(buffer)))
            needsUpstreamFlush = true
            if !upstream.isWritable {
                // Flushing may drain the socket and restore writability synchronously, so
                // check again afterwards or the hold would never be released.
                upstream.flush()
                needsUpstreamFlush = false
                if !upstream.isWritable { holdClientReads(true) }
            }
        case .idle, .localPending, .discarding:
            break
        }
    }

    private func requestEnd(_ trailers: HTTPHeaders?) {
        requestEnded = true
        switch phase {
        case .connecting:
            pending.append(.end(trailers))
            if bodyForwarded, let service { scheduleTimeout(service.upstreamTimeout) }
        case .proxying:
            upstream?.write(.end(trailers))
            upstream?.flush()
            needsUpstreamFlush = false
            if bodyForwarded, let service { scheduleTimeout(service.upstreamTimeout) }
        case .localPending(let status, let body):
            writeLocal(status, body, close: false, record: true)
        case .discarding:
            phase = .idle
        case .idle:
            break
        }
    }

    // MARK: Choosing and connecting

    private func listener() -> ListenerRoutes? {
        let snapshot = loop.snapshot
        if snapshot !== cachedSnapshot {
            cachedSnapshot = snapshot
            cachedListener = snapshot.listeners[listenAddress]
        }
        return cachedListener
    }

    private func choose(_ service: ServiceState, excluding: EndpointState?) -> (GroupState, EndpointState)? {
        let now = NIODeadline.now().uptimeNanoseconds
        switch assignment {
        case .weighted, .weightedAssigning, .unknownPin:
            break
        case .pinned(let group):
            // Only this version; if all its instances are ejected, use them anyway.
            if let endpoint = ServiceSelector.pick(in: group, excluding: excluding, isAvailable: { $0.isAvailable(now: now) })
                ?? ServiceSelector.pick(in: group, excluding: excluding, isAvailable: { $0.isActivelyHealthy }) {
                return (group, endpoint)
            }
            return nil
        case .sticky(let group):
            // A retry stays on the assigned version when another of its instances is available.
            if let endpoint = group.roundRobin({ $0 !== excluding && $0.isAvailable(now: now) }) {
                return (group, endpoint)
            }
        }
        if let choice = ServiceSelector.pick(groups: service.groups, excluding: excluding, using: &loop.random, isAvailable: { $0.isAvailable(now: now) }) {
            return choice
        }
        // Every actively healthy instance is ejected by passive health: use them anyway
        // (nginx-style) rather than fail the whole service.
        return ServiceSelector.pick(groups: service.groups, excluding: excluding, using: &loop.random, isAvailable: { $0.isActivelyHealthy })
    }

    private func beginAttempt(excluding: EndpointState?) {
        guard let service else { return }
        guard let (group, endpoint) = choose(service, excluding: excluding) else {
            if case .pinned(let pinned) = assignment, let header = service.pin?.header {
                // The version did not fail this request (it is not available yet, or
                // every instance is down): the refusal is not counted in its numbers.
                self.group = nil
                failExchange(.serviceUnavailable, "version \(pinned.version) of service \(service.name) has no available instance (asked for with the \(header) header)\n")
                return
            }
            self.group = service.primaryGroup
            failExchange(.badGateway, "no healthy instance of service \(service.name)\n")
            return
        }
        attempts += 1
        attemptToken &+= 1
        self.group = group
        self.endpoint = endpoint
        if let span { RequestSpans.attempt(span, version: group.version, endpoint: endpoint.endpoint, attempt: attempts) }
        endpoint.beginRequest()
        scheduleTimeout(service.upstreamTimeout)

        // An upgrade goes on a new connection: it never returns to the pool, and servers may
        // switch protocols only on a connection's first request (NIO's upgrade handler does).
        if upgrade == nil, let handler = loop.pool.takeIdle(for: endpoint) {
            attach(handler)
            return
        }
        phase = .connecting
        holdClientReads(true)
        let token = attemptToken
        let connected = service.upstreamHTTP2 ? loop.http2Pool.stream(to: endpoint) : loop.pool.connect(to: endpoint)
        connected.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let handler):
                guard token == attemptToken, case .connecting = phase else {
                    loop.pool.release(handler, for: endpoint, now: NIODeadline.now().uptimeNanoseconds)
                    return
                }
                attach(handler)
            case .failure(let error):
                guard token == attemptToken, case .connecting = phase else { return }
                attemptFailed(error)
            }
        }
    }

    private func attach(_ handler: UpstreamHandler) {
        upstream = handler
        handler.delegate = self
        phase = .proxying
        handler.write(.head(upstreamHead))
        for part in pending { handler.write(part) }
        pending.removeAll(keepingCapacity: true)
        handler.flush()
        handler.holdReads(!(context?.channel.isWritable ?? true))
        holdClientReads(!handler.isWritable)
    }

    /// Arms the response-head timeout. While the request body is still arriving the timer
    /// re-arms as long as body parts moved since the last firing (a long upload is not a
    /// slow instance); once the request has ended the instance has `amount` to answer.
    private func scheduleTimeout(_ amount: TimeAmount) {
        let deadline = loop.loop.now + amount
        timeoutDeadline = deadline
        timeoutAmount = amount
        timeoutProgress = bodyPartsForwarded
        // A timer armed for later than this deadline (a service with a longer timeout on the
        // same connection) would fire too late: arm anew. One armed earlier fires, finds the
        // deadline ahead and re-arms for it.
        if let firesAt = timerFiresAt, firesAt <= deadline { return }
        armTimer(at: deadline)
    }

    /// No response-head timeout runs any more (the head arrived, the attempt ended). The timer
    /// stays armed and finds nothing to do when it fires.
    private func clearTimeout() {
        timeoutDeadline = nil
    }

    private func armTimer(at deadline: NIODeadline) {
        timer?.cancel()
        timerFiresAt = deadline
        timer = loop.loop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in timerFired() }
    }

    /// The connection is gone: nothing may fire on it (nor keep it alive until then).
    private func disarmTimer() {
        timeoutDeadline = nil
        timer?.cancel()
        timer = nil
        timerFiresAt = nil
    }

    private func timerFired() {
        timer = nil
        timerFiresAt = nil
        guard let deadline = timeoutDeadline, !responseHeadSent else { return }
        let now = loop.loop.now
        if now < deadline {
            armTimer(at: deadline)
            return
        }
        switch phase {
        case .connecting, .proxying:
            if !requestEnded && bodyPartsForwarded != timeoutProgress {
                scheduleTimeout(timeoutAmount)
                return
            }
            timeoutDeadline = nil
            let what = "instance \(endpoint?.id ?? "?") of service \(service?.name ?? "?")"
            detachUpstream(reusable: false)
            endAttempt(failed: true)
            failExchange(.gatewayTimeout, "\(what) did not answer within \(ErrorDescription.format(timeoutAmount))\n")
        default:
            timeoutDeadline = nil
        }
    }

    // MARK: Upstream events

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard let context else { return }
        switch part {
        case .head(var head):
            let code = head.status.code
            if code == 101 {
                switchProtocols(head)
                return
            }
            if code >= 100 && code < 200 {
                head.version = clientVersion
                ProxyHeaders.stripHopByHop(&head.headers)
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                return
            }
            clearTimeout()
            responseHeadSent = true
            responseStatus = Int(code)
            upstreamKeepAlive = head.isKeepAlive
            if service?.upstreamHTTP2 == true, head.headers.contains(name: "grpc-status") {
                noteGRPCStatus(head.headers)
                splitTrailersOnly(&head)
            }
            closeAfterResponse = ProxyHeaders.prepareResponse(&head, requestID: requestID, clientVersion: clientVersion, clientKeepAlive: clientKeepAlive)
            addEdgeHeadersAndCookie(&head)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .body(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            if !context.channel.isWritable {
                context.flush()
                if !context.channel.isWritable { upstream?.holdReads(true) }
            }
        case .end(let trailers):
            if switching {
                // Not from inside the instance's decoder: on the next loop turn.
                context.eventLoop.assumeIsolated().execute { [self] in beginTunnel() }
                return
            }
            if let trailers, service?.upstreamHTTP2 == true { noteGRPCStatus(trailers) }
            detachUpstream(reusable: upstreamKeepAlive && requestEnded)
            endAttempt(failed: (responseStatus ?? 0) >= 500)
            record(status: responseStatus, routerError: false)
            phase = requestEnded ? .idle : .discarding
            writeEnd(trailers ?? trailersOnly, close: closeAfterResponse)
        }
    }

    /// A gRPC "trailers-only" answer (one HEADERS frame that ends the stream, with
    /// `grpc-status` in it) cannot be passed on as one frame through the HTTP/1-shaped
    /// exchange: its head keeps the status and content type, every other field goes out as
    /// the trailers, where gRPC clients read the call's status and trailing metadata.
    private func splitTrailersOnly(_ head: inout HTTPResponseHead) {
        var kept = HTTPHeaders()
        var trailers = HTTPHeaders()
        for (name, value) in head.headers {
            if name.lowercased() == "content-type" {
                kept.add(name: name, value: value)
            } else if name.lowercased() != "content-length" {
                trailers.add(name: name, value: value)
            }
        }
        head.headers = kept
        trailersOnly = trailers
    }

    /// A `grpc-status` other than 0 (in a trailers-only response's head, or the trailers)
    /// makes the call an error in its version's numbers.
    private func noteGRPCStatus(_ headers: HTTPHeaders) {
        if let status = headers.first(name: "grpc-status"), status != "0" { grpcFailed = true }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        holdClientReads(!isWritable)
    }

    func upstreamFailed(_ error: any Error) {
        switch phase {
        case .connecting, .proxying: attemptFailed(error)
        default: break
        }
    }

    private func attemptFailed(_ error: any Error) {
        clearTimeout()
        detachUpstream(reusable: false)
        let failedEndpoint = endpoint
        endAttempt(failed: true)
        if responseHeadSent {
            // Part of the response is out: the client can only learn by the close.
            record(status: responseStatus, routerError: false)
            phase = .idle
            context?.close(promise: nil)
            return
        }
        let method = upstreamHead.method
        if attempts == 1, !bodyForwarded, method == .GET || method == .HEAD {
            loop.logger.debug("retrying request on another instance", metadata: [
                "slipway.endpoint": "\(failedEndpoint?.id ?? "?")", "slipway.error": "\(ErrorDescription.describe(error))",
            ])
            pending.removeAll(keepingCapacity: true)
            if requestEnded { pending.append(.end(nil)) }
            phase = .idle
            beginAttempt(excluding: failedEndpoint)
            return
        }
        failExchange(.badGateway, "instance \(failedEndpoint?.id ?? "?") of service \(service?.name ?? "?") failed: \(ErrorDescription.describe(error))\n")
    }

    // MARK: Upgrades

    /// The instance answered `101 Switching Protocols`: passed on when the client asked for
    /// it (the tunnel starts when the instance's response ends), else the instance is
    /// broken and the attempt fails.
    private func switchProtocols(_ upstreamHead: HTTPResponseHead) {
        guard let context, let requested = upgrade, requestEnded else {
            attemptFailed(UnexpectedSwitch(requested: upgrade != nil))
            return
        }
        var head = upstreamHead
        clearTimeout()
        responseHeadSent = true
        responseStatus = 101
        switching = true
        ProxyHeaders.prepareSwitch(&head, requestID: requestID, requested: requested)
        addEdgeHeadersAndCookie(&head)
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
    }

    /// What the router adds to an instance's response head: the service's security headers
    /// and, when this request was just assigned a version, the sticky cookie.
    private func addEdgeHeadersAndCookie(_ head: inout HTTPResponseHead) {
        if let edge = service?.edge { edge.addHeaders(to: &head.headers, loop: loop.index) }
        if case .weightedAssigning = assignment, let cookie = group?.cookie {
            head.headers.add(name: "Set-Cookie", value: cookie.setCookie)
        }
    }

    /// Both connections become a byte tunnel. The upgrade counts as one request (status
    /// 101) in the version's numbers; the tunnel then counts among the instance's open
    /// tunnels (not its in-flight requests) until either side closes, or until the router
    /// closes it `websocket_drain` after the instance's version stopped taking traffic.
    private func beginTunnel() {
        guard switching, let context, let handler = upstream, let upstreamChannel = handler.channel, let endpoint else { return }
        let client = context.channel
        timeouts?.stop()
        endAttempt(failed: false)
        record(status: 101, routerError: false)
        upstream = nil
        handler.delegate = nil
        phase = .idle
        switching = false
        let registry = loop.tunnels
        let token = TunnelToken()
        let ends = TunnelHandler.pair {
            endpoint.tunnelClosed()
            registry.remove(token.value)
        }
        endpoint.tunnelOpened()
        let end = NIOLoopBound(ends.client, eventLoop: client.eventLoop)
        let eventLoop = client.eventLoop
        token.value = registry.add(endpoint: endpoint.id, service: endpoint.service) { eventLoop.execute { end.value.close() } }
        do {
            try TunnelHandler.splice(ends, client: client, upstream: upstreamChannel)
        } catch {
            loop.logger.warning("could not start the tunnel of an upgraded connection", metadata: [
                "slipway.endpoint": "\(endpoint.id)", "slipway.error": "\(error)",
            ])
            client.close(promise: nil)
            upstreamChannel.close(promise: nil)
        }
    }

    // MARK: Finishing

    /// Hands the upstream connection back to the pool, or closes it.
    private func detachUpstream(reusable: Bool) {
        defer { holdClientReads(false) }
        guard let handler = upstream else { return }
        upstream = nil
        handler.delegate = nil
        if reusable, let endpoint {
            loop.pool.release(handler, for: endpoint, now: NIODeadline.now().uptimeNanoseconds)
        } else {
            handler.close()
        }
    }

    /// Ends the in-flight count and feeds passive health for the current attempt.
    private func endAttempt(failed: Bool) {
        guard let endpoint else { return }
        endpoint.endRequest()
        if failed {
            if endpoint.passive.recordFailure(now: NIODeadline.now().uptimeNanoseconds) {
                loop.logger.warning("instance ejected after repeated failures", metadata: [
                    "slipway.endpoint": "\(endpoint.id)", "slipway.service": "\(endpoint.service)",
                ])
            }
        } else {
            endpoint.passive.recordSuccess()
        }
        attemptToken &+= 1
        self.endpoint = nil
    }

    /// Answers with a router-made error. Waits for the request end when it can (keeps the
    /// connection); closes when part of a body was already streamed.
    private func failExchange(_ status: HTTPResponseStatus, _ body: String) {
        // Only failures get here: the request id ties this line to the client's response
        // header and to the instance's own log.
        loop.logger.warning("answered \(status.code) itself", metadata: [
            "slipway.service": "\(service?.name ?? "?")", "slipway.request_id": "\(requestID)",
            "slipway.reason": "\(body.trimmingCharacters(in: .newlines))",
        ])
        if requestEnded {
            writeLocal(status, body, close: false, record: true)
        } else if bodyForwarded {
            writeLocal(status, body, close: true, record: true)
        } else {
            phase = .localPending(status, body)
            holdClientReads(false)
        }
    }

    private func writeLocal(_ status: HTTPResponseStatus, _ text: String, close: Bool, record shouldRecord: Bool) {
        guard let context else { return }
        let mustClose = close || !clientKeepAlive
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(text.utf8.count))
        if !requestID.isEmpty { headers.add(name: ProxyHeaders.requestIDName, value: requestID) }
        if status == .tooManyRequests { headers.add(name: "Retry-After", value: String(retryAfter)) }
        if let edge = service?.edge { edge.addHeaders(to: &headers, loop: loop.index) }
        if mustClose {
            headers.add(name: "Connection", value: "close")
        } else if clientVersion.major == 1 && clientVersion.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let version = clientVersion.major == 1 ? clientVersion : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
        if shouldRecord {
            record(status: Int(status.code), routerError: status == .badGateway || status == .gatewayTimeout)
        } else if let span {
            self.span = nil
            RequestSpans.finish(span, status: Int(status.code), routerError: true)
        }
        phase = requestEnded ? .idle : .discarding
        writeEnd(nil, close: mustClose)
    }

    private func writeEnd(_ trailers: HTTPHeaders?, close: Bool) {
        guard let context else { return }
        if close || !clientKeepAlive {
            pipelined.removeAll()
            closing = true
            let channel = context.channel
            // A client still sending a body we do not read (413, an early answer) would get
            // a reset that can destroy the response before it reads it: on a plain TCP
            // connection the router closes its side only, reads and drops what still comes
            // for up to `lingerTime`, then closes (nginx's lingering close).
            var linger = false
            if lingerOnClose, case .discarding = phase, !tls, channel.parent?.parent == nil { linger = true }
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                guard linger else {
                    channel.close(promise: nil)
                    return
                }
                channel.close(mode: .output, promise: nil)
                channel.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            timeouts?.exchangeEnded()
            if !pipelined.isEmpty {
                // Not from inside the upstream's callbacks: on the next loop turn.
                context.eventLoop.assumeIsolated().execute { [self] in replayPipelined() }
            }
        }
    }

    private func record(status: Int?, routerError: Bool) {
        if let span {
            self.span = nil
            RequestSpans.finish(span, status: status, routerError: routerError)
        }
        guard let group else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        let latency = status == nil ? nil : (now &- started) / 1000
        group.stats.record(shard: loop.index, status: status, routerError: routerError, grpcError: grpcFailed, latencyMicros: latency, nowNanos: now)
        self.group = nil
    }

    /// The client went away or the handler is leaving: drop the upstream side.
    static func tooLargeText(service: String, limit: Int64) -> String {
        "payload too large: service \(service) takes request bodies of at most \(limit) bytes (max_request_body)\n"
    }

    /// A body (chunked, or longer than announced by nothing) grew past `max_request_body`:
    /// the instance's connection is closed so that it never takes the truncated body for a
    /// whole request, and the client gets 413 (or a close, once a response began).
    private func refuseOversizedBody(limit: Int64) {
        guard let service else { return }
        refuseBody(.payloadTooLarge, Self.tooLargeText(service: service.name, limit: limit))
    }

    /// Ends an exchange whose body cannot be forwarded: the instance's connection is
    /// closed so that it never takes what it got for a whole request, and the client gets
    /// `status` (or a close, once a response began).
    private func refuseBody(_ status: HTTPResponseStatus, _ text: String) {
        switch phase {
        case .connecting, .proxying:
            if responseHeadSent {
                abandonExchange()
                context?.close(promise: nil)
                return
            }
            abandonExchange(record: false)
            clientKeepAlive = false
            lingerOnClose = true
            writeLocal(status, text, close: true, record: true)
        case .idle, .localPending, .discarding:
            break
        }
    }

    /// Ends the exchange in progress: the instance's connection is closed, the endpoint's
    /// in-flight count released, and (unless `record` is false because the caller records a
    /// local answer) the exchange counted as one without a response.
    private func abandonExchange(record shouldRecord: Bool = true) {
        clearTimeout()
        switch phase {
        case .connecting, .proxying:
            detachUpstream(reusable: false)
            if let endpoint {
                endpoint.endRequest()
                self.endpoint = nil
            }
            attemptToken &+= 1
            if shouldRecord {
                record(status: nil, routerError: false)
            }
        default:
            break
        }
        phase = .idle
        pending.removeAll()
    }

    private func resetExchange() {
        if let span {
            self.span = nil
            RequestSpans.finish(span, status: nil, routerError: false)
        }
        phase = .idle
        service = nil
        assignment = .weighted
        group = nil
        endpoint = nil
        pending.removeAll(keepingCapacity: true)
        requestEnded = false
        bodyForwarded = false
        bodyBytes = 0
        responseHeadSent = false
        responseStatus = nil
        upstreamKeepAlive = false
        closeAfterResponse = false
        needsUpstreamFlush = false
        attempts = 0
        upgrade = nil
        grpcFailed = false
        trailersOnly = nil
        switching = false
        retryAfter = 0
        requestID = ""
    }
}

/// A tunnel's entry in the `TunnelRegistry`, known once it is registered.
private final class TunnelToken {
    var value = 0
}

/// The instance answered `101 Switching Protocols` to a request that did not ask to switch
/// (or before the request ended).
struct UnexpectedSwitch: Error, CustomStringConvertible {
    var requested: Bool
    var description: String {
        requested ? "it switched protocols before the request ended" : "it answered 101 Switching Protocols to a request that did not ask to switch"
    }
}
