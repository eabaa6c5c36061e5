import Foundation
import SlipwayCore

/// One notification as an email: the envelope, the SMTP server and the RFC 5322 message,
/// built without I/O (so tests check it byte for byte) with every `${NAME}` resolved.
public struct EmailRequest: Sendable {
    public var server: SMTPServer
    public var credentials: SMTPCredentials?
    public var message: EmailMessage
}

/// Where an email sink's SMTP server is and how the connection is protected.
public struct SMTPServer: Sendable, Equatable, CustomStringConvertible {
    public enum Security: Sendable, Equatable {
        /// smtps://: TLS from the first byte.
        case implicitTLS
        /// smtp://: STARTTLS before anything else, refused when the server lacks it.
        case startTLS
        /// smtp:// with `tls: none`.
        case none
    }

    public var host: String
    public var port: Int
    public var security: Security
    /// A PEM file of CA certificates trusted besides the system's.
    public var caFile: String?

    public var description: String {
        "\(security == .implicitTLS ? "smtps" : "smtp")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// The server of `url` (`${NAME}` already resolved); nil when it is not smtp(s)://HOST[:PORT].
    public static func parse(_ url: String, tls: EmailTLS?, caFile: String?) -> SMTPServer? {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), let rawHost = c.host, !rawHost.isEmpty,
              c.user == nil, c.password == nil, c.path.isEmpty || c.path == "/", c.query == nil else { return nil }
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        switch scheme {
        case "smtps":
            guard tls == nil else { return nil }
            return SMTPServer(host: host, port: c.port ?? 465, security: .implicitTLS, caFile: caFile)
        case "smtp":
            return SMTPServer(host: host, port: c.port ?? 587, security: tls == EmailTLS.none ? .none : .startTLS, caFile: caFile)
        default:
            return nil
        }
    }
}

/// SMTP AUTH credentials (sent only over TLS).
public struct SMTPCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
}

/// A plain-text UTF-8 mail, quoted-printable in transit (so any SMTP server takes it).
public struct EmailMessage: Sendable, Equatable {
    public var from: String
    public var to: [String]
    public var subject: String
    public var body: String
    /// Unix time, for the Date header.
    public var date: Double
    /// Without angle brackets; the same for every attempt at one notification.
    public var messageID: String
    public var extraHeaders: [Header]

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    /// The message as sent after DATA (before dot-stuffing): CRLF line ends, headers of at
    /// most 998 bytes per line, the body quoted-printable.
    public var rendered: String {
        var headers: [Header] = [
            Header(name: "From", value: from),
            Header(name: "To", value: to.joined(separator: ", ")),
            Header(name: "Subject", value: Self.encodedWord(subject)),
            Header(name: "Date", value: Self.rfc5322Date(date)),
            Header(name: "Message-ID", value: "<\(messageID)>"),
            Header(name: "MIME-Version", value: "1.0"),
            Header(name: "Content-Type", value: "text/plain; charset=utf-8"),
            Header(name: "Content-Transfer-Encoding", value: "quoted-printable"),
            // RFC 3834: an automatic message; vacation responders do not answer it.
            Header(name: "Auto-Submitted", value: "auto-generated"),
        ]
        headers += extraHeaders.map { Header(name: $0.name, value: Self.oneLine($0.value)) }
        return headers.map { "\($0.name): \($0.value)\r\n" }.joined() + "\r\n" + Self.quotedPrintable(body)
    }

    /// Text with every line break and control character turned into a space.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : $0 }))
    }

    /// The subject as it stands when it is printable ASCII; otherwise RFC 2047 encoded words
    /// (UTF-8, base64), each at most 75 characters and never splitting a character.
    static func encodedWord(_ text: String) -> String {
        let line = oneLine(text)
        if line.unicodeScalars.allSatisfy({ $0.isASCII }) && line.utf8.count <= 900 { return line }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in line {
            let bytes = Array(String(character).utf8)
            // 45 bytes become 60 base64 characters, + "=?utf-8?B?" and "?=" = 72.
            if chunk.count + bytes.count > 45, !chunk.isEmpty {
                words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    /// RFC 2045 quoted-printable with CRLF line ends and soft breaks before 76 characters.
    static func quotedPrintable(_ text: String) -> String {
        var out = ""
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let bytes = Array(line.utf8)
            var current = ""
            for (i, byte) in bytes.enumerated() {
                let last = i == bytes.count - 1
                let token: String
                switch byte {
                case 0x21...0x3C, 0x3E...0x7E: token = String(UnicodeScalar(byte))
                // Space and tab stay, except at the end of a line (where transport strips them).
                case 0x20 where !last, 0x09 where !last: token = String(UnicodeScalar(byte))
                default: token = String(format: "=%02X", byte)
                }
                // A soft break "=" must fit too: at most 75 characters plus it per line.
                if current.utf8.count + token.utf8.count > (last ? 76 : 75) {
                    out += current + "=\r\n"
                    current = ""
                }
                current += token
            }
            out += current
            if index < lines.count - 1 { out += "\r\n" }
        }
        return out.hasSuffix("\r\n") ? out : out + "\r\n"
    }

    /// `Fri, 04 Dec 2026 10:00:00 +0000`.
    static func rfc5322Date(_ time: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: Date(timeIntervalSince1970: time))
    }

    /// The lines of `rendered` with a leading "." doubled (RFC 5321 4.5.2), then the
    /// terminating CRLF.CRLF.
    public var dataSection: String {
        var out = ""
        for line in rendered.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix(".") { out += "." }
            out += line + "\r\n"
        }
        return out + ".\r\n"
    }
}

