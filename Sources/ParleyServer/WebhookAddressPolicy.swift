#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import ParleyCore

/// Where webhooks may be delivered (issue 15, item 7): to public addresses only, checked at `webhooks.create`
/// and again as each delivery pass starts (a retry, or new events), after resolving the host, unless the server runs with
/// `--allow-private-webhooks`. A delivery connects to the very address it checked (the HTTP client's DNS
/// override pins the name to it, TLS still verifying the name), so a resolver that changes its answer
/// between the check and the connection (DNS rebinding) is never asked again.
struct WebhookAddressPolicy: Sendable {
    var allowsPrivate: Bool
    /// Every address a name resolves to (`getaddrinfo`); tests may replace it.
    var resolve: @Sendable (String) async throws -> [IPAddress] = SystemResolver.addresses(of:)

    /// The target a new webhook's URL names; 400 `invalid_field` naming `url` when it is malformed or, unless
    /// allowed, not public.
    func checkNew(_ url: String) async throws -> WebhookTarget {
        do {
            return try await check(url).target
        } catch {
            let hint = !error.isNotPublic ? "" : " (a server started with --allow-private-webhooks accepts private targets)"
            throw APIError.invalidField("url", error.description + hint)
        }
    }

    /// The DNS override a delivery to `url` connects with: its host mapped to the address just checked.
    /// Empty when private targets are allowed (the client resolves the host itself).
    func connectionPin(for url: String) async throws(WebhookTarget.Refusal) -> [String: String] {
        let (target, address) = try await check(url)
        guard let address else { return [:] }
        var pin = [target.urlHost: address.description]
        // AsyncHTTPClient keys an IPv6 literal by its bracketed form.
        if target.urlHost.contains(":") { pin["[\(target.urlHost)]"] = address.description }
        return pin
    }

    /// Parses the URL and, unless private targets are allowed, checks its host: an address as written, a name
    /// by every address it resolves to now. Returns the address to connect to (nil when not checked).
    private func check(_ url: String) async throws(WebhookTarget.Refusal) -> (target: WebhookTarget, address: IPAddress?) {
        let target = try WebhookTarget(url: url)
        guard !allowsPrivate else { return (target, nil) }
        if let refusal = target.refusalAsWritten { throw refusal }
        switch target.host {
        case .address(let address):
            return (target, address)
        case .name(let name):
            let addresses: [IPAddress]
            do {
                addresses = try await resolve(name)
            } catch {
                throw WebhookTarget.Refusal("\(target.urlHost) does not resolve (\(error))")
            }
            if let refusal = target.refusal(resolved: addresses) { throw refusal }
            return (target, addresses[0])
        }
    }
}

/// The system resolver, as the HTTP client would use it: `getaddrinfo`, off the cooperative threads (on
/// Dispatch's global queue, which adds threads while some block, so one slow name holds up no other lookup).
enum SystemResolver {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Every address `host` resolves to, in the resolver's order of preference, without repeats.
    static func addresses(of host: String) async throws -> [IPAddress] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try lookup(host) }) }
        }
    }

    /// `numericOnly`: read the host as an address only, never asking DNS (`AI_NUMERICHOST`).
    static func lookup(_ host: String, numericOnly: Bool = false) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        if numericOnly { hints.ai_flags = AI_NUMERICHOST }
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else { throw Failure(description: String(cString: gai_strerror(status))) }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            let family = current.pointee.ai_family
            if family == AF_INET || family == AF_INET6, let socketAddress = current.pointee.ai_addr {
                // Fail closed: an address that cannot be read is not taken for a public one.
                guard let address = numericAddress(socketAddress, length: current.pointee.ai_addrlen) else {
                    throw Failure(description: "an address of \(host) could not be read")
                }
                if !addresses.contains(address) { addresses.append(address) }
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }

    /// The address in text (`getnameinfo` with `NI_NUMERICHOST`: no lookup), without an IPv6 zone.
    private static func numericAddress(_ socketAddress: UnsafeMutablePointer<sockaddr>, length: socklen_t) -> IPAddress? {
        var text = [CChar](repeating: 0, count: 64)
        guard getnameinfo(socketAddress, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        let numeric = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return IPAddress(numeric.split(separator: "%", maxSplits: 1).first ?? "")
    }
}
