/// An IP address, version 4 or 6, and what kind of network it belongs to: whether a server on the public
/// internet may be asked to connect to it (issue 15, item 7: webhooks must not reach the server's own
/// loopback, its cloud's metadata service or the private network behind it).
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    /// Eight 16-bit groups, most significant first.
    case v6([UInt16])

    /// What an address is for; only `global` addresses are public.
    public enum Kind: String, Sendable {
        case global = "public"
        /// `0.0.0.0/8` and `::`: "this host", which connects to the host itself.
        case unspecified
        case loopback
        case linkLocal = "link-local"
        /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), unique local `fc00::/7`, site-local `fec0::/10`.
        case privateNetwork = "private"
        /// `100.64/10`, carrier-grade NAT.
        case sharedAddressSpace = "shared (carrier-grade NAT)"
        case multicast
        case broadcast
        /// Documentation, benchmarking, protocol assignments, future use, anything outside IPv6's global unicast.
        case reserved
    }

    // MARK: Kinds

    public var isPublic: Bool { kind == .global }

    public var kind: Kind {
        switch self {
        case .v4(let address): return Self.kind(ofV4: address)
        case .v6(let groups): return Self.kind(ofV6: groups)
        }
    }

    /// IANA's IPv4 special-purpose registry, most specific first where ranges nest.
    private static let v4Ranges: [(prefix: UInt32, length: Int, kind: Kind)] = [
        (0x0000_0000, 8, .unspecified),          // 0.0.0.0/8 "this network"
        (0x0A00_0000, 8, .privateNetwork),       // 10/8
        (0x6440_0000, 10, .sharedAddressSpace),  // 100.64/10
        (0x7F00_0000, 8, .loopback),             // 127/8
        (0xA9FE_0000, 16, .linkLocal),           // 169.254/16 (cloud metadata services live here)
        (0xAC10_0000, 12, .privateNetwork),      // 172.16/12
        (0xC000_0000, 24, .reserved),            // 192.0.0/24 protocol assignments
        (0xC000_0200, 24, .reserved),            // 192.0.2/24 documentation
        (0xC058_6300, 24, .reserved),            // 192.88.99/24 6to4 relays
        (0xC0A8_0000, 16, .privateNetwork),      // 192.168/16
        (0xC612_0000, 15, .reserved),            // 198.18/15 benchmarking
        (0xC633_6400, 24, .reserved),            // 198.51.100/24 documentation
        (0xCB00_7100, 24, .reserved),            // 203.0.113/24 documentation
        (0xE000_0000, 4, .multicast),            // 224/4
        (0xFFFF_FFFF, 32, .broadcast),           // 255.255.255.255
        (0xF000_0000, 4, .reserved),             // 240/4
    ]

    private static func kind(ofV4 address: UInt32) -> Kind {
        for range in v4Ranges {
            let mask: UInt32 = range.length == 0 ? 0 : ~0 << (32 - range.length)
            if address & mask == range.prefix { return range.kind }
        }
        return .global
    }

    private static func kind(ofV6 g: [UInt16]) -> Kind {
        let embeddedV4 = UInt32(g[6]) << 16 | UInt32(g[7])
        if g[0..<5].allSatisfy({ $0 == 0 }) {
            if g[5] == 0xFFFF { return kind(ofV4: embeddedV4) }  // ::ffff:a.b.c.d, IPv4-mapped
            if g[5] == 0 {
                if g[6] == 0 && g[7] == 0 { return .unspecified }
                if g[6] == 0 && g[7] == 1 { return .loopback }
            }
            return .reserved  // IPv4-compatible (deprecated) and the rest of ::/80
        }
        if g[0] == 0x64 && g[1] == 0xFF9B {
            // NAT64: the well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address; 64:ff9b:1::/48 is local.
            if g[2...5].allSatisfy({ $0 == 0 }) { return kind(ofV4: embeddedV4) }
            if g[2] == 1 { return .privateNetwork }
        }
        if g[0] & 0xFE00 == 0xFC00 { return .privateNetwork }  // fc00::/7 unique local
        if g[0] & 0xFFC0 == 0xFE80 { return .linkLocal }       // fe80::/10
        if g[0] & 0xFFC0 == 0xFEC0 { return .privateNetwork }  // fec0::/10 site-local (deprecated)
        if g[0] & 0xFF00 == 0xFF00 { return .multicast }       // ff00::/8
        guard g[0] & 0xE000 == 0x2000 else { return .reserved } // only 2000::/3 is global unicast
        if g[0] == 0x2001 && g[1] < 0x0200 { return .reserved } // 2001::/23 protocol assignments (Teredo, ORCHID …)
        if g[0] == 0x2001 && g[1] == 0x0DB8 { return .reserved } // 2001:db8::/32 documentation
        if g[0] == 0x2002 { return kind(ofV4: UInt32(g[1]) << 16 | UInt32(g[2])) } // 6to4 reaches the embedded address
        if g[0] == 0x3FFF && g[1] & 0xF000 == 0 { return .reserved } // 3fff::/20 documentation
        return .global
    }

    // MARK: Text

    /// Dotted decimal, or RFC 5952's IPv6 form (lowercase, the longest run of zero groups as `::`,
    /// `::ffff:a.b.c.d` for IPv4-mapped addresses).
    public var description: String {
        switch self {
        case .v4(let address):
            return [24, 16, 8, 0].map { String((address >> UInt32($0)) & 0xFF) }.joined(separator: ".")
        case .v6(let g):
            if g[0..<5].allSatisfy({ $0 == 0 }) && g[5] == 0xFFFF {
                return "::ffff:" + IPAddress.v4(UInt32(g[6]) << 16 | UInt32(g[7])).description
            }
            var best = (start: -1, length: 0)
            var index = 0
            while index < 8 {
                var end = index
                while end < 8 && g[end] == 0 { end += 1 }
                if end - index > best.length { best = (index, end - index) }
                index = end == index ? index + 1 : end
            }
            let hex = g.map { String($0, radix: 16) }
            guard best.length >= 2 else { return hex.joined(separator: ":") }
            return hex[..<best.start].joined(separator: ":") + "::" + hex[(best.start + best.length)...].joined(separator: ":")
        }
    }

    /// An address in its standard text form: four decimal parts (no leading zeros, as `inet_pton` reads
    /// them), or an IPv6 address (with an optional dotted IPv4 tail; no zone).
    public init?(_ text: some StringProtocol) {
        let text = String(text)
        if text.contains(":") {
            guard let groups = Self.parseV6(text) else { return nil }
            self = .v6(groups)
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var address: UInt32 = 0
            for part in parts {
                guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit),
                      part == "0" || !part.hasPrefix("0"), let value = UInt32(part), value <= 255 else { return nil }
                address = address << 8 | value
            }
            self = .v4(address)
        }
    }

    /// A URL host that is a number the way resolvers (`inet_aton`, and WHATWG URL parsing) read IPv4:
    /// one to four parts, each decimal, octal (a leading `0`) or hexadecimal (`0x`), the last filling the
    /// remaining bytes, so `2130706433`, `127.1`, `0x7f.1` and `0177.0.0.1` are all 127.0.0.1. Nil for text
    /// that is not such a number, or overflows.
    public init?(resolverIPv4 text: some StringProtocol) {
        var parts = String(text).split(separator: ".", omittingEmptySubsequences: false)
        if parts.count > 1, parts.last?.isEmpty == true { parts.removeLast() }  // one trailing dot, as in "127.1."
        guard (1...4).contains(parts.count) else { return nil }
        var numbers: [UInt64] = []
        for part in parts {
            guard let number = Self.resolverNumber(part) else { return nil }
            numbers.append(number)
        }
        let last = numbers.removeLast()
        guard numbers.allSatisfy({ $0 <= 255 }), last < UInt64(1) << (8 * (4 - numbers.count)) else { return nil }
        var address = last
        for (index, number) in numbers.enumerated() { address |= number << (8 * (3 - index)) }
        self = .v4(UInt32(address))
    }

    /// One part of a resolver-style IPv4 number: `0x…` hexadecimal, `0…` octal, otherwise decimal.
    static func resolverNumber(_ part: Substring) -> UInt64? {
        guard !part.isEmpty, part.count <= 40 else { return nil }
        var digits = part
        var radix = 10
        if part.count >= 2, part.hasPrefix("0x") || part.hasPrefix("0X") {
            digits = part.dropFirst(2)
            radix = 16
            if digits.isEmpty { return 0 }  // WHATWG reads "0x" as 0
        } else if part.count >= 2, part.hasPrefix("0") {
            digits = part.dropFirst()
            radix = 8
        }
        guard digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return nil }
        guard let value = UInt64(digits, radix: radix), value <= UInt64(UInt32.max) else { return nil }
        return value
    }

    private static func parseV6(_ text: String) -> [UInt16]? {
        guard text.count <= 45 else { return nil }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var tail: [UInt16] = []
            if allowV4Tail, let last = pieces.last, last.contains(".") {
                guard case .v4(let address)? = IPAddress(last) else { return nil }
                tail = [UInt16(address >> 16), UInt16(address & 0xFFFF)]
                pieces.removeLast()
            }
            var result: [UInt16] = []
            for piece in pieces {
                guard (1...4).contains(piece.count), piece.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                      let value = UInt16(piece, radix: 16) else { return nil }
                result.append(value)
            }
            return result + tail
        }
        if halves.count == 1 {
            guard let all = groups(text, allowV4Tail: true), all.count == 8 else { return nil }
            return all
        }
        guard let head = groups(halves[0], allowV4Tail: false), let tail = groups(halves[1], allowV4Tail: true),
              head.count + tail.count <= 7 else { return nil }
        return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
