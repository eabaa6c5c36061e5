import NIOCore
import Testing
@testable import SlipwayRouter

@Suite struct CIDRTests {
    func contains(_ cidr: String, _ address: String) throws -> Bool {
        let network = try #require(CIDR(cidr), "\(cidr) should parse")
        let bits = try #require(IPBits(address), "\(address) should parse")
        return network.contains(bits)
    }

    @Test func ipv4Networks() throws {
        #expect(try contains("10.0.0.0/8", "10.255.1.2"))
        #expect(try !contains("10.0.0.0/8", "11.0.0.1"))
        #expect(try contains("192.168.4.0/22", "192.168.7.255"))
        #expect(try !contains("192.168.4.0/22", "192.168.8.0"))
        #expect(try contains("127.0.0.0/8", "127.0.0.1"))
    }

    @Test func ipv4HostAndEverything() throws {
        #expect(try contains("127.0.0.1/32", "127.0.0.1"))
        #expect(try !contains("127.0.0.1/32", "127.0.0.2"))
        #expect(try contains("203.0.113.9", "203.0.113.9"), "a bare address is a /32")
        #expect(try !contains("203.0.113.9", "203.0.113.8"))
        #expect(try contains("0.0.0.0/0", "8.8.8.8"))
        #expect(try contains("0.0.0.0/0", "255.255.255.255"))
        #expect(try !contains("0.0.0.0/0", "::1"), "an IPv4 network does not match IPv6 clients")
    }

    @Test func ipv6Networks() throws {
        #expect(try contains("::1/128", "::1"))
        #expect(try !contains("::1/128", "::2"))
        #expect(try contains("::1", "::1"), "a bare address is a /128")
        #expect(try contains("::/0", "2001:db8::1"))
        #expect(try !contains("::/0", "10.0.0.1"), "an IPv6 network does not match IPv4 clients")
        #expect(try contains("2001:db8::/32", "2001:db8:ffff::1"))
        #expect(try !contains("2001:db8::/32", "2001:db9::"))
        #expect(try contains("2001:db8:1:2::/64", "2001:db8:1:2:ffff:ffff:ffff:ffff"))
        #expect(try !contains("2001:db8:1:2::/64", "2001:db8:1:3::"))
        #expect(try contains("2001:db8:1:2:8000::/65", "2001:db8:1:2:ffff::"))
        #expect(try !contains("2001:db8:1:2:8000::/65", "2001:db8:1:2:7fff::"))
        #expect(try contains("fe80::/10", "febf::1"))
        #expect(try !contains("fe80::/10", "fec0::1"))
    }

    @Test func ipv4MappedClientsAreIPv4() throws {
        let mapped = try #require(IPBits("::ffff:127.0.0.1"))
        #expect(mapped.family == .v4)
        #expect(try #require(CIDR("127.0.0.0/8")).contains(mapped))
        #expect(try !#require(CIDR("::/0")).contains(mapped))
        let socket = try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 1)
        #expect(IPBits(socket) == IPBits("10.1.2.3"))
        #expect(IPBits(try SocketAddress(ipAddress: "::1", port: 80)) == IPBits("::1"))
        #expect(IPBits(try SocketAddress(ipAddress: "127.0.0.1", port: 80)) == IPBits("127.0.0.1"))
        #expect(IPBits(try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")) == nil)
    }

    @Test func hostBitsAreMaskedOff() throws {
        #expect(CIDR("10.1.2.3/8") == CIDR("10.0.0.0/8"))
        #expect(CIDR("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(CIDR("2001:db8::ff/120")?.description == "2001:db8:0:0:0:0:0:0/120")
    }

    @Test func garbageIsRejected() {
        for text in ["", "/", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.256/8", "abc",
                     "10.0.0.0/8/9", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8", " 10.0.0.0/8", "10.0.0.0/1000",
                     "fe80::1%eth0/64", "::ffff:10.0.0.0/104", "localhost/32"] {
            #expect(CIDR(text) == nil, "\"\(text)\" must not parse")
        }
    }
}
