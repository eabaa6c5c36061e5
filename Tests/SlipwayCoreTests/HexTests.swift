import Foundation
import SlipwayCore
import Testing

struct HexTests {
    @Test func everyByteIsTwoLowercaseDigitsAsPrintfWritesThem() {
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.string(all) == all.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.string([UInt8]()) == "")
        #expect(Hex.string([0x00, 0x0F, 0xF0, 0xFF]) == "000ff0ff")
    }

    @Test func aSequenceWithoutACountIsReadWhole() {
        // `underestimatedCount` of a lazy filter is 0: the text must still hold every byte.
        let bytes = (0...255).lazy.map { UInt8($0) }.filter { $0 % 3 == 0 }
        #expect(Hex.string(bytes).count == 86 * 2)
        #expect(Hex.string(bytes).hasPrefix("000306090c0f"))
    }

    @Test func randomIdentifiersHaveTwoDigitsPerByte() {
        let ids = (0..<8).map { _ in Hex.random(bytes: 16) }
        for id in ids {
            #expect(id.count == 32)
            #expect(id.allSatisfy { "0123456789abcdef".contains($0) })
        }
        #expect(Set(ids).count == ids.count)
    }
}
