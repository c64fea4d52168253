#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyApp
import ParleyCore
import ParleyJSON
@testable import ParleyServer
import Synchronization
import Testing

/// A receiver on loopback whose connections the kernel completes and nobody ever answers: a hanging webhook.
final class HangingReceiver: Sendable {
    let socket: Int32
    let port: Int

    init() throws {
        #if canImport(Darwin)
        let fd = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #else
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard fd >= 0, bound else { throw CancellationError() }
        socket = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    var url: String { "http://127.0.0.1:\(port)/hook" }

    func close() {
        #if canImport(Darwin)
        _ = Darwin.close(socket)
        #else
        _ = Glibc.close(socket)
        #endif
    }
}

/// Issue 15, item 7: webhooks reach public addresses only (unless allowed), never follow a redirect, and
/// each delivers on its own, so a hanging receiver delays no other.
@Suite("Webhooks: targets, redirects, independence")
struct WebhookTests {
    static let privateTargets = [
        "http://127.0.0.1:9/x", "http://localhost/", "http://2130706433/", "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/", "http://127.1/", "http://0.0.0.0/", "http://[::1]:9/", "http://10.0.0.1/hook",
        "http://192.168.1.1/", "http://[fd00::1]/",
    ]

    @Test("webhooks.create refuses loopback, link-local, private and unspecified targets unless the server allows them")
    func createRefusesPrivateTargets() async throws {
        try await withServer { api, _ in
            for url in Self.privateTargets {
                let reply = try await api.post("webhooks.create", #"{"url":"\#(url)"}"#, token: adminToken)
                #expect(reply.status == .badRequest, "\(url): \(reply.body)")
                #expect(reply.body["type"].string == "invalid_field" && reply.body["field_name"].string == "url", "\(url): \(reply.body)")
                #expect(reply.body["message"].string?.contains("public addresses only") == true, "\(url): \(reply.body)")
                #expect(reply.body["message"].string?.contains("--allow-private-webhooks") == true)
            }
            let malformed = try await api.post("webhooks.create", #"{"url":"http://1.2.3.4.5/"}"#, token: adminToken)
            #expect(malformed.status == .badRequest && malformed.body["field_name"].string == "url")
            #expect(try await api.post("webhooks.list", token: adminToken).body["webhooks"].array.isEmpty, "nothing was created")
        }
        try await withServer(allowPrivateWebhooks: true) { api, _ in
            for url in Self.privateTargets {
                let reply = try await api.post("webhooks.create", #"{"url":"\#(url)"}"#, token: adminToken)
                #expect(reply.status == .created, "\(url): \(reply.body)")
            }
            #expect(try await api.post("webhooks.create", #"{"url":"ftp://x"}"#, token: adminToken).status == .badRequest)
        }
    }

    @Test("a webhook stored with a private target is refused at delivery by a server that does not allow it")
    func deliveryRechecksTarget() async throws {
        let path = temporaryDatabase()
        defer { removeDatabase(at: path) }
        let clock = ManualClock(Date(timeIntervalSince1970: 1_750_000_000))
        let receiver = WebhookReceiver()
        try await receiver.run { port in
            try await withServer(path: path, clock: clock, testClock: true, allowPrivateWebhooks: true) { api, _ in
                for url in ["http://127.0.0.1:\(port)/hook", "http://localhost:\(port)/hook"] {
                    let reply = try await api.post("webhooks.create", #"{"url":"\#(url)"}"#, token: adminToken)
                    #expect(reply.status == .created, "\(reply.body)")
                }
            }
            try await withServer(path: path, clock: clock, testClock: true) { api, _ in
                let world = try await World.make(api)
                _ = try await api.conversation(world.aliceToken)
                _ = try await api.post("test-clock.advance", #"{"seconds":0}"#, token: adminToken)
                for hook in try await api.post("webhooks.list", token: adminToken).body["webhooks"].array {
                    #expect(hook["failures"].int == 1, "\(hook)")
                    #expect(hook["last_error"].string?.contains("public addresses only") == true, "\(hook)")
                }
            }
        }
        #expect(receiver.attempts.withLock { $0 } == 0, "nothing reached the loopback receiver")
    }

    @Test("a redirect is a failed delivery, never followed", arguments: [HTTPResponse.Status.found, .temporaryRedirect])
    func redirectsAreNotFollowed(status: HTTPResponse.Status) async throws {
        let target = WebhookReceiver()
        try await target.run { _ in
            let redirecting = WebhookReceiver(redirect: (status, target.url))
            try await redirecting.run { _ in
                try await withServer(testClock: true, allowPrivateWebhooks: true) { api, _ in
                    let world = try await World.make(api)
                    let created = try await api.post("webhooks.create", #"{"url":"\#(redirecting.url)"}"#, token: adminToken)
                    #expect(created.status == .created)
                    _ = try await api.conversation(world.aliceToken)
                    _ = try await api.post("test-clock.advance", #"{"seconds":0}"#, token: adminToken)
                    let hook = try await api.post("webhooks.list", token: adminToken).body["webhooks"][0]
                    #expect(hook["failures"].int == 1, "\(hook)")
                    #expect(hook["last_error"].string == "HTTP \(status.code) (redirects are not followed)", "\(hook)")
                }
            }
            #expect(redirecting.attempts.withLock { $0 } == 1)
        }
        #expect(target.attempts.withLock { $0 } == 0, "the redirect's target got nothing")
    }

    @Test("a hanging receiver delays neither another webhook's delivery nor a failing one's retries (1 s, then 2 s)")
    func hangingReceiverDelaysNoOther() async throws {
        let hanging = try HangingReceiver()
        defer { hanging.close() }
        let healthy = WebhookReceiver()
        let failing = WebhookReceiver(failures: 2)
        try await healthy.run { _ in
            try await failing.run { _ in
                try await withServer(realClock: true, allowPrivateWebhooks: true) { api, _ in
                    let world = try await World.make(api)
                    // The hanging one first: a server delivering one webhook at a time reaches it first.
                    for url in [hanging.url, healthy.url, failing.url] {
                        let created = try await api.post("webhooks.create", #"{"url":"\#(url)","event_types":["conversation_created"]}"#,
                                                         token: adminToken)
                        #expect(created.status == .created, "\(created.body)")
                    }
                    let start = Date()
                    _ = try await api.conversation(world.aliceToken)
                    while healthy.received.withLock({ $0.isEmpty }), Date().timeIntervalSince(start) < 6 {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    let healthyAfter = healthy.attemptTimes.withLock { $0.first }.map { $0.timeIntervalSince(start) }
                    #expect(healthy.received.withLock { $0.count } == 1, "the healthy webhook got its event")
                    #expect(healthyAfter.map { $0 < 3 } == true, "delivered after \(healthyAfter ?? -1) s, not after the hanging one's 10 s")
                    let stuck = try await api.post("webhooks.list", token: adminToken).body["webhooks"][0]
                    #expect(stuck["url"].string == hanging.url)
                    #expect(stuck["failures"].int == 0 && stuck["last_error"].isNull, "the hanging one is still waiting: \(stuck)")
                    while failing.received.withLock({ $0.isEmpty }), Date().timeIntervalSince(start) < 8 {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
            }
        }
        let times = failing.attemptTimes.withLock { $0 }
        #expect(times.count == 3, "two failures, then the delivery: \(times)")
        if times.count == 3 {
            let first = times[1].timeIntervalSince(times[0]), second = times[2].timeIntervalSince(times[1])
            // At their backoff (plus the 250 ms poll, and room for a loaded machine), not 10 s apart.
            #expect(first > 0.9 && first < 3, "first retry after \(first) s")
            #expect(second > 1.9 && second < 4, "second retry after \(second) s")
        }
    }
}

/// The address policy with a stand-in resolver: names are checked by every address they resolve to, and a
/// delivery connects to the address it checked.
@Suite("Webhooks: the address policy")
struct WebhookAddressPolicyTests {
    static func resolver(answers: [String: [[String]]]) -> @Sendable (String) async throws -> [IPAddress] {
        let calls = Mutex<[String: Int]>([:])
        return { name in
            guard let list = answers[name] else { throw SystemResolver.Failure(description: "Name or service not known") }
            let call = calls.withLock { calls in
                defer { calls[name, default: 0] += 1 }
                return calls[name, default: 0]
            }
            return list[min(call, list.count - 1)].compactMap { IPAddress($0) }
        }
    }

    static let policy = WebhookAddressPolicy(allowsPrivate: false, resolve: resolver(answers: [
        "hooks.example.com": [["93.184.216.34", "2606:2800:220:1::"]],
        "mixed.example.com": [["93.184.216.34", "10.0.0.7"]],
        "rebind.example.com": [["93.184.216.34"], ["127.0.0.1"]],
        "empty.example.com": [[]],
    ]))

    @Test("a name is accepted only if every address it resolves to is public")
    func names() async throws {
        let target = try await Self.policy.checkNew("https://hooks.example.com/parley")
        #expect(target.host == .name("hooks.example.com"))
        for url in ["https://mixed.example.com/", "https://localhost/", "http://api.localhost/"] {
            await #expect(performing: { try await Self.policy.checkNew(url) }, throws: { error in
                let error = error as? APIError
                return error?.fieldName == "url" && error?.type == "invalid_field" && error?.message.contains("--allow-private-webhooks") == true
            })
        }
        for url in ["https://unknown.example.com/", "https://empty.example.com/"] {
            await #expect(performing: { try await Self.policy.checkNew(url) }, throws: { error in
                let error = error as? APIError
                return error?.fieldName == "url" && error?.message.contains("resolve") == true
            })
        }
    }

    @Test("a delivery connects to the address it just checked; a name rebound to loopback is refused")
    func pinning() async throws {
        #expect(try await Self.policy.connectionPin(for: "https://hooks.example.com:8443/x") == ["hooks.example.com": "93.184.216.34"])
        #expect(try await Self.policy.connectionPin(for: "http://8.8.8.8/x") == ["8.8.8.8": "8.8.8.8"])
        #expect(try await Self.policy.connectionPin(for: "http://134744072/x") == ["134744072": "8.8.8.8"],
                "the decimal form connects to the address it names")
        let v6 = try await Self.policy.connectionPin(for: "http://[2606:4700:4700::1111]/x")
        #expect(v6.values.allSatisfy { $0 == "2606:4700:4700::1111" } && v6["[2606:4700:4700::1111]"] != nil)
        let first = try await Self.policy.connectionPin(for: "https://rebind.example.com/")
        #expect(first == ["rebind.example.com": "93.184.216.34"], "checked, and pinned to what was checked")
        await #expect(throws: WebhookTarget.Refusal.self, "the next delivery resolves again and sees loopback") {
            try await Self.policy.connectionPin(for: "https://rebind.example.com/")
        }
    }

    @Test("with --allow-private-webhooks, any well-formed target is accepted and the client resolves it itself")
    func allowed() async throws {
        let policy = WebhookAddressPolicy(allowsPrivate: true, resolve: Self.resolver(answers: [:]))
        #expect(try await policy.connectionPin(for: "http://localhost:9/x").isEmpty)
        _ = try await policy.checkNew("http://169.254.169.254/")
        await #expect(throws: APIError.self) { try await policy.checkNew("gopher://127.0.0.1/") }
    }

    @Test("the system resolver reads numeric hosts as the URL host parser does (no DNS: numeric hosts only)",
          arguments: ["127.0.0.1", "2130706433", "127.1", "0x7f.1", "0177.0.0.1", "0x7f000001", "10.1", "0", "::1", "::ffff:127.0.0.1"])
    func systemResolverAgrees(host: String) throws {
        let parsed = try WebhookTarget.parseHost(host)
        guard case .address(let address) = parsed else { Issue.record("\(host) is an address"); return }
        #expect(try SystemResolver.lookup(host, numericOnly: true) == [address], "\(host)")
    }

    @Test("localhost resolves to loopback (from the hosts file)")
    func systemResolverLocalhost() throws {
        let addresses = try SystemResolver.lookup("localhost")
        #expect(!addresses.isEmpty && addresses.allSatisfy { $0.kind == .loopback }, "\(addresses)")
    }
}
