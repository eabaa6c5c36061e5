import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayConfig
import SlipwayCore
import SlipwayStore

/// Turns any error thrown by a route into a JSON error answer with the right status.
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let body: APIErrorBody
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, rolloutID: Int64? = nil, configErrors: [ConfigErrorBody]? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.headers = headers
        self.body = APIErrorBody(error: .init(message: message, rolloutID: rolloutID, configErrors: configErrors))
    }

    static func from(_ error: any Error) -> APIError {
        switch error {
        case let e as APIError:
            return e
        case let e as ControllerError:
            let status: HTTPResponse.Status = switch e.code {
            case .notFound: .notFound
            case .conflict: .conflict
            case .invalid: .unprocessableContent
            case .unavailable: .serviceUnavailable
            }
            return APIError(status, e.message, rolloutID: e.rolloutID)
        case let e as ConfigErrors:
            return APIError(.unprocessableContent, "the config has \(e.errors.count) error(s)",
                            configErrors: e.errors.map { ConfigErrorBody(file: $0.file, line: $0.line, column: $0.column, path: $0.path, message: $0.message) })
        case let e as StoreError:
            switch e.code {
            case .notFound: return APIError(.notFound, e.message)
            case .conflict: return APIError(.conflict, e.message)
            case .noSpace: return APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), e.message)
            default: return APIError(.internalServerError, e.message)
            }
        case let e as AccessError:
            return APIError(.unprocessableContent, e.description)
        case let e as DecodingError:
            return APIError(.badRequest, "the request body is not valid: \(Self.describe(e))")
        case let e as HTTPError:
            return APIError(e.status, e.body ?? "\(e.status)")
        default:
            return APIError(.internalServerError, "\(error)")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [any CodingKey]) -> String { c.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .keyNotFound(let key, let ctx): return "missing field \(path(ctx.codingPath + [key]))"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return "\(path(ctx.codingPath).isEmpty ? "body" : path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(body)) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}

/// Middleware: every error leaves as `APIError` JSON.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw APIError.from(error)
        }
    }
}
