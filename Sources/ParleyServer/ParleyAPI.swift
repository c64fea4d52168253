import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// The HTTP adapter: each handler parses the request into typed input, calls the application layer
/// (`ParleyApp`), and renders the result.
struct ParleyAPI: Sendable {
    /// The use cases every handler calls.
    let app: ParleyApp
    let timers: LifecycleTimers
    let webhooks: WebhookDelivery
    let pruning: EventPruning
    /// What every live stream reads the outbox through.
    let feed: OutboxFeed
    /// For reads that need no rule of the application's (rendering references, lookups).
    var store: any ParleyStore { app.store }
    var clock: any ParleyClock { app.clock }
    var configurations: CompiledConfigurations { app.configurations }

    func register(on router: RPCRouter) {
        registerConversations(on: router)
        registerTimeline(on: router)
        registerDirectory(on: router)
        registerTokens(on: router)
        registerConfigurations(on: router)
        registerWorks(on: router)
        registerEvents(on: router)
        registerSavedReplies(on: router)
        registerArtifacts(on: router)
        registerMailboxes(on: router)
    }

    /// `test-clock.advance {seconds}` (admin), only with `--test-clock`: moves the clock forward and fires
    /// every deadline passed on the way, each at its own time.
    func registerTestClock(_ clock: ManualClock, on router: RPCRouter) {
        router.rpc("test-clock.advance") { fields, context in
            _ = try context.requireAdmin()
            guard let seconds = try fields.int("seconds") else { throw APIError.missing("seconds") }
            guard seconds >= 0, seconds <= 10 * 365 * 86_400 else {
                throw APIError.invalidField("seconds", "must be between 0 and ten years")
            }
            let fired = try await timers.advance(clock, by: Double(seconds), webhooks: webhooks)
            try await pruning.prune()
            return .object(["now": .string(Timestamp.format(clock.now())), "deadlines_fired": .int(fired)])
        }
    }

    func wire(_ wanted: References.Wanted) async throws -> Wire {
        Wire(references: try await References.load(wanted, from: store))
    }

    // MARK: Lookups shared by the handlers

    func devUser(_ id: ObjectID, field: String) async throws -> DevUser {
        guard let user = try await store.object(DevUser.self, number: id.number) else {
            throw APIError(.badRequest, type: "invalid_id", message: "\(id.displayID) in '\(field)' is not a dev user",
                           fieldName: field, value: id.displayID)
        }
        return user
    }

    func requireExists<Object: DirectoryObject>(_ type: Object.Type, _ id: ObjectID, field: String) async throws -> Object {
        guard let object = try await store.object(type, number: id.number) else {
            throw APIError(.badRequest, type: "invalid_id", message: "\(id.displayID) in '\(field)' does not exist",
                           fieldName: field, value: id.displayID)
        }
        return object
    }

    func actors(_ ids: [ObjectID], field: String) async throws -> [Actor] {
        var result: [Actor] = []
        for id in ids {
            switch id.kind {
            case .devUser: _ = try await devUser(id, field: field)
            case .revUser: _ = try await requireExists(RevUser.self, id, field: field)
            default: break
            }
            if let actor = Actor(id), !result.contains(actor) { result.append(actor) }
        }
        return result
    }

    /// Tags as `[{id, value?}]`; the id may be a TAG id or a tag's name. Values must be allowed by the tag.
    func tagValues(_ entries: [Fields]) async throws -> [TagValue] {
        var result: [TagValue] = []
        for entry in entries {
            result.append(try await tag(try entry.requiredString("id"), value: try entry.string("value"), field: entry.name("id"),
                                        valueField: entry.name("value")))
        }
        return result
    }

    /// The tag `reference` names (a TAG id or a tag's name), with `value` if the tag allows it.
    func tag(_ reference: String, value: String?, field: String, valueField: String? = nil) async throws -> TagValue {
        let tag: Tag
        if let id = ObjectID.parse(reference, as: [.tag]), let found = try await store.object(Tag.self, number: id.number) {
            tag = found
        } else if let found = try await store.find(Tag.self, key: "name", value: reference.lowercased()).first {
            tag = found
        } else {
            throw APIError(.badRequest, type: "invalid_id", message: "'\(reference)' is not a tag", fieldName: field, value: reference)
        }
        if let value, !tag.allowedValues.isEmpty, !tag.allowedValues.contains(value) {
            throw APIError.invalidEnum(valueField ?? field, value, allowed: tag.allowedValues)
        }
        return TagValue(tag: tag.number, value: value)
    }

    /// The conversation `id` names, if the caller may see it (404 otherwise, so as not to reveal it).
    func visibleConversation(_ id: ObjectID, for caller: Caller) async throws -> Conversation {
        try await app.visibleConversation(id.number, for: caller)
    }
}

/// Builds the router with every route and middleware; shared by `parley serve` and the tests.
func makeRouter(app: ParleyApp, timers: LifecycleTimers, webhooks: WebhookDelivery, pruning: EventPruning, testClock: ManualClock?,
                rateLimits: RateLimitPolicy, secureCookies: Bool = false,
                clientAddresses: ClientAddresses = ClientAddresses(trustedProxies: [])) -> Router<ParleyRequestContext> {
    // HEAD is answered as GET without the body (RFC 9110 §9.3.2), by Hummingbird's own option.
    let router = Router(context: ParleyRequestContext.self, options: .autoGenerateHeadEndpoints)
    let catalog = EndpointCatalog()
    router.add(middleware: ErrorMiddleware())
    if secureCookies {
        // Served over TLS (the cookies are Secure for the same reason).
        router.add(middleware: StrictTransportSecurityMiddleware())
    }
    // Up when the database answers (a load balancer stops sending requests to a server that cannot reach it).
    router.get("/health") { _, _ in
        do {
            _ = try await app.store.latestOutboxSequence()
            return JSONResponse.make(status: .ok, .object(["status": .string("ok")]))
        } catch {
            return JSONResponse.make(status: .serviceUnavailable, .object(["status": .string("database unavailable")]))
        }
    }
    router.get("/openapi.json") { _, _ in
        JSONResponse.make(status: .ok, catalog.openAPI())
    }
    let limiter = RateLimiter(policy: rateLimits)
    router.add(middleware: AuthenticationMiddleware(store: app.store, clock: app.clock, limiter: limiter,
                                                    addresses: clientAddresses, servesTLS: secureCookies))
    let api = ParleyAPI(app: app, timers: timers, webhooks: webhooks, pruning: pruning, feed: OutboxFeed(store: app.store))
    WebInterface(api: api, limiter: limiter, secureCookies: secureCookies).register(on: router)
    let rpcRouter = RPCRouter(router: router, catalog: catalog)
    api.register(on: rpcRouter)
    if let testClock { api.registerTestClock(testClock, on: rpcRouter) }
    return router
}
