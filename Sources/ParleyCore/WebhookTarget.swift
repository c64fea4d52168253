/// Where a webhook's URL points, read as the HTTP client reads it, and the rule for where Parley delivers:
/// to public addresses only (issue 15, item 7), unless the admin allows private ones. A host is either an IP
/// address, in any of the forms resolvers accept (`2130706433`, `127.1` and `0x7f.1` are 127.0.0.1), or a
/// DNS name, whose every resolved address must be public. `localhost` is refused as written.
public struct WebhookTarget: Sendable, Equatable {
    public enum Host: Sendable, Equatable {
        case address(IPAddress)
        /// A DNS name, lowercase, without a trailing dot.
        case name(String)
    }

    /// Why a target is refused, said for the admin who gave it.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        /// The target is well formed but not public (what `--allow-private-webhooks` would allow).
        public var isNotPublic: Bool
        public init(_ description: String, isNotPublic: Bool = false) {
            self.description = description
            self.isNotPublic = isNotPublic
        }
    }

    public var url: String
    /// The host exactly as Foundation's `URL` (AsyncHTTPClient's parser) reads it, IPv6 without brackets:
    /// the name the client connects to, so the one a delivery pins to its checked address.
    public var urlHost: String
    public var host: Host

    /// Parses an `http://` or `https://` URL with a host that is an IP address or a DNS name.
    public init(url: String) throws(Refusal) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.count > 8 else {
            throw Refusal("expected an http:// or https:// URL")
        }
        guard var host = parsed.host, !host.isEmpty else { throw Refusal("the URL has no host") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.url = url
        self.urlHost = host
        self.host = try Self.parseHost(host)
    }

    /// Reads a URL host as a resolver would. A host whose last label is a number (decimal, or `0x` hex) is an
    /// IPv4 address in one of `inet_aton`'s forms or nothing (as WHATWG URL parsing has it), so no spelling
    /// of an address passes for a name; anything else must be a DNS name (labels of letters, digits, `-`
    /// and `_`, at most 63 characters each, 253 in all).
    public static func parseHost(_ text: String) throws(Refusal) -> Host {
        let lower = text.lowercased()
        if lower.contains(":") {
            guard let address = IPAddress(lower), case .v6 = address else { throw Refusal("'\(text)' is not an IPv6 address") }
            return .address(address)
        }
        var name = lower
        if name.count > 1, name.hasSuffix(".") { name.removeLast() }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if let last = labels.last, endsInNumber(last) {
            guard let address = IPAddress(resolverIPv4: name) else { throw Refusal("'\(text)' is not a valid IPv4 address") }
            return .address(address)
        }
        guard name.utf8.count <= 253, labels.allSatisfy(isDNSLabel) else {
            throw Refusal("'\(text)' is neither a DNS name nor an IP address")
        }
        return .name(name)
    }

    private static func endsInNumber(_ label: Substring) -> Bool {
        if !label.isEmpty, label.allSatisfy(\.isASCIIDigit) { return true }
        return label.hasPrefix("0x") && label.dropFirst(2).allSatisfy { $0.isASCII && $0.isHexDigit }
    }

    private static func isDNSLabel(_ label: Substring) -> Bool {
        (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
            && label.utf8.allSatisfy { byte in
                (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x5F
            }
    }

    /// Refuses a host that is not public as written: an address that is not, or `localhost` and names under
    /// it, which resolvers answer with loopback without asking DNS (RFC 6761). Nil when the host is a public
    /// address, or a name to resolve and check with `refusal(resolved:)`.
    public var refusalAsWritten: Refusal? {
        switch host {
        case .address(let address):
            guard !address.isPublic else { return nil }
            let written = urlHost.lowercased() == address.description ? "" : "\(urlHost) is "
            return Self.notPublic(written + Self.describe(address))
        case .name(let name):
            guard name == "localhost" || name.hasSuffix(".localhost") else { return nil }
            return Self.notPublic("\(urlHost) is a loopback name")
        }
    }

    /// Refuses a name unless it resolved to at least one address and every one is public (a name with one
    /// private address among public ones could be sent to it).
    public func refusal(resolved addresses: [IPAddress]) -> Refusal? {
        guard !addresses.isEmpty else { return Refusal("\(urlHost) does not resolve to any address") }
        guard let other = addresses.first(where: { !$0.isPublic }) else { return nil }
        return Self.notPublic("\(urlHost) resolves to \(Self.describe(other))")
    }

    /// `127.0.0.1, a loopback address`
    private static func describe(_ address: IPAddress) -> String {
        let kind = address.kind
        let article = kind == .unspecified ? "an" : "a"
        return "\(address), \(article) \(kind.rawValue) address"
    }

    private static func notPublic(_ what: String) -> Refusal {
        Refusal("\(what); webhooks are delivered to public addresses only", isNotPublic: true)
    }
}
