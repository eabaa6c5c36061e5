import Foundation
import Hummingbird
import NIOCore
import SlipwayCore
import SlipwayTargets

/// `GET /v1/services/NAME/logs`: the tail of each instance's log, each line prefixed with
/// the instance id; with `follow` the answer stays open and streams new lines. Known
/// secret values are redacted (an instance may print its environment).
enum LogStream {
    static func response(files: [(instance: String, version: String, path: String)], tail: Int, follow: Bool, redaction: SecretRedaction = .none) -> Response {
        let body = ResponseBody { writer in
            var offsets: [String: UInt64] = [:]
            var pending: [String: String] = [:]
            for file in files {
                let lines = redaction.redact(LogFiles.tail(path: file.path, lines: tail))
                if !lines.isEmpty {
                    try await writer.write(ByteBuffer(string: lines.map { "[\(file.instance)] \($0)\n" }.joined()))
                }
                let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.uint64Value ?? 0
                offsets[file.path] = size
            }
            while follow && !Task.isCancelled {
                var out = ""
                for file in files {
                    let (data, next) = LogFiles.read(path: file.path, from: offsets[file.path] ?? 0)
                    offsets[file.path] = next
                    guard !data.isEmpty else { continue }
                    let text = (pending[file.path] ?? "") + String(decoding: data, as: UTF8.self)
                    var parts = text.split(separator: "\n", omittingEmptySubsequences: false)
                    pending[file.path] = String(parts.removeLast())
                    for line in parts { out += "[\(file.instance)] \(redaction.redact(String(line)))\n" }
                }
                if !out.isEmpty { try await writer.write(ByteBuffer(string: out)) }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: body)
    }
}
