import Hummingbird
import ParleyCore
import ParleyStore

extension ParleyAPI {
    func registerTimeline(on router: RPCRouter) {
        router.rpc("timeline-entries.create", created: true) { fields, context in
            try await createComment(fields, caller: try context.requireCaller())
        }
        router.rpc("timeline-entries.get", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let entry = try await visibleEntry(try fields.requiredID("id", [.comment]), for: caller)
            return .object(["timeline_entry": try await render(entry)])
        }
        router.rpc("timeline-entries.list", readable: true) { fields, context in
            try await listTimeline(fields, caller: try context.requireCaller())
        }
        router.rpc("timeline-entries.update") { fields, context in
            let caller = try context.requireCaller()
            let id = try fields.requiredID("id", [.comment])
            _ = try await visibleEntry(id, for: caller)
            guard let body = try fields.string("body") else { throw APIError.missing("body") }
            let actor = caller.actor
            let now = clock.now()
            let entry = try await store.updateTimelineEntry(number: id.number) { entry, _ in
                try entry.editing(body: body, by: actor, at: now)
            }
            return .object(["timeline_entry": try await render(entry)])
        }
        router.rpc("timeline-entries.delete") { fields, context in
            let caller = try context.requireCaller()
            let id = try fields.requiredID("id", [.comment])
            _ = try await visibleEntry(id, for: caller)
            let actor = caller.actor
            let now = clock.now()
            _ = try await store.updateTimelineEntry(number: id.number) { entry, _ in
                try entry.deleting(by: actor, at: now)
            }
            return .object([:])
        }
    }

    func render(_ entry: TimelineEntry) async throws -> JSONValue {
        var wanted = References.Wanted()
        wanted.add(entry.author)
        wanted.add(entry.modifiedBy)
        return try await wire(wanted).timelineEntry(entry)
    }

    /// The comment `id` names, if the caller may see it and its conversation.
    private func visibleEntry(_ id: ObjectID, for caller: Caller) async throws -> TimelineEntry {
        guard let entry = try await store.timelineEntry(number: id.number), entry.isVisible(to: caller.actor) else {
            throw APIError.notFound("timeline entry \(id.don)")
        }
        _ = try await visibleConversation(ObjectID(.conversation, entry.conversation), for: caller)
        return entry
    }

    func createComment(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        if let type = try fields.string("type"), type != "timeline_comment" {
            throw APIError.invalidEnum("type", type, allowed: ["timeline_comment"])
        }
        let requested = try fields.requiredID("object", [.conversation])
        var target = try await visibleConversation(requested, for: caller)
        guard let body = try fields.string("body"), !body.trimmed.isEmpty else { throw APIError.missing("body") }
        // An archived conversation that already has a follow-up: the customer's message goes to the
        // newest follow-up (so one archived conversation does not fork into many).
        while target.stage == .archived, caller.role == .customer, let next = try await latestFollowUp(of: target),
              next.isMember(caller.actor) {
            target = next
        }
        let object = target.id
        let visibility = try fields.enumValue("visibility", Visibility.self) ?? .external
        let author = caller.actor
        let now = clock.now()
        let policy = lifecyclePolicy
        let draft = CommentDraft(author: author, body: body, visibility: visibility, at: now)
        let (entry, _) = try await store.addComment(to: object.number, draft: draft, externalRef: try fields.string("external_ref")) { conversation in
            switch try conversation.receivingComment(by: author, visibility: visibility, at: now) {
            case .append(let decision):
                return .append(decision.withTimers(policy, at: now))
            case .startFollowUp:
                return .followUp { number in
                    var followUp = conversation.followUp(number: number, by: author, at: now)
                    if case .append(let commented)? = try? followUp.conversation.receivingComment(by: author, visibility: visibility, at: now) {
                        followUp.conversation = commented.conversation
                        followUp.events += commented.events
                    }
                    return followUp.withTimers(policy, at: now)
                }
            }
        }
        return .object(["timeline_entry": try await render(entry)])
    }

    private func latestFollowUp(of conversation: Conversation) async throws -> Conversation? {
        let links = try await store.find(Link.self, key: "target", value: conversation.id.don)
        guard let newest = links.filter({ $0.linkType == .isFollowUpOf }).max(by: { $0.number < $1.number }) else { return nil }
        return try await store.conversation(number: newest.source.number)
    }

    private func listTimeline(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        let object = try fields.requiredID("object", [.conversation])
        _ = try await visibleConversation(object, for: caller)
        var query = TimelineQuery(conversation: object.number, viewer: caller.actor)
        query.page = try fields.pageRequest()
        query.visibilities = try fields.enumValues("visibility", Visibility.self) ?? []
        if let collections = try fields.strings("collections"), !collections.isEmpty {
            query.includeComments = collections.contains("discussions")
            query.includeEvents = collections.contains("events")
        }
        query.created = try fields.dateRange("created_date")
        let page = try await store.listTimeline(query)
        var wanted = References.Wanted()
        for item in page.items {
            switch item {
            case .comment(let entry):
                wanted.add(entry.author)
                wanted.add(entry.modifiedBy)
            case .event(_, let event): wanted.add(event.actor)
            }
        }
        let wire = try await wire(wanted)
        return listResponse("timeline_entries", page) { item in
            switch item {
            case .comment(let entry): wire.timelineEntry(entry)
            case .event(let sequence, let event): wire.timelineEvent(sequence: sequence, event)
            }
        }
    }
}
