import Foundation

/// Instance log files: size-capped rotation and tails.
///
/// Instances append to their log with O_APPEND, so rotation copies the file to `.1`
/// (shifting older copies up to `keep`) and truncates the original in place; the
/// writer carries on at the new end without being restarted.
public enum LogFiles {
    public static func rotateIfNeeded(path: String, maxBytes: Int, keep: Int) {
        let fm = FileManager.default
        guard let attrs = try? fm.attributesOfItem(atPath: path),
              let size = attrs[.size] as? NSNumber, size.intValue > maxBytes else { return }
        if keep > 0 {
            try? fm.removeItem(atPath: "\(path).\(keep)")
            if keep > 1 {
                for n in stride(from: keep - 1, through: 1, by: -1) where fm.fileExists(atPath: "\(path).\(n)") {
                    try? fm.moveItem(atPath: "\(path).\(n)", toPath: "\(path).\(n + 1)")
                }
            }
            try? fm.copyItem(atPath: path, toPath: "\(path).1")
        }
        truncate(path, 0)
    }

    /// The last `lines` lines of the file (reads at most the last 256 KiB).
    public static func tail(path: String, lines: Int) -> [String] {
        guard lines > 0, let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let end = (try? handle.seekToEnd()) ?? 0
        let start = end > 262_144 ? end - 262_144 : 0
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        var text = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if text.last == "" { text.removeLast() }
        if start > 0, !text.isEmpty { text.removeFirst() }
        return Array(text.suffix(lines))
    }

    /// Bytes appended since `offset`, and the new offset. A file that shrank (rotated)
    /// restarts from its beginning.
    public static func read(path: String, from offset: UInt64) -> (Data, UInt64) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return (Data(), offset) }
        defer { try? handle.close() }
        let end = (try? handle.seekToEnd()) ?? 0
        let from = end < offset ? 0 : offset
        try? handle.seek(toOffset: from)
        let data = (try? handle.read(upToCount: Int(min(end - from, 1 << 20)))) ?? Data()
        return (data, from + UInt64(data.count))
    }
}

extension LogFiles {
    /// The last `tail` lines of the file, then (with `follow`) each line appended to it,
    /// polled every 200 ms, until the consumer stops.
    public static func lines(path: String, tail: Int, follow: Bool) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                for line in Self.tail(path: path, lines: tail) { continuation.yield(line) }
                var offset = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
                var pending = ""
                while follow && !Task.isCancelled {
                    let (data, next) = Self.read(path: path, from: offset)
                    offset = next
                    if !data.isEmpty {
                        var parts = (pending + String(decoding: data, as: UTF8.self)).split(separator: "\n", omittingEmptySubsequences: false)
                        pending = String(parts.removeLast())
                        for line in parts { continuation.yield(String(line)) }
                    }
                    try? await Task.sleep(for: .milliseconds(200))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
