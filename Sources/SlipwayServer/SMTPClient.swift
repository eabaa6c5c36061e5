import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SlipwayCore
import SlipwayTLS

/// One reply of an SMTP server (RFC 5321 4.2): its code and its text lines.
struct SMTPReply: Sendable, Equatable {
    var code: Int
    var lines: [String]

    var text: String { lines.joined(separator: " ") }
    /// `250 OK`, or the first line and a count for long replies.
    var summary: String { "\(code) \(lines.first ?? "")" + (lines.count > 1 ? " (…)" : "") }
}

/// Why an email was not sent. `permanent` (a 5xx answer, or a server that cannot be used
/// as configured) is not retried; the rest (4xx, a refused or lost connection, a timeout)
/// are.
struct SMTPError: Error, Sendable, CustomStringConvertible {
    var description: String
    var permanent: Bool
}

/// Splits the server's bytes into replies: `CODE-text` continues one, `CODE text` (or a bare
/// `CODE`) ends it. A line of more than 2,048 bytes, a reply of more than 200 lines, a
/// line that does not start with three digits or a code that changes within a reply is a
/// protocol error.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply
    static let maxLine = 2048
    static let maxLines = 200

    private var code: Int?
    private var lines: [String] = []

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maxLine { throw SMTPError(description: "the server sent a line longer than \(Self.maxLine) bytes", permanent: false) }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex + 1
        guard length <= Self.maxLine + 1, var line = buffer.readString(length: length) else {
            throw SMTPError(description: "the server sent a line longer than \(Self.maxLine) bytes", permanent: false)
        }
        line.removeLast()
        if line.hasSuffix("\r") { line.removeLast() }
        let utf8 = Array(line.utf8)
        guard utf8.count >= 3, utf8[0...2].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              utf8.count == 3 || utf8[3] == UInt8(ascii: " ") || utf8[3] == UInt8(ascii: "-"),
              let value = Int(String(decoding: utf8[0...2], as: UTF8.self)) else {
            throw SMTPError(description: "the server's answer is not SMTP: \(String(line.prefix(80)).debugDescription)", permanent: false)
        }
        if let code, code != value {
            throw SMTPError(description: "the server changed the reply code within one reply (\(code), then \(value))", permanent: false)
        }
        code = value
        lines.append(utf8.count > 4 ? String(decoding: utf8[4...], as: UTF8.self) : "")
        guard lines.count <= Self.maxLines else {
            throw SMTPError(description: "the server sent a reply of more than \(Self.maxLines) lines", permanent: false)
        }
        if utf8.count == 3 || utf8[3] == UInt8(ascii: " ") {
            context.fireChannelRead(wrapInboundOut(SMTPReply(code: value, lines: lines)))
            code = nil
            lines = []
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Hands replies to whoever waits for the next one, in order; a reply that arrives first
/// waits for its reader. A closed connection or an error fails every waiter.
final class SMTPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = SMTPReply

    private var waiting = CircularBuffer<EventLoopPromise<SMTPReply>>()
    private var arrived = CircularBuffer<SMTPReply>()
    private var failure: SMTPError?

    func next(on loop: EventLoop) -> EventLoopFuture<SMTPReply> {
        if let reply = arrived.popFirst() { return loop.makeSucceededFuture(reply) }
        if let failure { return loop.makeFailedFuture(failure) }
        let promise = loop.makePromise(of: SMTPReply.self)
        waiting.append(promise)
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        if let promise = waiting.popFirst() {
            promise.succeed(reply)
        } else {
            arrived.append(reply)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error as? SMTPError ?? SMTPError(description: Self.describe(error), permanent: false))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SMTPError(description: "the server closed the connection", permanent: false))
        context.fireChannelInactive()
    }

    func fail(_ error: SMTPError) {
        if failure == nil { failure = error }
        while let promise = waiting.popFirst() { promise.fail(failure ?? error) }
    }

    static func describe(_ error: Error) -> String {
        if let ssl = error as? NIOSSLError, case .handshakeFailed(let reason) = ssl {
            return "the TLS handshake failed (\(reason)); is the server's certificate signed by a CA the system or the sink's `ca` trusts, for this host name?"
        }
        if error is BoringSSLError || error is NIOSSLError {
            return "TLS failed: \(error)"
        }
        return "\(error)"
    }
}

