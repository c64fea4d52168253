import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

extension ParleyAPI {
    func registerConversations(on router: RPCRouter) {
        router.rpc("conversations.create", created: true) { fields, context in
            try await createConversation(fields, caller: try context.requireCaller())
        }
        router.rpc("conversations.get", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let conversation = try await app.visibleConversation(try fields.requiredID("id", [.conversation]).number, for: caller)
            return .object(["conversation": try await render(conversation, for: caller)])
        }
        router.rpc("conversations.list", readable: true) { fields, context in
            try await listConversations(fields, caller: try context.requireCaller())
        }
        router.rpc("conversations.update") { fields, context in
            try await updateConversation(fields, caller: try context.requireCaller(), ifMatch: context.ifMatch)
        }
        router.rpc("conversations.resolution.propose") { fields, context in
            try await proposeResolution(fields, caller: try context.requireAgent())
        }
        router.rpc("conversations.resolution.confirm") { fields, context in
            try await confirmResolution(fields, caller: try context.requireCaller())
        }
        router.rpc("conversations.delete") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.conversation])
            try await app.deleteConversation(id.number, by: caller)
            return .object([:])
        }
    }

    func proposeResolution(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        let id = try fields.requiredID("id", [.conversation])
        let conversation = try await app.proposeResolution(id.number, message: try fields.string("body") ?? "", by: caller)
        return .object(["conversation": try await render(conversation, for: caller)])
    }

    func confirmResolution(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        let id = try fields.requiredID("id", [.conversation])
        let conversation = try await app.confirmResolution(id.number, confirmed: try fields.bool("confirmed"),
                                                           message: try fields.string("body"), by: caller)
        return .object(["conversation": try await render(conversation, for: caller)])
    }

    func render(_ conversation: Conversation, for caller: Caller) async throws -> JSONValue {
        var wanted = References.Wanted()
        wanted.add(conversation)
        return try await wire(wanted).conversation(conversation, for: caller)
    }

    func createConversation(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        // DevRev requires the type; its SDK always sends it.
        let type = try fields.requiredString("type")
        guard type == "support" else { throw APIError.invalidEnum("type", type, allowed: ["support"]) }
        let messages = try (fields.objects("messages") ?? []).map { message throws(APIError) in try message.requiredString("body") }
        var draft = ConversationDraft(title: try fields.string("title") ?? "")
        draft.description = try fields.string("description")
        draft.messages = messages
        draft.externalRef = try fields.string("external_ref")
        draft.sourceChannel = try fields.string("source_channel") ?? (caller.isAgent ? "api" : "widget")
        if caller.role == .customer {
            // external_ref is the integrator's key, unique across orgs: a customer may neither set one nor learn,
            // from a 409, which conversation holds one.
            for forbidden in ["owned_by", "group", "tags", "stage", "is_spam", "priority", "members", "account", "rev_org", "external_ref"]
            where fields.has(forbidden) {
                throw APIError.forbidden("customers cannot set '\(forbidden)' on a conversation")
            }
        } else {
            if let owners = try fields.ids("owned_by", [.devUser]) {
                for owner in owners { _ = try await devUser(owner, field: "owned_by") }
                draft.ownedBy = owners.map(\.number)
            }
            if let group = try fields.id("group", [.group]) {
                draft.group = try await requireExists(Group.self, group, field: "group").number
            }
            draft.members = try await actors(try fields.ids("members", [.devUser, .revUser]) ?? [], field: "members")
            draft.tags = try await tagValues(try fields.objects("tags") ?? [])
            draft.isSpam = try fields.bool("is_spam") ?? false
            draft.stage = try fields.object("stage")?.enumValue("name", Stage.self)
            draft.priority = try fields.enumValue("priority", Priority.self)
        }
        var opening = ConversationOpening(draft: draft)
        if caller.isAgent, let id = try fields.id("rev_org", [.revOrg]) {
            opening.revOrg = try await requireExists(RevOrg.self, id, field: "rev_org")
        } else if caller.isAgent, let id = try fields.id("account", [.account]) {
            opening.account = try await requireExists(Account.self, id, field: "account")
        }
        let conversation = try await app.openConversation(opening, by: caller)
        return .object(["conversation": try await render(conversation, for: caller)])
    }

    private func listConversations(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        var query = ConversationQuery()
        query.page = try fields.pageRequest()
        if let stage = try fields.object("stage") {
            query.stages = try stage.enumValues("name", Stage.self) ?? []
        }
        query.ownedBy = try (fields.ids("owned_by", [.devUser]) ?? []).map(\.number)
        query.revOrgs = try ((fields.ids("rev_org", [.revOrg]) ?? []) + (fields.ids("rev_orgs", [.revOrg]) ?? [])).map(\.number)
        query.groups = try (fields.ids("group", [.group]) ?? []).map(\.number)
        query.tags = try (fields.ids("tags", [.tag]) ?? []).map(\.number)
        query.sourceChannels = try fields.strings("source_channel") ?? []
        query.isSpam = try fields.bool("is_spam")
        query.modified = try fields.dateRange("modified_date")
        query.created = try fields.dateRange("created_date")
        query.members = try await actors(try fields.ids("members", [.devUser, .revUser]) ?? [], field: "members")
        // Parley's addition: full-text search over titles and comments (notes too, for agents), as the inbox does.
        if let search = try fields.string("search")?.trimmed, !search.isEmpty {
            query.text = search
        }
        if let sort = try fields.sortBy(allowed: ["created_date", "modified_date", "priority"]) {
            switch sort.field {
            case "modified_date": query.sort = .modifiedDate(descending: sort.descending)
            case "priority": query.sort = .priority(descending: sort.descending)
            default: query.sort = .createdDate(descending: sort.descending)
            }
        }
        let page = try await app.listConversations(query, for: caller)
        var wanted = References.Wanted()
        page.items.forEach { wanted.add($0) }
        let wire = try await wire(wanted)
        return listResponse("conversations", page) { wire.conversation($0, for: caller) }
    }

    func updateConversation(_ fields: Fields, caller: Caller, ifMatch: String?) async throws -> JSONValue {
        // A precondition on the version the client last saw: `If-Match: <version>` or `"version": n`.
        var expectedVersion = try fields.int("version")
        if let ifMatch {
            let digits = ifMatch.filter(\.isNumber)
            guard let version = Int(digits) else { throw APIError.badRequest("If-Match must carry the conversation's version", field: "If-Match") }
            expectedVersion = version
        }
        let id = try fields.requiredID("id", [.conversation])
        var change = ConversationChange()
        change.title = try fields.string("title")
        change.description = try fields.string("description")
        if let owners = try fields.idUpdate("owned_by", [.devUser]) {
            for owner in owners { _ = try await devUser(owner, field: "owned_by") }
            change.ownedBy = owners.map(\.number)
        }
        if fields.values["group"] == .null {
            change.group = .some(nil)
        } else if let group = try fields.id("group", [.group]) {
            change.group = .some(try await requireExists(Group.self, group, field: "group").number)
        }
        if let members = try fields.idUpdate("members", [.devUser, .revUser]) {
            change.members = try await actors(members, field: "members")
        }
        if let tags = try fields.object("tags") {
            var tagChange = TagChange()
            if let set = try tags.objects("set") { tagChange.set = try await tagValues(set) }
            tagChange.add = try await tagValues(try tags.objects("add") ?? [])
            tagChange.remove = try await tagValues((try tags.objects("remove") ?? []).map { entry in
                var entry = entry
                entry.values["value"] = nil
                return entry
            }).map(\.tag)
            change.tags = tagChange
        }
        change.priority = try fields.enumValue("priority", Priority.self)
        change.isSpam = try fields.bool("is_spam")
        change.stage = try fields.object("stage")?.enumValue("name", Stage.self)
        change.sourceChannel = try fields.string("source_channel")
        let conversation = try await app.updateConversation(id.number, change: change, expectedVersion: expectedVersion, by: caller)
        return .object(["conversation": try await render(conversation, for: caller)])
    }
}
