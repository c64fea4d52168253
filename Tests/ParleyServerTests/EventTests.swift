import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyServer
import Synchronization
import Testing

/// A real HTTP server on loopback that fails its first `failures` requests (or answers every one with a
/// redirect), then records what it gets.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var method: HTTPRequest.Method
        var body: String
        var signature: String?
        var timestamp: String?
    }

    let received = Mutex<[Delivery]>([])
    let attempts = Mutex(0)
    /// When each request arrived.
    let attemptTimes = Mutex<[Date]>([])
    let port = Mutex(0)
    let failures: Int
    let redirect: (status: HTTPResponse.Status, location: String)?

    init(failures: Int = 0, redirect: (status: HTTPResponse.Status, location: String)? = nil) {
        self.failures = failures
        self.redirect = redirect
    }

    var url: String { "http://127.0.0.1:\(port.withLock { $0 })/hook" }

    private func respond(_ request: Request) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        let attempt = attempts.withLock { $0 += 1; return $0 }
        attemptTimes.withLock { $0.append(Date()) }
        if let redirect { return Response(status: redirect.status, headers: [.location: redirect.location]) }
        if attempt <= failures { return Response(status: .internalServerError) }
        received.withLock {
            $0.append(Delivery(method: request.method, body: String(buffer: buffer),
                               signature: request.headers[.init("X-Parley-Signature")!],
                               timestamp: request.headers[.init("X-Parley-Timestamp")!]))
        }
        return Response(status: .ok)
    }

    func run(until done: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("/hook") { request, _ in try await self.respond(request) }
        router.get("/hook") { request, _ in try await self.respond(request) }
        var logger = Logger(label: "receiver")
        logger.logLevel = .error
        let started = Mutex<CheckedContinuation<Int, Never>?>(nil)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in
                                  let port = channel.localAddress?.port ?? 0
                                  started.withLock { $0?.resume(returning: port); $0 = nil }
                              }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            let port = await withCheckedContinuation { continuation in started.withLock { $0 = continuation } }
            self.port.withLock { $0 = port }
            try await done(port)
            group.cancelAll()
        }
    }
}

