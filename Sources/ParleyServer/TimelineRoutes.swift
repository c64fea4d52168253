import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

extension ParleyAPI {
    func registerTimeline(on router: RPCRouter) {
        router.rpc("timeline-entries.create", created: true) { fields, context in
            try await createComment(fields, caller: try context.requireCaller())
        }
        router.rpc("timeline-entries.get", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let entry = try await app.visibleEntry(try fields.requiredID("id", [.comment]), for: caller)
            return .object(["timeline_entry": try await render(entry)])
        }
        router.rpc("timeline-entries.list", readable: true) { fields, context in
            try await listTimeline(fields, caller: try context.requireCaller())
        }
        router.rpc("timeline-entries.update") { fields, context in
            let caller = try context.requireCaller()
            let entry = try await app.editComment(try fields.requiredID("id", [.comment]), body: try fields.string("body"), by: caller)
            return .object(["timeline_entry": try await render(entry)])
        }
        router.rpc("timeline-entries.delete") { fields, context in
            let caller = try context.requireCaller()
            try await app.deleteComment(try fields.requiredID("id", [.comment]), by: caller)
            return .object([:])
        }
    }

    func render(_ entry: TimelineEntry) async throws -> JSONValue {
        var wanted = References.Wanted()
        wanted.add(entry)
        return try await wire(wanted).timelineEntry(entry)
    }

    func createComment(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        if let type = try fields.string("type"), type != "timeline_comment" {
            throw APIError.invalidEnum("type", type, allowed: ["timeline_comment"])
        }
        let requested = try fields.requiredID("object", [.conversation])
        let body = try fields.string("body") ?? ""
        let visibility = try fields.enumValue("visibility", Visibility.self) ?? .external
        let artifacts = try fields.ids("artifacts", [.artifact])?.map(\.number) ?? []
        let entry = try await app.addComment(to: requested.number, body: body, visibility: visibility,
                                             externalRef: try fields.string("external_ref"), artifacts: artifacts, by: caller)
        return .object(["timeline_entry": try await render(entry)])
    }

    private func listTimeline(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        let object = try fields.requiredID("object", [.conversation])
        var query = TimelineQuery(conversation: object.number, viewer: caller.actor)
        query.page = try fields.pageRequest()
        query.visibilities = try fields.enumValues("visibility", Visibility.self) ?? []
        if let collections = try fields.strings("collections"), !collections.isEmpty {
            query.includeComments = collections.contains("discussions")
            query.includeEvents = collections.contains("events")
        }
        query.created = try fields.dateRange("created_date")
        let page = try await app.listTimeline(query, for: caller)
        var wanted = References.Wanted()
        for item in page.items {
            switch item {
            case .comment(let entry): wanted.add(entry)
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
