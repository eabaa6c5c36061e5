import Foundation
import SlipwayTargets
import SlipwayTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Ports for instances: outside the ephemeral range, never one that is bound, each handed
/// out once per pass over the range.
@Suite struct PortAllocatorTests {
    @Test func aBoundPortIsNeverHandedOutAndIsOnceItIsFree() {
        let (fd, port) = boundLoopbackSocket(listening: true)
        let allocator = PortAllocator(range: port...port)
        #expect(allocator.port() == nil, "the only port of the range is held")
        #expect(!PortAllocator.binds(host: "127.0.0.1", port: port))
        close(fd)
        #expect(allocator.port() == port)
        #expect(PortAllocator.binds(host: "127.0.0.1", port: port))
    }

    @Test func portsAreHandedOutOncePerPassAndHeldOnesAreSkipped() throws {
        // 30000-32767 is neither the kernel's ephemeral range, the test servers' ports
        // (10000-19999) nor instance ports (20000-29999): nothing else binds here.
        let range = 31000...31015
        let allocator = PortAllocator(range: range)
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        var firstPass: [Int] = []
        for _ in range {
            let port = try #require(allocator.port())
            #expect(range.contains(port))
            firstPass.append(port)
        }
        #expect(Set(firstPass).count == range.count, "each port once: \(firstPass)")
        // Hold every other port: the next pass gives only the free ones, in order.
        for port in range where port % 2 == 0 { held.append(try #require(listeningLoopbackSocket(port: port))) }
        let secondPass = (0..<8).compactMap { _ in allocator.port() }
        #expect(secondPass.allSatisfy { $0 % 2 == 1 }, "\(secondPass)")
        #expect(Set(secondPass).count == 8)
    }

    @Test func rangesParseAndTheKernelsEphemeralRangeIsRead() throws {
        #expect(PortAllocator.parseRange("20000-29999") == 20000...29999)
        #expect(PortAllocator.parseRange("1024-1039") == 1024...1039)
        for bad in ["", "20000", "20000-", "-29999", "29999-20000", "1000-2000", "60000-70000", "20000-20014", "a-b", "20000-29999-3"] {
            #expect(PortAllocator.parseRange(bad) == nil, "\(bad)")
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(PortAllocator.ephemeralRange(file: try dir.write("range", "32768\t60999\n")) == 32768...60999)
        #expect(PortAllocator.ephemeralRange(file: try dir.write("bad", "60999 32768\n")) == nil)
        #expect(PortAllocator.ephemeralRange(file: dir.file("missing")) == nil)
        // The default instance range stays clear of this machine's ephemeral range.
        let live = try #require(PortAllocator.ephemeralRange())
        #expect(!live.overlaps(PortAllocator.defaultRange), "ephemeral \(live)")
    }

}
