import AsyncHTTPClient
import Crypto
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Renders outbox events in DevRev's webhook shape.
struct EventRenderer: Sendable {
    let store: any ParleyStore

    /// `{id, type, timestamp, <type>: {conversation, old_conversation?} | {entry}}`, as agents see it.
    func payload(_ event: OutboxEvent, webhook: ObjectID? = nil, for viewer: Caller) async throws -> JSONValue {
        var wanted = References.Wanted()
        wanted.add(event.conversation)
        if let old = event.oldConversation { wanted.add(old) }
        if let entry = event.entry { wanted.add(entry.author) }
        let wire = Wire(references: try await References.load(wanted, from: store))
        var detail: [String: JSONValue] = ["conversation": wire.conversation(event.conversation, for: viewer)]
        if let old = event.oldConversation { detail["old_conversation"] = wire.conversation(old, for: viewer) }
        if let entry = event.entry { detail["entry"] = wire.timelineEntry(entry) }
        var body: [String: JSONValue] = [
            "id": .string("don:integration:dvrv-us-1:\(ObjectID.devOrg):webhook_event/\(event.sequence)"),
            "type": .string(event.kind.rawValue),
            "timestamp": .string(Timestamp.format(event.at)),
            event.kind.rawValue: .object(detail),
        ]
        if let webhook { body["webhook_id"] = .string(webhook.don) }
        return .object(body)
    }

    /// Whether `viewer` may see this event: agents see all but private notes of others; customers see
    /// events of their own conversations, without notes.
    static func isVisible(_ event: OutboxEvent, to viewer: Caller) -> Bool {
        if let entry = event.entry, !entry.isVisible(to: viewer.actor) { return false }
        return viewer.isAgent || event.conversation.isMember(viewer.actor) && !(event.conversation.stage == .suspended)
    }
}

/// Lets one task at a time through (FIFO), across suspension points, unlike an actor.
actor SerialGate {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}

/// Delivers the outbox to webhooks: in order, at least once, signed (`X-Parley-Signature: sha256=<hex>` of
/// `<timestamp>.<body>` with the webhook's secret), retrying with backoff. Each webhook's position is stored,
/// so a restart resumes where delivery stopped.
final class WebhookDelivery: Service, Sendable {
    let app: ParleyApp
    var store: any ParleyStore { app.store }
    let clock: any ParleyClock
    let client: HTTPClient
    let logger: Logger
    /// One delivery pass at a time (the background loop and `test-clock.advance` both deliver).
    private let gate = SerialGate()

    init(app: ParleyApp, clock: any ParleyClock, logger: Logger) {
        self.app = app
        self.clock = clock
        self.client = HTTPClient(eventLoopGroupProvider: .singleton)
        self.logger = logger
    }

    static func signature(secret: String, timestamp: String, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + TokenSecret.hex(Array(mac))
    }

    /// The earliest time a webhook waits to retry, if one does.
    func nextRetry() async throws -> Date? {
        try await allWebhooks().compactMap(\.nextAttemptAt).min()
    }

    private func allWebhooks() async throws -> [Webhook] {
        var query = DirectoryQuery()
        query.page.limit = 100
        return try await store.list(Webhook.self, query: query).items
    }

    /// Delivers whatever each webhook is due to receive at `now`; returns the number of successful deliveries.
    @discardableResult
    func deliverDue(at now: Date) async throws -> Int {
        try await gate.run { try await self.deliverPass(at: now) }
    }

    private func deliverPass(at now: Date) async throws -> Int {
        var delivered = 0
        let renderer = EventRenderer(store: store)
        for var webhook in try await allWebhooks() {
            if let next = webhook.nextAttemptAt, next > now { continue }
            while true {
                let events = try await store.outbox(after: webhook.cursor, limit: 50)
                if events.isEmpty { break }
                var failed = false
                for event in events {
                    if webhook.eventTypes.contains(event.kind.rawValue) {
                        let body = try await renderer.payload(event, webhook: webhook.id,
                                                              for: Caller(actor: .system, role: .admin)).serialized
                        if let error = await post(body, to: webhook) {
                            webhook.failures += 1
                            webhook.nextAttemptAt = now + Webhook.retryDelay(after: webhook.failures)
                            webhook.lastError = error
                            failed = true
                            break
                        }
                        delivered += 1
                    }
                    webhook.cursor = event.sequence
                    webhook.failures = 0
                    webhook.nextAttemptAt = nil
                    webhook.lastError = nil
                }
                let state = webhook
                webhook = try await app.update(Webhook.self, number: webhook.number, actor: .system, at: now) { stored in
                    var stored = stored
                    stored.cursor = state.cursor
                    stored.failures = state.failures
                    stored.nextAttemptAt = state.nextAttemptAt
                    stored.lastError = state.lastError
                    return stored
                }
                if failed { break }
            }
        }
        return delivered
    }

    /// Posts one event; returns an error description, or nil when the receiver answered 2xx.
    private func post(_ body: String, to webhook: Webhook) async -> String? {
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        let timestamp = String(Int(clock.now().timeIntervalSince1970))
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Parley-Timestamp", value: timestamp)
        request.headers.add(name: "X-Parley-Signature", value: Self.signature(secret: webhook.secret, timestamp: timestamp, body: body))
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (200..<300).contains(response.status.code) ? nil : "HTTP \(response.status.code)"
        } catch {
            return String(describing: error)
        }
    }

    private let isShutDown = Synchronization.Mutex(false)

    /// Shuts the HTTP client down once, whoever asks first (the service at shutdown, or `close()`).
    func shutdown() async throws {
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        if first { try await client.shutdown() }
    }

    /// Polls the outbox four times a second. Retries wait on the server's clock, so with the test clock they
    /// happen as `test-clock.advance` passes their time.
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                do { try await self.deliverDue(at: self.clock.now()) } catch {
                    self.logger.warning("webhook delivery: \(String(describing: error))")
                }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        try await shutdown()
    }
}
