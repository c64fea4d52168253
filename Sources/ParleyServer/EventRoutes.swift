import HTTPTypes
import Hummingbird
import NIOCore
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore
import ServiceLifecycle

extension ParleyAPI {
    func registerEvents(on router: RPCRouter) {
        router.rpc("webhooks.create", created: true) { fields, context in
            let caller = try context.requireAdmin()
            let webhook = try await createWebhook(url: try fields.requiredString("url"), eventTypes: try fields.strings("event_types"),
                                                  secret: try fields.string("secret"), by: caller)
            return .object(["webhook": renderWebhook(webhook, withSecret: true)])
        }
        router.rpc("webhooks.list", readable: true) { fields, context in
            _ = try context.requireAdmin()
            let page = try await store.list(Webhook.self, query: try directoryQuery(fields))
            return listResponse("webhooks", page) { renderWebhook($0, withSecret: false) }
        }
        router.rpc("webhooks.delete") { fields, context in
            let caller = try context.requireAdmin()
            let id = try fields.requiredID("id", [.webhook])
            try await app.delete(Webhook.self, number: id.number, actor: caller.actor, at: clock.now())
            return .object([:])
        }

        // Server-sent events: every conversation change the caller may see, as it is published.
        // `Last-Event-ID` (or `after`) resumes after an event; `follow=false` returns what there is and ends.
        router.router.get("/events.stream") { request, context in
            let caller = try context.requireCaller()
            let parameters = request.uri.queryParameters
            let cursor: Int
            let header: String? = request.headers[.lastEventID]
            let after: String? = parameters["after"].map { String($0) }
            if let resume = Int(header ?? after ?? "") {
                // Resuming from before what the outbox keeps would leave a silent gap: refuse it.
                let horizon = try await store.outboxHorizon()
                guard resume >= horizon else {
                    throw APIError(.gone, type: "gone",
                                   message: "events up to \(horizon) were pruned (older than the retention period): reload the current state, then follow from the newest event")
                }
                cursor = resume
            } else {
                cursor = try await store.latestOutboxSequence()
            }
            let followText: String? = parameters["follow"].map { String($0) }
            let follow = followText != "false"
            return eventStream(for: caller, after: cursor, follow: follow, tokenHash: context.tokenHash)
        }
    }

    /// A new webhook (the API's and the admin page's): a public target only (issue 15, item 7) unless
    /// --allow-private-webhooks, checked again at each delivery; it receives what happens from now on.
    func createWebhook(url: String, eventTypes: [String]?, secret: String?, by caller: Caller) async throws -> Webhook {
        guard caller.isAdmin else { throw APIError.forbidden("webhooks are set up by an admin") }
        _ = try await webhooks.policy.checkNew(url)
        let types = eventTypes ?? Webhook.eventTypes
        for (index, type) in types.enumerated() where !Webhook.eventTypes.contains(type) {
            throw APIError.invalidEnum("event_types.\(index)", type, allowed: Webhook.eventTypes)
        }
        let secret = secret ?? TokenSecret.generate(prefix: "whsec_")
        let cursor = try await store.latestOutboxSequence()
        let now = clock.now()
        return try await app.insert(Webhook.self, actor: caller.actor, at: now) { number in
            Webhook(number: number, url: url, eventTypes: types, secret: secret, cursor: cursor, createdBy: caller.actor, at: now)
        }
    }

