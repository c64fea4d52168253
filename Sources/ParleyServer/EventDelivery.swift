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
        try await payloads([event], webhook: webhook, for: viewer)[0]
    }

    /// The payloads of `events`, with the names they mention read in one go (one read per batch, not per event).
    func payloads(_ events: [OutboxEvent], webhook: ObjectID? = nil, for viewer: Caller) async throws -> [JSONValue] {
        var wanted = References.Wanted()
        for event in events {
            wanted.add(event.conversation)
            if let old = event.oldConversation { wanted.add(old) }
            if let entry = event.entry { wanted.add(entry) }
        }
        let wire = Wire(references: try await References.load(wanted, from: store))
        return events.map { Self.payload($0, webhook: webhook, for: viewer, wire: wire) }
    }

    private static func payload(_ event: OutboxEvent, webhook: ObjectID?, for viewer: Caller, wire: Wire) -> JSONValue {
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

/// One webhook's deliveries. Its passes run one at a time, so its events go out in order; every webhook has
/// its own lane, so a receiver that hangs holds up only itself (issue 15, item 7). It keeps the HTTP client
/// its deliveries use, connected to the address last checked for the webhook's host.
final class DeliveryLane: Sendable {
    struct Closed: Error {}

    private let gate = SerialGate()
    /// Passes running or waiting: the background loop starts one only on an idle lane.
    private let passes = Mutex(0)
    private enum Connection { case none, open(pin: [String: String], client: HTTPClient), closed }
    private let connection = Mutex(Connection.none)

    /// Claims the lane for a pass unless one is running or waiting.
    func claimIfIdle() -> Bool {
        passes.withLock { count in
            guard count == 0 else { return false }
            count = 1
            return true
        }
    }

    func claim() { passes.withLock { $0 += 1 } }

    /// Runs a claimed pass after the lane's earlier ones.
    func run<T: Sendable>(claimed body: @Sendable () async -> T) async -> T {
        defer { passes.withLock { $0 -= 1 } }
        return await gate.run(body)
    }

    /// The lane's client, connecting with `pin` (a new client when the pin changed: the host now resolves
    /// to another checked address).
    func client(pinnedTo pin: [String: String]) async throws(Closed) -> HTTPClient {
        let (client, replaced): (HTTPClient?, HTTPClient?) = connection.withLock { connection in
            switch connection {
            case .closed:
                return (nil, nil)
            case .open(let current, let client) where current == pin:
                return (client, nil)
            case .open(_, let old):
                let client = WebhookDelivery.makeClient(pin: pin)
                connection = .open(pin: pin, client: client)
                return (client, old)
            case .none:
                let client = WebhookDelivery.makeClient(pin: pin)
                connection = .open(pin: pin, client: client)
                return (client, nil)
            }
        }
        try? await replaced?.shutdown()
        guard let client else { throw Closed() }
        return client
    }

    /// Shuts the lane's client down; later passes deliver nothing.
    func close() async {
        let client: HTTPClient? = connection.withLock { connection in
            defer { connection = .closed }
            if case .open(_, let client) = connection { return client }
            return nil
        }
        try? await client?.shutdown()
    }
}

/// Delivers the outbox to webhooks: in order per webhook, at least once, signed (`X-Parley-Signature:
/// sha256=<hex>` of `<timestamp>.<body>` with the webhook's secret; `X-Parley-Delivery` names the webhook and
/// the event, the same on every retry, for receivers to deduplicate), retrying with backoff. Only the server
/// holding the webhooks' lease delivers (`BackgroundLeases`). Each webhook
/// delivers on its own lane, so one that hangs or fails delays no other. Each webhook's position is stored,
/// so a restart resumes where delivery stopped. Targets must be public (`WebhookAddressPolicy`, checked
/// again as each pass starts), redirects are not followed, a connection must open within 3 s and an attempt
/// end within 10 s.
final class WebhookDelivery: Service, Sendable {
    let app: ParleyApp
    var store: any ParleyStore { app.store }
    let clock: any ParleyClock
    let policy: WebhookAddressPolicy
    let logger: Logger
    let leases: BackgroundLeases
    private let lanes = Mutex<[Int: DeliveryLane]>([:])
    private let isShutDown = Synchronization.Mutex(false)

    static let connectTimeout = TimeAmount.seconds(3)
    static let attemptDeadline = TimeAmount.seconds(10)

    init(app: ParleyApp, clock: any ParleyClock, policy: WebhookAddressPolicy, logger: Logger, leases: BackgroundLeases) {
        self.app = app
        self.leases = leases
        self.clock = clock
        self.policy = policy
        self.logger = logger
    }

    /// A client that never follows a redirect (a 3xx is a failed delivery: following one would reach a
    /// target nobody checked), and connects to the pinned address for the webhook's host.
    static func makeClient(pin: [String: String]) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: connectTimeout, read: attemptDeadline))
        configuration.dnsOverride = pin
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
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
        var webhooks: [Webhook] = []
        while true {
            let page = try await store.list(Webhook.self, query: query)
            webhooks += page.items
            guard let next = page.nextCursor, !page.items.isEmpty else { return webhooks }
            query.page.cursor = next
        }
    }

    /// Whether `webhook` has events to receive and may try at `now`.
    private static func isDue(_ webhook: Webhook, at now: Date, latest: Int) -> Bool {
        webhook.cursor < latest && (webhook.nextAttemptAt.map { $0 <= now } ?? true)
    }

    /// The webhook's lane (nil once the service has shut down).
    private func lane(_ number: Int) -> DeliveryLane? {
        guard !isShutDown.withLock({ $0 }) else { return nil }
        return lanes.withLock { lanes in
            if let lane = lanes[number] { return lane }
            let lane = DeliveryLane()
            lanes[number] = lane
            return lane
        }
    }

    /// Delivers whatever each webhook is due to receive at `now`, every webhook on its own lane at once, and
    /// returns when all are done (`test-clock.advance` fires retries this way); returns the number of
    /// successful deliveries.
    @discardableResult
    func deliverDue(at now: Date) async throws -> Int {
        let latest = try await store.latestOutboxSequence()
        let due = try await allWebhooks().filter { Self.isDue($0, at: now, latest: latest) }
        return await withTaskGroup(of: Int.self) { group in
            for webhook in due {
                guard let lane = lane(webhook.number) else { continue }
                lane.claim()
                group.addTask { await lane.run { await self.deliverPass(webhook.number, on: lane, at: now) } }
            }
            return await group.reduce(0, +)
        }
    }

    /// Delivers one webhook's events from its cursor until it has them all or an attempt fails; records its
    /// position (and the failure, with when to retry). Errors are logged: they stop this webhook only.
    private func deliverPass(_ number: Int, on lane: DeliveryLane, at now: Date) async -> Int {
        var delivered = 0
        do {
            let latest = try await store.latestOutboxSequence()
            guard var webhook = try await store.object(Webhook.self, number: number),
                  Self.isDue(webhook, at: now, latest: latest) else { return 0 }
            let renderer = EventRenderer(store: store)
            // Connected on the first attempt of the pass, to the address checked then.
            var client: HTTPClient?
            while true {
                let events = try await store.outbox(after: webhook.cursor, limit: 50)
                if events.isEmpty { break }
                var failed = false
                var attempts: [WebhookAttempt] = []
                let wanted = events.filter { webhook.eventTypes.contains($0.kind.rawValue) }
                let payloads = try await renderer.payloads(wanted, webhook: webhook.id, for: Caller(actor: .system, role: .admin))
                var rendered = Dictionary(uniqueKeysWithValues: zip(wanted.map(\.sequence), payloads))
                for event in events {
                    if let payload = rendered.removeValue(forKey: event.sequence) {
                        let body = payload.serialized
                        let delivery = "\(webhook.id.displayID)-\(event.sequence)"
                        let error = try await post(body, delivery: delivery, to: webhook, on: lane, client: &client)
                        attempts.append(WebhookAttempt(sequence: event.sequence, at: clock.now(), delivered: error == nil, outcome: error ?? "delivered"))
                        if let error {
                            webhook.failures += 1
                            webhook.nextAttemptAt = clock.now() + Webhook.retryDelay(after: webhook.failures)
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
                let made = attempts
                webhook = try await app.update(Webhook.self, number: webhook.number, actor: .system, at: now) { stored in
                    var stored = stored
                    // Never back: a server that lost the webhooks' lease mid-pass may record an older position.
                    stored.cursor = max(stored.cursor, state.cursor)
                    stored.failures = state.failures
                    stored.nextAttemptAt = state.nextAttemptAt
                    stored.lastError = state.lastError
                    stored.recentDeliveries = stored.recording(made)
                    return stored
                }
                if failed { break }
            }
        } catch is DeliveryLane.Closed {
            // The server is shutting down, or the webhook was deleted: nothing to record.
        } catch is CancellationError {
        } catch {
            logger.warning("webhook \(ObjectID(.webhook, number).displayID) delivery: \(String(describing: error))")
        }
        return delivered
    }

    /// Posts one event; returns an error description, or nil when the receiver answered 2xx. A pass's first
    /// attempt checks the target (its host resolved now) and connects `client` to the address checked; the
    /// pass's later attempts use that client.
    private func post(_ body: String, delivery: String, to webhook: Webhook, on lane: DeliveryLane, client: inout HTTPClient?) async throws -> String? {
        if client == nil {
            let pin: [String: String]
            do {
                pin = try await policy.connectionPin(for: webhook.url)
            } catch {
                logger.warning("webhook \(webhook.id.displayID) not delivered to \(webhook.url): \(error.description)")
                return "refused: \(error.description)"
            }
            client = try await lane.client(pinnedTo: pin)
        }
        guard let client else { throw DeliveryLane.Closed() }
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        let timestamp = String(Int(clock.now().timeIntervalSince1970))
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Parley-Timestamp", value: timestamp)
        request.headers.add(name: "X-Parley-Delivery", value: delivery)
        request.headers.add(name: "X-Parley-Signature", value: Self.signature(secret: webhook.secret, timestamp: timestamp, body: body))
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: Self.attemptDeadline)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let code = response.status.code
            if (300..<400).contains(code) { return "HTTP \(code) (redirects are not followed)" }
            return (200..<300).contains(code) ? nil : "HTTP \(code)"
        } catch {
            try Task.checkCancellation()
            return String(describing: error)
        }
    }

    /// Closes every lane once, whoever asks first (the service at shutdown, or `close()`).
    func shutdown() async throws {
        let closing: [DeliveryLane] = isShutDown.withLock { done in
            defer { done = true }
            return done ? [] : lanes.withLock { lanes in
                defer { lanes = [:] }
                return Array(lanes.values)
            }
        }
        for lane in closing { await lane.close() }
    }

    /// Every 250 ms, starts a pass on the lane of each webhook that is due and not already delivering. Retries
    /// wait on the server's clock, so with the test clock they happen as `test-clock.advance` passes their time.
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                while true {
                    do {
                        guard self.leases.holds(.webhooks) else {
                            try await Task.sleep(for: .milliseconds(250))
                            continue
                        }
                        let now = self.clock.now()
                        let latest = try await self.store.latestOutboxSequence()
                        let webhooks = try await self.allWebhooks()
                        await self.closeLanes(except: Set(webhooks.map(\.number)))
                        for webhook in webhooks where Self.isDue(webhook, at: now, latest: latest) {
                            guard let lane = self.lane(webhook.number), lane.claimIfIdle() else { continue }
                            group.addTask {
                                _ = await lane.run { await self.deliverPass(webhook.number, on: lane, at: self.clock.now()) }
                            }
                        }
                    } catch {
                        self.logger.warning("webhook delivery: \(String(describing: error))")
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
        }
        try await shutdown()
    }

    /// Closes the idle lanes of webhooks that no longer exist.
    private func closeLanes(except numbers: Set<Int>) async {
        let gone: [DeliveryLane] = lanes.withLock { lanes in
            let gone = lanes.filter { !numbers.contains($0.key) && $0.value.claimIfIdle() }
            for number in gone.keys { lanes[number] = nil }
            return Array(gone.values)
        }
        for lane in gone { await lane.close() }
    }
}
