import ParleyCore
import Testing

/// Issue 15, item 7: where webhooks may be delivered. Pure functions only: nothing here opens a connection.
@Suite("Webhook targets: addresses and hosts")
struct WebhookTargetTests {
    static func v4(_ text: String) -> IPAddress { IPAddress(text)! }

    @Test("IPv4 addresses are classified by IANA's special-purpose registry", arguments: [
        ("0.0.0.0", IPAddress.Kind.unspecified), ("0.1.2.3", .unspecified),
        ("127.0.0.1", .loopback), ("127.255.255.254", .loopback),
        ("10.0.0.1", .privateNetwork), ("10.255.255.255", .privateNetwork),
        ("172.16.0.1", .privateNetwork), ("172.31.255.255", .privateNetwork), ("172.15.255.255", .global), ("172.32.0.1", .global),
        ("192.168.0.1", .privateNetwork), ("192.169.0.1", .global),
        ("169.254.169.254", .linkLocal), ("169.254.0.1", .linkLocal), ("169.253.0.1", .global),
        ("100.64.0.1", .sharedAddressSpace), ("100.127.255.255", .sharedAddressSpace), ("100.63.255.255", .global), ("100.128.0.1", .global),
        ("224.0.0.1", .multicast), ("239.255.255.250", .multicast),
        ("255.255.255.255", .broadcast), ("240.0.0.1", .reserved), ("255.255.255.254", .reserved),
        ("192.0.2.1", .reserved), ("198.51.100.7", .reserved), ("203.0.113.9", .reserved), ("198.18.0.1", .reserved), ("198.19.255.255", .reserved),
        ("192.0.0.8", .reserved), ("192.88.99.1", .reserved),
        ("8.8.8.8", .global), ("1.1.1.1", .global), ("93.184.216.34", .global), ("223.255.255.255", .global),
    ])
    func v4Kinds(text: String, kind: IPAddress.Kind) {
        let address = Self.v4(text)
        #expect(address.kind == kind, "\(text)")
        #expect(address.isPublic == (kind == .global))
        #expect(address.description == text)
    }

    @Test("IPv6 addresses, including IPv4 inside them (mapped, NAT64, 6to4), are classified", arguments: [
        ("::", IPAddress.Kind.unspecified), ("::1", .loopback),
        ("::ffff:127.0.0.1", .loopback), ("::ffff:7f00:1", .loopback), ("::ffff:169.254.169.254", .linkLocal),
        ("::ffff:10.0.0.1", .privateNetwork), ("::ffff:0.0.0.0", .unspecified), ("::ffff:8.8.8.8", .global),
        ("::127.0.0.1", .reserved), ("::2", .reserved),
        ("64:ff9b::7f00:1", .loopback), ("64:ff9b::a9fe:a9fe", .linkLocal), ("64:ff9b::808:808", .global), ("64:ff9b:1::1", .privateNetwork),
        ("2002:7f00:1::1", .loopback), ("2002:a00:1::", .privateNetwork), ("2002:808:808::1", .global),
        ("fe80::1", .linkLocal), ("febf:ffff::1", .linkLocal), ("fec0::1", .privateNetwork),
        ("fc00::1", .privateNetwork), ("fd12:3456:789a::1", .privateNetwork),
        ("ff02::1", .multicast), ("ff05::1:3", .multicast),
        ("2001:db8::1", .reserved), ("2001::1", .reserved), ("2001:10::1", .reserved), ("3fff::1", .reserved), ("100::1", .reserved),
        ("4000::1", .reserved), ("e000::1", .reserved),
        ("2606:4700:4700::1111", .global), ("2001:4860:4860::8888", .global), ("2a00:1450:4001:80b::200e", .global),
    ])
    func v6Kinds(text: String, kind: IPAddress.Kind) throws {
        let address = try #require(IPAddress(text), "\(text)")
        #expect(address.kind == kind, "\(text)")
        #expect(address.isPublic == (kind == .global))
    }