    /// Server-sent events of every published conversation change `caller` may see, after `start`
    /// (shared by `/events.stream` and the inbox's and widget's live updates). The stream ends as soon as the
    /// token it was opened with (hash `tokenHash`) no longer admits its holder (revoked, expired, the user
    /// deactivated): checked before every batch it sends, and every second while there is nothing to send.
    func eventStream(for caller: Caller, after start: Int, follow: Bool, tokenHash: String?) -> Response {
        let store = store, feed = feed, clock = clock
        @Sendable func admitted() async throws -> Bool {
            guard let tokenHash else { return true }
            return try await Credential.stillAdmits(hash: tokenHash, store: store, now: clock.now())
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var cursor = start
            let renderer = EventRenderer(store: store)
            var idle = 0
            try await writer.write(ByteBuffer(string: ": connected\nretry: 2000\n\n"))
            // A stream ends when the server shuts down, so that open streams do not hold the shutdown up.
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                let events: [OutboxEvent], through: Int
                do {
                    (events, through) = try await feed.events(after: cursor, limit: 100, for: caller)
                } catch let pruned as EventsPruned {
                    // Fell behind what the outbox keeps: tell the client to reload rather than skip events.
                    try await writer.write(ByteBuffer(string: "event: reset\ndata: {\"pruned_through\":\(pruned.horizon)}\n\n"))
                    break
                }
                // One write for what was read together: a write per event cost a system call each, per stream.
                var batch = ByteBuffer()
                for (index, event) in events.enumerated() {
                    cursor = event.sequence
                    // A hundred events rendered without a pause held one of the two threads that run every
                    // request's handler for milliseconds (write p99 60 ms with streams open): let requests in.
                    if index % 32 == 31 { await Task.yield() }
                    guard EventRenderer.isVisible(event, to: caller), caller.isAgent || event.changesWhatCustomersSee else { continue }
                    let data = try await feed.payload(event, for: caller, renderer: renderer)
                    batch.writeString("id: \(event.sequence)\nevent: \(event.kind.rawValue)\ndata: \(data)\n\n")
                }
                if batch.readableBytes > 0 {
                    guard try await admitted() else { break }
                    try await writer.write(batch)
                }
                cursor = max(cursor, through)
                if events.isEmpty {
                    if !follow { break }
                    idle += 1
                    if idle % 4 == 0, !(try await admitted()) { break }
                    if idle % 60 == 0 { try await writer.write(ByteBuffer(string: ": ping\n\n")) }
                    await feed.waitForNews(upTo: .milliseconds(250))
                    try Task.checkCancellation()
                }
            }
            try await writer.finish(nil)
        })
    }

    func renderWebhook(_ webhook: Webhook, withSecret: Bool) -> JSONValue {
        var fields = Wire.atom(webhook.id)
        fields["url"] = .string(webhook.url)
        fields["event_types"] = .array(webhook.eventTypes.map(JSONValue.string))
        fields["status"] = .string("active")
        if withSecret { fields["secret"] = .string(webhook.secret) }
        fields["pending_since_event"] = .int(webhook.cursor)
        fields["failures"] = .int(webhook.failures)
        fields["next_attempt_date"] = Timestamp.json(webhook.nextAttemptAt)
        fields["last_error"] = .optional(webhook.lastError)
        // Parley's own: the latest attempts, newest first.
        fields["last_deliveries"] = .array(webhook.recentDeliveries.reversed().map { attempt in
            .object(["event": .int(attempt.sequence), "date": Timestamp.json(attempt.at), "delivered": .bool(attempt.delivered),
                     "outcome": .string(attempt.outcome)])
        })
        fields["created_date"] = Timestamp.json(webhook.createdDate)
        return .object(fields)
    }
}

extension HTTPTypes.HTTPField.Name {
    static let lastEventID = Self("Last-Event-ID")!
}

extension OutboxEvent {
    /// Whether a customer following this conversation would see anything change: not when an agent's note
    /// only bumped who modified it and when, its version or the team's triage (a note's `conversation_updated`
    /// told the customer which agent wrote one, and when). What is not set aside here counts as visible.
    var changesWhatCustomersSee: Bool {
        guard kind == .conversationUpdated, let old = oldConversation else { return true }
        func customersView(_ c: Conversation) -> Conversation {
            var c = c
            c.modifiedBy = .system
            c.modifiedDate = .distantPast
            c.version = 0
            c.priority = .p2
            c.tags = []
            c.isSpam = false
            c.spam = nil
            c.routing = RoutingRecord(reason: .explicit)
            c.lastActivityAt = nil
            c.recentMessages = []
            c.waitingSince = nil
            c.lastAgentReplyAt = nil
            return c
        }
        return customersView(old) != customersView(conversation)
    }
}
