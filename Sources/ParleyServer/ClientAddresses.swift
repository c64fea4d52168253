import NIOCore
import ParleyCore

/// An IP address as its bytes, for prefix matching and per-address counting: 4 for IPv4 (IPv4-mapped IPv6
/// addresses become IPv4), 16 for IPv6. Parsed and written by `IPAddress`.
struct IPAddressBytes: Hashable, Sendable, CustomStringConvertible {
    let address: IPAddress
    let bytes: [UInt8]

    /// The standard text forms `IPAddress` reads (`192.0.2.1`, `2001:db8::1`); nil for anything else.
    init?(_ text: String) {
        guard var address = IPAddress(text) else { return nil }
        if case .v6(let g) = address, g[0..<5].allSatisfy({ $0 == 0 }), g[5] == 0xFFFF {
            address = .v4(UInt32(g[6]) << 16 | UInt32(g[7]))
        }
        self.address = address
        switch address {
        case .v4(let value): bytes = [24, 16, 8, 0].map { UInt8((value >> UInt32($0)) & 0xFF) }
        case .v6(let groups): bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        }
    }

    init?(_ address: SocketAddress?) {
        guard let text = address?.ipAddress else { return nil }
        self.init(text)
    }

    var isIPv4: Bool { bytes.count == 4 }

    /// What limits count per: the address itself for IPv4, its /64 for IPv6 (one host is given a whole /64).
    var limitKey: String {
        guard case .v6(let groups) = address else { return description }
        return groups[0..<4].map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }

    var description: String { address.description }
}

/// A CIDR range (`10.0.0.0/8`, `2001:db8::/32`, or one address).
struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    let network: IPAddressBytes
    let prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let network = IPAddressBytes(parts[0]) else { return nil }
        let bits = network.bytes.count * 8
        // An IPv4-mapped range (`::ffff:10.0.0.0/104`) counts its prefix over the IPv4 part.
        var prefix = bits
        if parts.count == 2 {
            guard let given = Int(parts[1]), given >= 0 else { return nil }
            prefix = parts[0].contains(":") && network.isIPv4 ? given - 96 : given
            guard prefix >= 0, prefix <= bits else { return nil }
        }
        self.network = network
        self.prefix = prefix
    }

    func contains(_ address: IPAddressBytes) -> Bool {
        guard address.bytes.count == network.bytes.count else { return false }
        var remaining = prefix
        for (a, b) in zip(address.bytes, network.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if a & mask != b & mask { return false }
            remaining -= 8
        }
        return true
    }

    var description: String { "\(network)/\(prefix)" }
}

/// Who a request comes from. Behind a reverse proxy every request's peer is the proxy: the real client is
/// the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy, believed only when the peer is
/// one of `trustedProxies` (`--trusted-proxy CIDR`); from anyone else the header is ignored, since a client
/// can write whatever it likes there.
struct ClientAddresses: Sendable {
    let trustedProxies: [AddressRange]

    func isTrustedProxy(_ address: IPAddressBytes) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }

    /// The client's address as limits count it ("local" when there is no socket, as in router tests).
    /// `forwardedFor` is read only when the peer is a trusted proxy; an IPv4 peer without proxies configured
    /// (the common case, on every request) is its own text, parsed no further.
    func client(peer: SocketAddress?, forwardedFor: @autoclosure () -> [String]) -> String {
        if trustedProxies.isEmpty, case .v4? = peer, let text = peer?.ipAddress { return text }
        guard let peerAddress = IPAddressBytes(peer) else { return peer?.ipAddress ?? "local" }
        guard isTrustedProxy(peerAddress) else { return peerAddress.limitKey }
        let hops = forwardedFor().flatMap { $0.split(separator: ",") }.map { String($0).trimmed }
        for hop in hops.reversed() {
            guard let address = IPAddressBytes(hop) else { return peerAddress.limitKey }
            if !isTrustedProxy(address) { return address.limitKey }
        }
        return peerAddress.limitKey
    }
}
