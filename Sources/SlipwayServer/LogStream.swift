import Foundation
import Hummingbird
import NIOCore
import SlipwayCore
import SlipwayTargets

/// `GET /v1/services/NAME/logs`: the tail of each instance's output, each line prefixed
/// with the instance id; with `follow` the answer stays open and streams new lines. Each
/// instance's lines come from its driver (a log file for a process, the engine's logs for
/// a container). Known secret values are redacted (an instance may print its environment).
enum LogStream {
    struct Source: Sendable {
        var instance: String
        var lines: AsyncThrowingStream<String, any Error>
    }

    static func response(sources: [Source], follow: Bool, redaction: SecretRedaction = .none) -> Response {
        let body = ResponseBody { writer in
            if !follow {
                // One instance after the other.
                for source in sources {
                    var out = ""
                    do {
                        for try await line in source.lines { out += "[\(source.instance)] \(redaction.redact(line))\n" }
                    } catch {
                        out += "[\(source.instance)] (its output cannot be read: \(error))\n"
                    }
                    if !out.isEmpty { try await writer.write(ByteBuffer(string: out)) }
                }
                try await writer.finish(nil)
                return
            }
            // Every instance at once, lines written as they come, until the client goes.
            let (merged, continuation) = AsyncStream.makeStream(of: String.self)
            let readers = Task {
                await withTaskGroup(of: Void.self) { group in
                    for source in sources {
                        group.addTask {
                            do {
                                for try await line in source.lines { continuation.yield("[\(source.instance)] \(redaction.redact(line))\n") }
                            } catch {
                                continuation.yield("[\(source.instance)] (its output cannot be read: \(error))\n")
                            }
                        }
                    }
                }
                continuation.finish()
            }
            defer { readers.cancel() }
            for await text in merged {
                try await writer.write(ByteBuffer(string: text))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: body)
    }
}