/// Sends one email over SMTP (RFC 5321): EHLO, STARTTLS (required unless the sink says
/// `tls: none`), AUTH PLAIN or LOGIN over TLS, MAIL FROM, RCPT TO for every recipient,
/// DATA, QUIT. Every reply is awaited at most `timeout`.
struct SMTPClient {
    let group: EventLoopGroup
    let timeout: Duration
    /// The name given in EHLO.
    var clientName: String = SMTPClient.localName()

    func send(_ request: EmailRequest) async throws {
        let server = request.server
        let tls = server.security == .none ? nil : try Self.tlsContext(caFile: server.caFile)
        // An address has no name to send by SNI; the certificate is checked against the address.
        let sniName = Self.isAddress(server.host) ? nil : server.host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(timeout.milliseconds))
            .channelInitializer { channel in
                do {
                    if server.security == .implicitTLS, let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sniName))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler())
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: server.host, port: server.port).get()
        } catch {
            throw SMTPError(description: "\(server) did not accept a connection: \(error)", permanent: false)
        }
        let session = try await Session(channel: channel, server: server, timeout: timeout)
        do {
            try await converse(session, request, tls: tls, sniName: sniName)
        } catch {
            try? await channel.close()
            throw error
        }
        _ = try? await session.command("QUIT", "QUIT")
        try? await channel.close()
    }

    private func converse(_ session: Session, _ request: EmailRequest, tls: NIOSSLContext?, sniName: String?) async throws {
        let server = request.server
        try session.expect(try await session.reply("the greeting"), 220, "the greeting")
        var extensions = try await ehlo(session)
        if server.security == .startTLS {
            guard extensions.contains(where: { $0.split(separator: " ").first == "STARTTLS" }) else {
                throw SMTPError(description: "\(server) does not offer STARTTLS; Slipway does not send mail in plain text unless the sink says `tls: none` (or use smtps://)", permanent: true)
            }
            try session.expect(try await session.command("STARTTLS", "STARTTLS"), 220, "STARTTLS")
            guard let tls else { throw SMTPError(description: "no TLS context", permanent: true) }
            try await session.startTLS(tls, serverHostname: sniName)
            extensions = try await ehlo(session)
        }
        if let credentials = request.credentials {
            try await authenticate(session, credentials, extensions: extensions)
        }
        let message = request.message
        try session.expect(try await session.command("MAIL FROM:<\(message.from)>", "MAIL FROM"), 250, "MAIL FROM")
        for recipient in message.to {
            let reply = try await session.command("RCPT TO:<\(recipient)>", "RCPT TO")
            guard reply.code == 250 || reply.code == 251 else {
                throw session.refusal(reply, "RCPT TO:<\(recipient)>")
            }
        }
        try session.expect(try await session.command("DATA", "DATA"), 354, "DATA")
        try session.expect(try await session.send(raw: message.dataSection, "the message"), 250, "the message")
    }

    /// EHLO's extension lines (after the greeting line), upper-cased: `STARTTLS`, `AUTH PLAIN LOGIN`.
    private func ehlo(_ session: Session) async throws -> [String] {
        let reply = try await session.command("EHLO \(clientName)", "EHLO")
        try session.expect(reply, 250, "EHLO")
        return reply.lines.dropFirst().map { $0.uppercased() }
    }

    private func authenticate(_ session: Session, _ credentials: SMTPCredentials, extensions: [String]) async throws {
        // `AUTH PLAIN LOGIN` (and the pre-standard `AUTH=PLAIN LOGIN` some servers add).
        let mechanisms = Set(extensions.filter { $0.hasPrefix("AUTH ") || $0.hasPrefix("AUTH=") }
            .flatMap { $0.dropFirst(5).split(separator: " ").map(String.init) })
        if mechanisms.contains("PLAIN") {
            let token = Data("\u{0}\(credentials.username)\u{0}\(credentials.password)".utf8).base64EncodedString()
            try session.expect(try await session.command("AUTH PLAIN \(token)", "AUTH PLAIN (credentials withheld)"), 235, "AUTH PLAIN")
        } else if mechanisms.contains("LOGIN") {
            try session.expect(try await session.command("AUTH LOGIN", "AUTH LOGIN"), 334, "AUTH LOGIN")
            try session.expect(try await session.command(Data(credentials.username.utf8).base64EncodedString(), "the user name"), 334, "the user name")
            try session.expect(try await session.command(Data(credentials.password.utf8).base64EncodedString(), "the password"), 235, "AUTH LOGIN")
        } else {
            let offered = mechanisms.isEmpty ? "none" : mechanisms.sorted().joined(separator: ", ")
            throw SMTPError(description: "\(session.server) offers no AUTH PLAIN or LOGIN (it offers: \(offered)); the sink has a username and password", permanent: true)
        }
    }

    static func tlsContext(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            do {
                configuration.additionalTrustRoots = [.certificates(try TLSFiles.trustRoots(caFile))]
            } catch {
                throw SMTPError(description: "ca: \(error)", permanent: false)
            }
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw SMTPError(description: "cannot set up TLS: \(error)", permanent: false)
        }
    }

    static func isAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// This machine's host name when it is a valid domain name, else `localhost`.
    static func localName() -> String {
        let name = ProcessInfo.processInfo.hostName
        return EmailAddress.problem("x@\(name)") == nil ? name : "localhost"
    }

    /// One connection: commands out, replies in, each awaited at most `timeout`.
    struct Session: Sendable {
        let channel: Channel
        let server: SMTPServer
        let timeout: Duration
        let handler: NIOLoopBound<SMTPReplyHandler>

        init(channel: Channel, server: SMTPServer, timeout: Duration) async throws {
            self.channel = channel
            self.server = server
            self.timeout = timeout
            handler = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self), eventLoop: channel.eventLoop)
            }.get()
        }

        /// The next reply; `what` names what it answers in errors.
        func reply(_ what: String) async throws -> SMTPReply {
            let loop = channel.eventLoop
            let handler = self.handler
            let channel = self.channel
            let server = self.server
            let seconds = timeout.seconds
            let future = loop.flatSubmit { handler.value.next(on: loop) }
            let timer = loop.scheduleTask(in: .milliseconds(timeout.milliseconds)) {
                handler.value.fail(SMTPError(description: "\(server) did not answer \(what) within \(Int(seconds))s", permanent: false))
                channel.close(promise: nil)
            }
            defer { timer.cancel() }
            do {
                return try await future.get()
            } catch let error as SMTPError {
                if error.description.hasPrefix("\(server)") { throw error }
                // A failed handshake surfaces at the next reply awaited; the step is noise there.
                let step = error.description.hasPrefix("the TLS handshake") ? "" : " (waiting for the answer to \(what))"
                throw SMTPError(description: "\(server): \(error.description)\(step)", permanent: error.permanent)
            }
        }

        func command(_ line: String, _ what: String) async throws -> SMTPReply {
            try await send(raw: line + "\r\n", what)
        }

        func send(raw text: String, _ what: String) async throws -> SMTPReply {
            channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
            return try await reply(what)
        }

        func expect(_ reply: SMTPReply, _ code: Int, _ what: String) throws {
            guard reply.code == code else { throw refusal(reply, what) }
        }

        /// A 5xx answer is permanent; anything else unexpected is tried again later.
        func refusal(_ reply: SMTPReply, _ what: String) -> SMTPError {
            SMTPError(description: "\(server) answered \(what) with \(reply.summary)" + (reply.code >= 500 ? " (not retried)" : ""), permanent: reply.code >= 500)
        }

        /// Puts TLS under the conversation (after the server's 220 to STARTTLS).
        func startTLS(_ context: NIOSSLContext, serverHostname: String?) async throws {
            let channel = self.channel
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname), position: .first)
            }.get()
        }
    }
}
