import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayCore

/// One of the dashboard's three files, compiled into the binary (no CDN, nothing on disk).
struct DashboardAsset: Sendable {
    let path: String
    let contentType: String
    let body: ByteBuffer
    let etag: String

    init(path: String, contentType: String, bytes: [UInt8]) {
        self.path = path
        self.contentType = contentType
        body = ByteBuffer(bytes: bytes)
        etag = "\"" + Hex.string(SHA256.hash(data: bytes).prefix(12)) + "\""
    }

    /// Scripts only from this server, no inline script or style, no framing, no plugins.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    /// 200 with the file, or 304 when the browser's copy (`If-None-Match`) is current.
    /// `no-cache`: browsers revalidate every load, so a new binary's files are seen at once.
    func response(ifNoneMatch: String?) -> Response {
        var headers: HTTPFields = [
            .contentType: contentType, .cacheControl: "no-cache", .eTag: etag,
            .contentSecurityPolicy: Self.contentSecurityPolicy, .xContentTypeOptions: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer", HTTPField.Name("X-Frame-Options")!: "DENY",
        ]
        if let ifNoneMatch, ifNoneMatch.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0.trimmingCharacters(in: .whitespaces) == "*" }) {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }
}

/// The files live in `Dashboard/Assets/` (hand-written: one page, one script, one style
/// sheet, no framework) and are embedded by SwiftPM (`resources: [.embedInCode(…)]`).
enum DashboardAssets {
    static let page = DashboardAsset(path: "/dashboard", contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html)
    static let script = DashboardAsset(path: "/dashboard/app.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.app_js)
    static let style = DashboardAsset(path: "/dashboard/app.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.app_css)
    static let all = [page, script, style]
}
