import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ParleyCore
@testable import ParleyServer
import Testing

/// Who a request comes from (issue 15, items 1 and 5): addresses and ranges as pure values, and
/// `X-Forwarded-For` believed from a trusted proxy only, through a real socket.
@Suite("Client addresses")
struct ClientAddressTests {
    @Test("addresses parse as their bytes; IPv4-mapped IPv6 is IPv4; IPv6 limits count per /64")
    func addresses() throws {
        #expect(IPAddressBytes("192.0.2.7")?.bytes == [192, 0, 2, 7])
        #expect(IPAddressBytes("::ffff:192.0.2.7") == IPAddressBytes("192.0.2.7"))
        #expect(IPAddressBytes("2001:db8::1")?.bytes.count == 16)
        #expect(IPAddressBytes("2001:db8::1")?.limitKey == IPAddressBytes("2001:db8::ffff:2")?.limitKey)
        #expect(IPAddressBytes("2001:db8:0:1::1")?.limitKey != IPAddressBytes("2001:db8::1")?.limitKey)
        #expect(IPAddressBytes("192.0.2.7")?.limitKey == "192.0.2.7")
        for bad in ["", "localhost", "192.0.2", "1.2.3.4.5", "::g", "203.0.113.5, 10.0.0.1"] {
            #expect(IPAddressBytes(bad) == nil, "\(bad)")
        }
    }

    @Test("CIDR ranges contain what they should")
    func ranges() throws {
        let ten = try #require(AddressRange("10.0.0.0/8"))
        #expect(ten.contains(try #require(IPAddressBytes("10.200.3.4"))))
        #expect(!ten.contains(try #require(IPAddressBytes("11.0.0.1"))))
        #expect(!ten.contains(try #require(IPAddressBytes("2001:db8::1"))))
        let odd = try #require(AddressRange("172.16.0.0/12"))
        #expect(odd.contains(try #require(IPAddressBytes("172.31.255.255"))))
        #expect(!odd.contains(try #require(IPAddressBytes("172.32.0.0"))))
        let one = try #require(AddressRange("127.0.0.1"))
        let (local1, local2) = (try #require(IPAddressBytes("127.0.0.1")), try #require(IPAddressBytes("127.0.0.2")))
        #expect(one.contains(local1) && !one.contains(local2))
        let six = try #require(AddressRange("2001:db8::/32"))
        #expect(six.contains(try #require(IPAddressBytes("2001:db8:ffff::1"))))
        let mapped = try #require(IPAddressBytes("10.9.9.9"))
        #expect(AddressRange("::ffff:10.0.0.0/104")?.contains(mapped) == true)
        for bad in ["10.0.0.0/33", "10.0.0.0/-1", "nonsense/8", "10.0.0.0/x"] { #expect(AddressRange(bad) == nil, "\(bad)") }
    }

    @Test("X-Forwarded-For is believed only from a trusted proxy: the rightmost hop that is not one")
    func forwarded() throws {
        let proxy = try SocketAddress(ipAddress: "10.0.0.2", port: 40000)
        let stranger = try SocketAddress(ipAddress: "198.51.100.9", port: 40000)
        let addresses = ClientAddresses(trustedProxies: [try #require(AddressRange("10.0.0.0/8"))])
        #expect(addresses.client(peer: proxy, forwardedFor: ["203.0.113.5"]) == "203.0.113.5")
        #expect(addresses.client(peer: proxy, forwardedFor: ["1.1.1.1, 203.0.113.5, 10.0.0.7"]) == "203.0.113.5",
                "what the client wrote itself (1.1.1.1) is not believed")
        #expect(addresses.client(peer: proxy, forwardedFor: []) == "10.0.0.2")
        #expect(addresses.client(peer: proxy, forwardedFor: ["garbage"]) == "10.0.0.2")
        #expect(addresses.client(peer: stranger, forwardedFor: ["203.0.113.5"]) == "198.51.100.9", "not a proxy: ignored")
    }

    @Test("behind a trusted proxy, failed authentications count per forwarded client; from anyone else the header is ignored")
    func proxiedLimits() async throws {
        for trusted in [true, false] {
            let path = temporaryDatabase()
            defer { removeDatabase(at: path) }
            var configuration = AppConfiguration(databasePath: path, adminToken: "test-admin-token",
                                                 logLevel: .warning)
            configuration.port = 0
            configuration.rateLimits = RateLimitPolicy(failedAuthentications: 2)
            configuration.trustedProxies = trusted ? ["127.0.0.1/32", "::1"] : []
            let server = try await buildApplication(configuration)
            try await server.application.test(.live) { client in
                func guess(from forwarded: String) async throws -> HTTPResponse.Status {
                    try await client.execute(uri: "/dev-users.self", method: .get,
                                             headers: [.authorization: "Bearer guess", HTTPField.Name("X-Forwarded-For")!: forwarded]) { $0.status }
                }
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<3 { statuses.append(try await guess(from: "203.0.113.5")) }
                #expect(statuses == [.unauthorized, .unauthorized, .tooManyRequests])
                // Another client behind the same proxy.
                let other = try await guess(from: "203.0.113.6")
                #expect(other == (trusted ? .unauthorized : .tooManyRequests))
            }
            try await server.close()
        }
    }
}