@Suite("Events out: webhooks and server-sent events")
struct EventTests {
    @Test("a receiver that fails twice then succeeds gets every event, in order, signed")
    func webhooks() async throws {
        let receiver = WebhookReceiver(failures: 2)
        try await receiver.run { port in
            try await withServer(testClock: true, allowPrivateWebhooks: true) { api, _ in
                let world = try await World.make(api)
                let created = try await api.post("webhooks.create",
                    #"{"url":"http://127.0.0.1:\#(port)/hook","event_types":["conversation_created","conversation_updated","timeline_entry_created"],"secret":"s3cret"}"#,
                    token: adminToken)
                #expect(created.status == .created, "\(created.body)")
                #expect(created.body["webhook"]["secret"].string == "s3cret")
                #expect(try await api.post("webhooks.create", #"{"url":"ftp://x"}"#, token: adminToken).status == .badRequest)

                let id = try await api.conversation(world.aliceToken)
                _ = try await api.comment(world.agentToken, on: id, "On it")
                var rounds = 0
                while receiver.received.withLock({ $0.count }) < 4 && rounds < 10 {
                    _ = try await api.post("test-clock.advance", #"{"seconds":5}"#, token: adminToken)
                    rounds += 1
                }
                let list = try await api.post("webhooks.list", token: adminToken)
                #expect(list.body["webhooks"][0]["failures"].int == 0)
                #expect(list.body["webhooks"][0]["secret"].isNull, "the secret is shown once")
                // The latest attempts, newest first: the last ones delivered, the two failures before them.
                let attempts = list.body["webhooks"][0]["last_deliveries"].array
                #expect(attempts.count == 6, "\(list.body)")
                #expect(attempts.prefix(4).allSatisfy { $0["delivered"].bool == true && $0["outcome"].string == "delivered" })
                #expect(attempts.suffix(2).allSatisfy { $0["delivered"].bool == false && $0["outcome"].string == "HTTP 500" }, "\(attempts.map(\.value))")
            }
        }
        let deliveries = receiver.received.withLock { $0 }
        #expect(receiver.attempts.withLock { $0 } == deliveries.count + 2, "two failed attempts, then each event once")
        let types = deliveries.compactMap { delivery -> String? in
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(delivery.body.utf8)),
                  case .object(let fields) = value, case .string(let type)? = fields["type"] else { return nil }
            return type
        }
        // created (with its first message), then the reply: the entry and the stage change it caused.
        #expect(types == ["conversation_created", "timeline_entry_created", "conversation_updated", "timeline_entry_created"], "\(types)")
        for delivery in deliveries {
            let timestamp = try #require(delivery.timestamp)
            let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).\(delivery.body)".utf8), using: SymmetricKey(data: Array("s3cret".utf8)))
            #expect(delivery.signature == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
        }
        let sequences = deliveries.compactMap { delivery -> Int? in
            guard let range = delivery.body.firstRange(of: "webhook_event/") else { return nil }
            return Int(delivery.body[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(sequences == sequences.sorted(), "in order")
    }

    @Test("undelivered events survive a restart")
    func restart() async throws {
        let path = temporaryDatabase()
        defer { removeDatabase(at: path) }
        let clock = ManualClock(Date(timeIntervalSince1970: 1_750_000_000))
        let receiver = WebhookReceiver(failures: 1)
        try await receiver.run { port in
            try await withServer(path: path, clock: clock, testClock: true, allowPrivateWebhooks: true) { api, _ in
                let world = try await World.make(api)
                _ = try await api.post("webhooks.create", #"{"url":"http://127.0.0.1:\#(port)/hook","secret":"x"}"#, token: adminToken)
                _ = try await api.conversation(world.aliceToken, title: "Before the restart")
                _ = try await api.post("test-clock.advance", #"{"seconds":0}"#, token: adminToken)
                let hook = try await api.post("webhooks.list", token: adminToken).body["webhooks"][0]
                #expect(hook["failures"].int == 1, "the first attempt failed: the event is still pending")
            }
            #expect(receiver.received.withLock { $0.isEmpty })
            try await withServer(path: path, clock: clock, testClock: true, allowPrivateWebhooks: true) { api, _ in
                _ = try await api.post("test-clock.advance", #"{"seconds":10}"#, token: adminToken)
                let hook = try await api.post("webhooks.list", token: adminToken).body["webhooks"][0]
                #expect(hook["failures"].int == 0)
            }
        }
        let bodies = receiver.received.withLock { $0.map(\.body) }
        #expect(bodies.first?.contains("Before the restart") == true, "delivered after the restart: \(bodies.count)")
    }

    @Test("the event stream shows each caller what they may see")
    func stream() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            _ = try await api.comment(world.agentToken, on: id, "Private thoughts", visibility: "internal")
            _ = try await api.comment(world.agentToken, on: id, "Hello Alice")
            _ = try await api.conversation(world.carolToken)
            func stream(_ token: String) async throws -> String {
                try await api.client.execute(uri: "/events.stream?after=0&follow=false", method: .get,
                                             headers: [.authorization: "Bearer \(token)"]) { String(buffer: $0.body) }
            }
            let agent = try await stream(world.agentToken)
            #expect(agent.contains("event: conversation_created") && agent.contains("Private thoughts"))
            let alice = try await stream(world.aliceToken)
            #expect(alice.contains("Hello Alice"))
            #expect(!alice.contains("Private thoughts"), "notes never reach a customer")
            #expect(!alice.contains("Globex") && alice.components(separatedBy: "event: conversation_created").count == 2,
                    "only her own conversation")
            #expect(alice.contains("id: "))
        }
    }

    /// Issue 15, item 12: an internal note sent the customer a `conversation_updated` naming the agent and time.
    @Test("an agent's note does not show up in the customer's stream at all, not even as an update")
    func notesLeaveNoTraceForCustomers() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            func stream(_ token: String, after: Int) async throws -> String {
                // Streams share one read of the outbox within 50 ms: let the writes before this be read.
                try await Task.sleep(for: .milliseconds(120))
                return try await api.client.execute(uri: "/events.stream?after=\(after)&follow=false", method: .get,
                                             headers: [.authorization: "Bearer \(token)"]) { String(buffer: $0.body) }
            }
            let before = try await stream(adminToken, after: 0)
            let last = before.split(separator: "\n").filter { $0.hasPrefix("id: ") }.compactMap { Int($0.dropFirst(4)) }.max() ?? 0
            _ = try await api.comment(world.agentToken, on: id, "Escalate to billing", visibility: "internal")
            _ = try await api.comment(world.agentToken, on: id, "Mine only", visibility: "private")
            let agent = try await stream(world.agentToken, after: last)
            #expect(agent.contains("event: conversation_updated") || agent.contains("Escalate to billing"), "the team sees the note")
            let alice = try await stream(world.aliceToken, after: last)
            #expect(!alice.contains("event: "), "nothing for the customer: \(alice)")
            _ = try await api.comment(world.agentToken, on: id, "Hello Alice")
            #expect(try await stream(world.aliceToken, after: last).contains("Hello Alice"), "a public reply still arrives")
        }
    }

    @Test("events past the retention period are pruned on the server's clock; a stream resuming before them gets 410, never a gap")
    func retention() async throws {
        try await withServer(testClock: true) { api, _ in
            let world = try await World.make(api)
            func stream(after: Int) async throws -> (HTTPResponse.Status, String) {
                try await api.client.execute(uri: "/events.stream?after=\(after)&follow=false", method: .get,
                                             headers: [.authorization: "Bearer \(adminToken)"]) { ($0.status, String(buffer: $0.body)) }
            }
            _ = try await api.conversation(world.aliceToken, title: "Old news")
            _ = try await api.post("test-clock.advance", #"{"seconds":\#(6 * 86_400)}"#, token: adminToken)
            var (status, body) = try await stream(after: 0)
            #expect(status == .ok && body.contains("Old news"), "kept for seven days")
            _ = try await api.conversation(world.aliceToken, title: "Fresh news")
            _ = try await api.post("test-clock.advance", #"{"seconds":\#(2 * 86_400)}"#, token: adminToken)
            (status, body) = try await stream(after: 0)
            #expect(status == .gone, "resuming from before the horizon is refused, never a silent gap")
            let error = Doc(value: try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)))
            #expect(error["type"].string == "gone")
            let horizon = try #require(body.split(separator: " ").lazy.compactMap { Int($0) }.first)
            (status, body) = try await stream(after: horizon)
            let ids = body.split(separator: "\n").filter { $0.hasPrefix("id: ") }.compactMap { Int($0.dropFirst(4)) }
            #expect(status == .ok && body.contains("Fresh news"), "younger events are all still there")
            #expect(!ids.isEmpty && ids.allSatisfy { $0 > horizon } && ids == ids.sorted())
        }
    }
}
