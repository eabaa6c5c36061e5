import NIOCore
@testable import SlipwayRouter
import Testing

/// The gRPC health service's messages, encoded and read by hand (HealthProbe).
@Suite struct GRPCHealthTests {
    func bytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

    @Test func requestsAreLengthPrefixedMessages() {
        #expect(bytes(GRPCHealth.request(service: "")) == [0, 0, 0, 0, 0])
        #expect(bytes(GRPCHealth.request(service: "a.B")) == [0, 0, 0, 0, 5, 0x0A, 3, 0x61, 0x2E, 0x42])
        let long = String(repeating: "s", count: 200)
        #expect(Array(bytes(GRPCHealth.request(service: long)).prefix(8)) == [0, 0, 0, 0, 203, 0x0A, 0xC8, 0x01])
    }

    @Test func theServingStatusIsReadAndAnythingElseIsNot() {
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [0, 0, 0, 0, 2, 0x08, 0x01])) == GRPCHealth.serving)
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [0, 0, 0, 0, 2, 0x08, 0x02])) == 2)
        // An empty message is status 0 (UNKNOWN); unknown fields are skipped.
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [0, 0, 0, 0, 0])) == 0)
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [0, 0, 0, 0, 6, 0x12, 0x02, 0x68, 0x69, 0x08, 0x01])) == 1)
        // Compressed, cut short, a length that overruns, two frames: unreadable.
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [1, 0, 0, 0, 2, 0x08, 0x01])) == nil)
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [0, 0, 0, 0, 2, 0x08])) == nil)
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [0, 0, 0, 0, 3, 0x12, 0x09, 0x01])) == nil)
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [0, 0, 0, 0, 2, 0x08, 0x01, 0, 0, 0, 0, 0])) == nil)
        #expect(GRPCHealth.servingStatus(ByteBuffer(bytes: [0, 0, 0])) == nil)
        #expect(GRPCHealth.name(2) == "NOT_SERVING")
    }
}
