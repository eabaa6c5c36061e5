import Hummingbird
import NIOCore

extension Request {
    /// A JSON body that may be left out: an absent or blank body is `fallback`; any other
    /// body must decode, and a malformed one or a field of the wrong type is a 400 naming it
    /// (never silently read as the fallback: `{"to": 3}` must not roll back to the previous
    /// release).
    func decodeIfPresent<T: Decodable>(as type: T.Type, context: some RequestContext, otherwise fallback: T) async throws -> T {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        if buffer.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            return fallback
        }
        var copy = self
        copy.body = RequestBody(buffer: buffer)
        return try await copy.decode(as: type, context: context)
    }
}
