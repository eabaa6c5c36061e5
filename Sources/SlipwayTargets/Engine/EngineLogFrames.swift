import NIOCore

/// Splits the engine's log stream into lines. Without a TTY the engine multiplexes
/// stdout and stderr in frames — an 8-byte header (stream 0/1/2, three zero bytes, a
/// big-endian length) then the payload — and a line may span frames. A stream that does
/// not start with such a header (a TTY container) is read as plain text.
public struct EngineLogFrames: Sendable {
    enum Mode { case unknown, framed, raw }
    var mode = Mode.unknown
    var buffer = ByteBuffer()
    /// Payload bytes not yet ended by a newline.
    var partial: [UInt8] = []
    /// A line longer than this is cut (a runaway writer must not grow memory without bound).
    static let maxLine = 64 * 1024

    public init() {}

    /// Takes the next chunk of the stream; returns the lines it completed.
    public mutating func feed(_ chunk: ByteBuffer) -> [String] {
        var chunk = chunk
        buffer.writeBuffer(&chunk)
        if mode == .unknown {
            guard buffer.readableBytes >= 8, let header = buffer.getBytes(at: buffer.readerIndex, length: 8) else { return [] }
            mode = (header[0] <= 2 && header[1] == 0 && header[2] == 0 && header[3] == 0) ? .framed : .raw
        }
        var lines: [String] = []
        switch mode {
        case .raw:
            if let bytes = buffer.readBytes(length: buffer.readableBytes) { take(bytes, into: &lines) }
        case .framed:
            while buffer.readableBytes >= 8,
                  let length = buffer.getInteger(at: buffer.readerIndex + 4, endianness: .big, as: UInt32.self),
                  buffer.readableBytes >= 8 + Int(length) {
                buffer.moveReaderIndex(forwardBy: 8)
                if let bytes = buffer.readBytes(length: Int(length)) { take(bytes, into: &lines) }
            }
        case .unknown:
            break
        }
        buffer.discardReadBytes()
        return lines
    }

    /// The stream ended: what is left as a last line.
    public mutating func finish() -> [String] {
        var lines: [String] = []
        if mode == .raw || mode == .unknown, let bytes = buffer.readBytes(length: buffer.readableBytes) { take(bytes, into: &lines) }
        if !partial.isEmpty { lines.append(String(decoding: partial, as: UTF8.self)) }
        partial = []
        return lines
    }

    mutating func take(_ bytes: [UInt8], into lines: inout [String]) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
                lines.append(String(decoding: partial, as: UTF8.self))
                partial.removeAll(keepingCapacity: true)
            } else if partial.count < Self.maxLine {
                partial.append(byte)
            }
        }
    }
}
