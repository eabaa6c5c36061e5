import Foundation
import SlipwayCore
import Testing

@testable import SlipwayServer

/// The email a notification becomes: the server and credentials resolved at send time,
/// the headers, quoted-printable body, encoded subject and the dot-stuffed DATA section.
@Suite struct EmailMessageTests {
    static let sink = NotificationSink(kind: .email, url: "smtp://${SMTP_HOST}", from: "slipway@example.org", to: ["ops@example.org", "dev@example.org"],
                                       username: "${SMTP_USER}", password: "${SMTP_PASSWORD}")
    static let lookup: @Sendable (String) -> String? = { ["SMTP_HOST": "mail.example.org", "SMTP_USER": "deployer", "SMTP_PASSWORD": "pa ss"][$0] }

    @Test func aNotificationBecomesAnEmail() throws {
        let record = NotificationRequestTests.record(Self.sink)
        let request = try EmailRequest.make(record, lookup: Self.lookup).get()
        #expect(request.server == SMTPServer(host: "mail.example.org", port: 587, security: .startTLS, caFile: nil))
        #expect(request.credentials == SMTPCredentials(username: "deployer", password: "pa ss"))
        let m = request.message
        #expect(m.subject == "[slipway] web@production v2: rolled back")
        #expect(m.messageID == "slipway.42.0@example.org", "the same id for every attempt")
        let rendered = m.rendered
        let (head, body) = try #require(rendered.split(separator: "\r\n\r\n", maxSplits: 1).map(String.init).pairs)
        #expect(head.components(separatedBy: "\r\n") == [
            "From: slipway@example.org",
            "To: ops@example.org, dev@example.org",
            "Subject: [slipway] web@production v2: rolled back",
            "Date: Tue, 14 Nov 2023 22:13:20 +0000",
            "Message-ID: <slipway.42.0@example.org>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "Auto-Submitted: auto-generated",
            "X-Slipway-Event: rolled_back",
            "X-Slipway-Service: web@production",
            "X-Slipway-Delivery: 42",
        ])
        #expect(body.hasPrefix("error rate 12 % \"high\"\r\n\r\nService:      web\r\nEnvironment:  production\r\nEvent:        rolled_back\r\n"), "\(body)")
        #expect(body.contains("Rollout:      7 (explained by: slipway why web@production 7)\r\n"))
        #expect(!rendered.contains("pa ss"), "the password is never in the message")
        #expect(rendered.hasSuffix("\r\n"))
    }

    @Test func referencesAndPlainTextRefusals() {
        let record = NotificationRequestTests.record(Self.sink)
        #expect(throws: SecretReference.ReferenceError.self) { try EmailRequest.make(record, lookup: { $0 == "SMTP_HOST" ? "m.example.org" : nil }).get() }
        if case .failure(let error) = EmailRequest.make(record, lookup: { $0 == "SMTP_PASSWORD" ? nil : Self.lookup($0) }) {
            #expect(error.message == "password: ${SMTP_PASSWORD} is neither a secret of the service nor a variable of the server's environment")
        } else {
            Issue.record("an unknown password reference must fail")
        }
        var plain = Self.sink
        plain.tls = EmailTLS.none
        if case .failure(let error) = EmailRequest.make(NotificationRequestTests.record(plain), lookup: Self.lookup) {
            #expect(error.message == "tls: a password is never sent in plain text")
        } else {
            Issue.record("credentials over plain text must be refused")
        }
        var http = Self.sink
        http.url = "https://${SMTP_HOST}"
        #expect(throws: SecretReference.ReferenceError.self) { try EmailRequest.make(NotificationRequestTests.record(http), lookup: Self.lookup).get() }
    }

    @Test func serversAndTheirDefaultPorts() {
        #expect(SMTPServer.parse("smtp://m.example.org", tls: nil, caFile: nil) == SMTPServer(host: "m.example.org", port: 587, security: .startTLS, caFile: nil))
        #expect(SMTPServer.parse("smtps://m.example.org", tls: nil, caFile: "/ca.pem") == SMTPServer(host: "m.example.org", port: 465, security: .implicitTLS, caFile: "/ca.pem"))
        #expect(SMTPServer.parse("smtp://127.0.0.1:25", tls: EmailTLS.none, caFile: nil) == SMTPServer(host: "127.0.0.1", port: 25, security: .none, caFile: nil))
        #expect(SMTPServer.parse("smtp://[::1]:2525", tls: nil, caFile: nil)?.host == "::1")
        #expect(SMTPServer.parse("smtp://[::1]:2525", tls: nil, caFile: nil)?.description == "smtp://[::1]:2525")
        #expect(SMTPServer.parse("smtps://m.example.org", tls: .starttls, caFile: nil) == nil)
        #expect(SMTPServer.parse("smtp://u:p@m.example.org", tls: nil, caFile: nil) == nil)
        #expect(SMTPServer.parse("http://m.example.org", tls: nil, caFile: nil) == nil)
    }

    @Test func quotedPrintableKeepsLinesShortAndBytesExact() throws {
        let text = "déploiement → v2 = ok \t\n" + String(repeating: "x", count: 200) + "\n.starts with a dot\nend "
        let encoded = EmailMessage.quotedPrintable(text)
        let lines = encoded.components(separatedBy: "\r\n").dropLast()
        #expect(lines.allSatisfy { $0.utf8.count <= 76 }, "\(lines.map(\.count))")
        #expect(lines.first == "d=C3=A9ploiement =E2=86=92 v2 =3D ok =09")
        #expect(lines.last == "end=20", "trailing space is encoded")
        #expect(encoded.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(try Self.decodeQuotedPrintable(encoded) == text.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n")
    }

    @Test func subjectsAreOneLineAndEncodedWhenNotASCII() {
        #expect(EmailMessage.encodedWord("web v2: rolled back\r\nBcc: x@evil.org") == "web v2: rolled back  Bcc: x@evil.org")
        let encoded = EmailMessage.encodedWord("web → v2 " + String(repeating: "é", count: 40))
        let words = encoded.components(separatedBy: "\r\n ")
        #expect(words.count == 3)
        #expect(words.allSatisfy { $0.hasPrefix("=?utf-8?B?") && $0.hasSuffix("?=") && $0.count <= 75 })
        let decoded = words.map { word -> String in
            let base64 = word.dropFirst("=?utf-8?B?".count).dropLast(2)
            return String(decoding: Data(base64Encoded: String(base64)) ?? Data(), as: UTF8.self)
        }.joined()
        #expect(decoded == "web → v2 " + String(repeating: "é", count: 40), "no character is split between words")
    }

    @Test func theDataSectionDoublesLeadingDots() {
        let message = EmailMessage(from: "a@example.org", to: ["b@example.org"], subject: "s", body: ".\n..x\nok", date: 0, messageID: "m@example.org", extraHeaders: [])
        let data = message.dataSection
        #expect(data.hasSuffix("\r\n..\r\n...x\r\nok\r\n.\r\n"), "\(data.debugDescription)")
        #expect(!data.dropLast(5).contains("\r\n.\r\n"), "only the terminator is a lone dot")
    }

    /// RFC 2045 decoding, to check the encoder round-trips.
    static func decodeQuotedPrintable(_ text: String) throws -> String {
        var bytes: [UInt8] = []
        let input = Array(text.replacingOccurrences(of: "=\r\n", with: "").utf8)
        var i = 0
        while i < input.count {
            if input[i] == UInt8(ascii: "="), i + 2 < input.count, let byte = UInt8(String(decoding: input[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                bytes.append(byte)
                i += 3
            } else {
                bytes.append(input[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private extension Array where Element == String {
    var pairs: (String, String)? { count == 2 ? (self[0], self[1]) : nil }
}