    @Test("IPv6 text: parsed strictly, printed as RFC 5952 has it")
    func v6Text() {
        #expect(IPAddress("0:0:0:0:0:0:0:1") == IPAddress("::1"))
        #expect(IPAddress("0:0:0:0:0:0:0:1")?.description == "::1")
        #expect(IPAddress("2001:DB8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPAddress("::ffff:127.0.0.1")?.description == "::ffff:127.0.0.1")
        #expect(IPAddress("::FFFF:7F00:1")?.description == "::ffff:127.0.0.1")
        #expect(IPAddress("2606:4700:4700::1111")?.description == "2606:4700:4700::1111")
        #expect(IPAddress("1:0:2:0:3:0:4:0")?.description == "1:0:2:0:3:0:4:0")
        for bad in [":::", "1:::2", ":1::", "1::2::3", "12345::", "::g", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "::1.2.3",
                    "::256.0.0.1", "fe80::1%eth0", "::1.2.3.4:5", "1.2.3.4::", ""] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test("standard IPv4 text has four decimal parts without leading zeros")
    func v4Text() {
        for bad in ["127.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "1.2.3.4.5", "256.1.1.1", "1.2.3.", " 1.2.3.4", "1.2.3.-4"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test("URL hosts are read as resolvers read them: every spelling of an address is that address", arguments: [
        ("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("127.1", "127.0.0.1"), ("127.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"), ("0x7F.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("017700000001", "127.0.0.1"),
        ("0", "0.0.0.0"), ("0x", "0.0.0.0"), ("0.0", "0.0.0.0"), ("127.0.0.1.", "127.0.0.1"),
        ("169.254.43518", "169.254.169.254"), ("2852039166", "169.254.169.254"), ("0xa9fea9fe", "169.254.169.254"),
        ("10.1", "10.0.0.1"), ("167772161", "10.0.0.1"), ("134744072", "8.8.8.8"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"), ("[::1]", "::1"), ("::", "::"),
    ])
    func hostForms(host: String, address: String) throws {
        let text = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        #expect(try WebhookTarget.parseHost(text) == .address(try #require(IPAddress(address))), "\(host)")
    }

    @Test("a host that ends in a number must be an address; anything else must be a DNS name")
    func malformedHosts() throws {
        for bad in ["1.2.3.4.5", "256.0.0.1", "127.0.0.256", "4294967296", "08", "1.0x1000000", "1.2.3.0x100", "example.123",
                    "exa mple.com", "-bad.example", "bad-.example", "a..b", ".", "..", "ex%61mple.com", "exämple.com",
                    "fe80::1%25eth0", "1::2::3", String(repeating: "a", count: 64) + ".com"] {
            #expect(throws: WebhookTarget.Refusal.self, "\(bad)") { try WebhookTarget.parseHost(bad) }
        }
        #expect(try WebhookTarget.parseHost("Hooks.Example.COM.") == .name("hooks.example.com"))
        #expect(try WebhookTarget.parseHost("under_score.example") == .name("under_score.example"))
        #expect(try WebhookTarget.parseHost("1x.example") == .name("1x.example"))
        #expect(try WebhookTarget.parseHost("0x1g") == .name("0x1g"), "not a number: a name (it resolves, or not)")
    }

    @Test("the URLs of the issue are refused as written; public ones pass or wait for their name to resolve", arguments: [
        "http://127.0.0.1:9/x", "http://localhost/", "http://LOCALHOST./hook", "http://api.localhost:8080/",
        "http://2130706433/", "http://127.1/", "http://0.0.0.0:80/", "http://0/", "http://[::ffff:127.0.0.1]/",
        "http://[::1]:8080/hook", "http://[::]/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/",
        "http://172.20.1.1/", "http://192.168.1.10:8443/", "http://100.100.100.200/", "http://[fd00::1]/",
        "http://[fe80::1]/", "https://0x7f.1/", "http://user:pass@127.0.0.1/", "http://224.0.0.251/",
    ])
    func refusedAsWritten(url: String) throws {
        let target = try WebhookTarget(url: url)
        let refusal = try #require(target.refusalAsWritten, "\(url)")
        #expect(refusal.isNotPublic)
        #expect(refusal.description.contains("public addresses only"))
    }

    @Test("a refusal says what the host is")
    func refusalMessages() throws {
        #expect(try WebhookTarget(url: "http://127.0.0.1:9/x").refusalAsWritten?.description
                == "127.0.0.1, a loopback address; webhooks are delivered to public addresses only")
        #expect(try WebhookTarget(url: "http://2130706433/").refusalAsWritten?.description.hasPrefix("2130706433 is 127.0.0.1, a loopback address") == true)
        #expect(try WebhookTarget(url: "http://0.0.0.0/").refusalAsWritten?.description.hasPrefix("0.0.0.0, an unspecified address") == true)
        #expect(try WebhookTarget(url: "http://localhost:8080/").refusalAsWritten?.description.hasPrefix("localhost is a loopback name") == true)
    }

    @Test("public targets")
    func publicTargets() throws {
        #expect(try WebhookTarget(url: "https://8.8.8.8/hook").refusalAsWritten == nil)
        #expect(try WebhookTarget(url: "http://[2606:4700:4700::1111]:8080/x").refusalAsWritten == nil)
        let named = try WebhookTarget(url: "https://Hooks.Example.com/parley?x=1")
        #expect(named.host == .name("hooks.example.com"))
        #expect(named.urlHost.lowercased() == "hooks.example.com", "the host as the HTTP client reads it")
        #expect(named.refusalAsWritten == nil, "a name is checked once resolved")
    }

    @Test("a name is refused unless every address it resolves to is public")
    func resolvedNames() throws {
        let target = try WebhookTarget(url: "https://hooks.example.com/")
        #expect(target.refusal(resolved: [Self.v4("93.184.216.34")]) == nil)
        #expect(target.refusal(resolved: [Self.v4("93.184.216.34"), try #require(IPAddress("2606:2800:220:1::"))]) == nil)
        let mixed = try #require(target.refusal(resolved: [Self.v4("93.184.216.34"), Self.v4("127.0.0.1")]))
        #expect(mixed.isNotPublic && mixed.description.contains("127.0.0.1, a loopback address"), "\(mixed)")
        let metadata = try #require(target.refusal(resolved: [Self.v4("169.254.169.254")]))
        #expect(metadata.description.contains("link-local"))
        #expect(target.refusal(resolved: [try #require(IPAddress("::ffff:10.0.0.1"))])?.isNotPublic == true)
        let none = try #require(target.refusal(resolved: []))
        #expect(!none.isNotPublic, "no address: refused, but not as private")
    }

    @Test("malformed URLs are refused whatever the policy")
    func malformedURLs() {
        for bad in ["ftp://example.com/", "example.com", "http://", "http:///path", "https://exa mple.com/", "file:///etc/passwd",
                    "http://1.2.3.4.5/", "javascript:alert(1)", "http://[::1/"] {
            #expect(throws: WebhookTarget.Refusal.self, "\(bad)") { try WebhookTarget(url: bad) }
        }
    }
}
