import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// The open `GET /v1/stream` answers: how many there are (for `/metrics` and tests) and
/// the switch that ends them all when the server shuts down gracefully (an endless
/// answer would otherwise hold the HTTP server's shutdown open).
final class DashboardStreams: Sendable {
    private let state = NIOLockedValueBox((closed: false, open: 0))

    var isClosed: Bool { state.withLockedValue { $0.closed } }
    var openCount: Int { state.withLockedValue { $0.open } }
    func close() { state.withLockedValue { $0.closed = true } }
    fileprivate func opened() { state.withLockedValue { $0.open += 1 } }
    fileprivate func ended() { state.withLockedValue { $0.open -= 1 } }
}

/// Ends every stream when graceful shutdown begins. Listed after the API in the service
/// group, so it is told first (the group stops services in reverse order).
struct DashboardStreamCloser: Service {
    let streams: DashboardStreams
    func run() async throws {
        try? await gracefulShutdown()
        streams.close()
    }
}

/// Server-sent events (`text/event-stream`): a `snapshot` event about every second and a
/// `phase` event before it for every rollout that started, moved on or ended.
enum EventStream {
    /// One SSE event; data lines never hold a raw newline (each line gets its own `data:`).
    static func frame(event: String, id: UInt64?, data: String) -> String {
        var text = "event: \(event)\n"
        if let id { text += "id: \(id)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        return text + "\n"
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// `once`: one snapshot, then the answer ends (scripts, tests). Otherwise it ends when
    /// the client goes away (the next write fails), the task is cancelled, or shutdown.
    static func response(feed: DashboardFeed, streams: DashboardStreams, once: Bool, interval: Duration = .seconds(1)) -> Response {
        let body = ResponseBody { writer in
            streams.opened()
            defer { streams.ended() }
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            var previous: DashboardSnapshot?
            while !streams.isClosed && !Task.isCancelled {
                let snapshot = await feed.snapshot()
                if snapshot.sequence != previous?.sequence {
                    var text = ""
                    for change in DashboardSnapshot.phaseChanges(from: previous, to: snapshot) {
                        text += frame(event: "phase", id: nil, data: json(change))
                    }
                    text += frame(event: "snapshot", id: snapshot.sequence, data: json(snapshot))
                    try await writer.write(ByteBuffer(string: text))
                    previous = snapshot
                }
                if once { break }
                // Short sleeps so shutdown ends the stream promptly.
                let next = ContinuousClock.now + interval
                while ContinuousClock.now < next && !streams.isClosed {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"], body: body)
    }
}