extension EmailRequest {
    /// The email for `record`'s sink. `${NAME}` references in url, username and password
    /// are resolved with `lookup`; one that does not resolve is an error naming it.
    public static func make(_ record: NotificationRecord, lookup: (String) -> String?) -> Result<EmailRequest, SecretReference.ReferenceError> {
        let sink = record.sink
        let url: String
        switch SecretReference.expand(sink.url, lookup: lookup) {
        case .success(let value): url = value
        case .failure(let error): return .failure(SecretReference.ReferenceError(message: "url: \(error.message)"))
        }
        guard let server = SMTPServer.parse(url, tls: sink.tls, caFile: sink.ca) else {
            return .failure(SecretReference.ReferenceError(message: "url: the resolved value is not an smtp://HOST[:PORT] or smtps://HOST[:PORT] URL (smtps:// takes no `tls`)"))
        }
        guard let from = sink.from, let to = sink.to, !to.isEmpty else {
            return .failure(SecretReference.ReferenceError(message: "an email sink needs `from` and `to`"))
        }
        var credentials: SMTPCredentials?
        if let username = sink.username, let password = sink.password {
            switch (SecretReference.expand(username, lookup: lookup), SecretReference.expand(password, lookup: lookup)) {
            case (.failure(let error), _): return .failure(SecretReference.ReferenceError(message: "username: \(error.message)"))
            case (_, .failure(let error)): return .failure(SecretReference.ReferenceError(message: "password: \(error.message)"))
            case (.success(let user), .success(let pass)): credentials = SMTPCredentials(username: user, password: pass)
            }
            if server.security == .none {
                return .failure(SecretReference.ReferenceError(message: "tls: a password is never sent in plain text"))
            }
        }
        let p = record.payload
        let domain = from.split(separator: "@").last.map(String.init) ?? "slipway.invalid"
        let message = EmailMessage(
            from: from, to: to, subject: "[slipway] \(NotificationRequest.headline(p))", body: body(record),
            date: p.time, messageID: "slipway.\(record.id).\(Int64(record.createdAt * 1000))@\(domain)",
            extraHeaders: [
                .init(name: "X-Slipway-Event", value: p.event.rawValue),
                .init(name: "X-Slipway-Service", value: p.service),
                .init(name: "X-Slipway-Delivery", value: String(record.id)),
            ])
        return .success(EmailRequest(server: server, credentials: credentials, message: message))
    }

    /// The message, then the facts one per line.
    static func body(_ record: NotificationRecord) -> String {
        let p = record.payload
        var facts: [(String, String)] = [("Service", UnitName.split(p.service).service)]
        if let environment = p.environment { facts.append(("Environment", environment)) }
        facts.append(("Event", p.event.rawValue))
        facts.append(("Severity", p.severity.rawValue))
        if let version = p.version { facts.append(("Version", version)) }
        if let from = p.fromVersion { facts.append(("From version", from)) }
        if let rollout = p.rollout { facts.append(("Rollout", "\(rollout) (explained by: slipway why \(p.service) \(rollout))")) }
        if let alert = p.alert { facts.append(("Alert", alert)) }
        if let started = p.alertStartedAt { facts.append(("Alert started", Timestamps.format(started))) }
        facts.append(("Time", Timestamps.format(p.time)))
        let width = facts.map(\.0.count).max() ?? 0
        let lines = facts.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 1) + $0.1 }
        return "\(p.message)\n\n" + lines.joined(separator: "\n") + "\n\n-- \nSent by Slipway \(SlipwayVersion.current) (notification \(record.id)).\n"
    }
}
