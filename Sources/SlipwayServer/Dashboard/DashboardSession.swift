import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SlipwayCore

/// The dashboard's browser session: after `POST /dashboard/login` the API token lives in
/// an `HttpOnly; SameSite=Strict` cookie, which the auth middleware accepts like the
/// `Authorization` header — for reads, and for changes only when the request also carries
/// the session's CSRF value in `X-Slipway-CSRF`. The CSRF value is derived from the token
/// (SHA-256 of a domain-separated string), so the server keeps no session state, a revoked
/// token ends its sessions at once, and another site can neither read nor compute it.
enum DashboardSession {
    static let cookieName = "slipway_session"
    static let csrfHeader = HTTPField.Name("X-Slipway-CSRF")!
    /// Browser sessions end after this long even if the token lives on.
    static let maxAge = 12 * 3600

    /// The CSRF value of a session holding `token`.
    static func csrf(for token: String) -> String {
        let digest = SHA256.hash(data: Data("slipway-dashboard-csrf\u{0}\(token)".utf8))
        return Data(digest).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The `Set-Cookie` value that starts a session (`Secure` when the API speaks HTTPS).
    static func setCookie(token: String, secure: Bool) -> String {
        "\(cookieName)=\(token); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that ends it.
    static func clearCookie(secure: Bool) -> String {
        "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The session cookie's token, if the request has one (every `Cookie` header is read).
    static func token(in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { return value }
            }
        }
        return nil
    }

    /// Whether a cookie-authenticated request may go on: reads always; anything else only
    /// with the matching CSRF header (compared in constant time).
    static func csrfAllows(_ request: Request, token: String) -> Bool {
        if request.method == .get || request.method == .head { return true }
        guard let presented = request.headers[csrfHeader] else { return false }
        let expected = csrf(for: token)
        let a = Array(presented.utf8), b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// The body of `POST /dashboard/login`.
struct DashboardLoginRequest: Codable, Sendable {
    var token: String
}

/// The answer of `POST /dashboard/login` and `GET /dashboard/session`.
struct DashboardSessionReply: ResponseEncodable, Codable, Sendable {
    var principal: Principal
    var csrf: String
}
