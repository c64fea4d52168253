import Hummingbird
import ParleyCore
import ParleyStore

extension ParleyAPI {
    func registerConversations(on router: RPCRouter) {
        router.rpc("conversations.create", created: true) { fields, context in
            try await createConversation(fields, caller: try context.requireCaller())
        }
        router.rpc("conversations.get", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let conversation = try await visibleConversation(try fields.requiredID("id", [.conversation]), for: caller)
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
            try await store.deleteConversation(number: id.number, actor: caller.actor, at: clock.now()) { _ in }
            return .object([:])
        }
    }

    func proposeResolution(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        guard caller.isAgent else { throw APIError.forbidden("this endpoint is for the support team, not customers") }
        let id = try fields.requiredID("id", [.conversation])
        _ = try await visibleConversation(id, for: caller)
        guard let body = try fields.string("body"), !body.trimmed.isEmpty else { throw APIError.missing("body") }
        let now = clock.now()
        let policy = lifecyclePolicy
        let draft = CommentDraft(author: caller.actor, body: body, visibility: .external, at: now)
        let (_, conversation) = try await store.addComment(to: id.number, draft: draft, externalRef: nil) { current in
            .append(try current.proposingResolution(by: caller.actor, at: now).withTimers(policy, at: now))
        }
        return .object(["conversation": try await render(conversation, for: caller)])
    }

    func confirmResolution(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        let id = try fields.requiredID("id", [.conversation])
        _ = try await visibleConversation(id, for: caller)
        guard let confirmed = try fields.bool("confirmed") else { throw APIError.missing("confirmed") }
        let now = clock.now()
        let policy = lifecyclePolicy
        let conversation: Conversation
        if let body = try fields.string("body"), !body.trimmed.isEmpty {
            let draft = CommentDraft(author: caller.actor, body: body, visibility: .external, at: now)
            (_, conversation) = try await store.addComment(to: id.number, draft: draft, externalRef: nil) { current in
                .append(try current.confirmingResolution(confirmed, by: caller.actor, withMessage: true, at: now).withTimers(policy, at: now))
            }
        } else {
            conversation = try await store.updateConversation(number: id.number) { current in
                try current.confirmingResolution(confirmed, by: caller.actor, withMessage: false, at: now).withTimers(policy, at: now)
            }
        }
        return .object(["conversation": try await render(conversation, for: caller)])
    }

    func render(_ conversation: Conversation, for caller: Caller) async throws -> JSONValue {
        var wanted = References.Wanted()
        wanted.add(conversation)
        return try await wire(wanted).conversation(conversation, for: caller)
    }

    func createConversation(_ fields: Fields, caller: Caller) async throws -> JSONValue {
        if let type = try fields.string("type"), type != "support" {
            throw APIError.invalidEnum("type", type, allowed: ["support"])
        }
        let messages = try (fields.objects("messages") ?? []).compactMap { message throws(APIError) in try message.string("body") }
        var draft = ConversationDraft(title: try fields.string("title") ?? "")
        draft.description = try fields.string("description")
        draft.messages = messages
        draft.externalRef = try fields.string("external_ref")
        draft.sourceChannel = try fields.string("source_channel") ?? (caller.isAgent ? "api" : "widget")
        if caller.role == .customer {
            for forbidden in ["owned_by", "group", "tags", "stage", "is_spam", "priority", "members", "account", "rev_org"]
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
        // The customer org: the caller's, else the one named, else the first customer member's,
        // else the one whose email domains include the customer's; otherwise unidentified.
        var customer: RevUser?
        if case .revUser(let number) = caller.actor {
            customer = try await store.object(RevUser.self, number: number)
        } else {
            for case .revUser(let number) in draft.members {
                customer = try await store.object(RevUser.self, number: number)
                break
            }
        }
        var revOrg: RevOrg?
        var account: Account?
        if caller.isAgent, let id = try fields.id("rev_org", [.revOrg]) {
            revOrg = try await requireExists(RevOrg.self, id, field: "rev_org")
        } else if caller.isAgent, let id = try fields.id("account", [.account]) {
            account = try await requireExists(Account.self, id, field: "account")
            if let org = account?.defaultRevOrg { revOrg = try await store.object(RevOrg.self, number: org) }
        } else if let org = customer?.revOrg {
            revOrg = try await store.object(RevOrg.self, number: org)
        } else if let email = customer?.email, let at = email.lastIndex(of: "@") {
            let domain = String(email[email.index(after: at)...])
            if let byDomain = try await store.find(Account.self, key: "domain", value: domain).first {
                account = byDomain
                if let org = byDomain.defaultRevOrg { revOrg = try await store.object(RevOrg.self, number: org) }
            }
        }
        if account == nil, let revOrg { account = try await store.object(Account.self, number: revOrg.account) }
        draft.revOrg = revOrg?.number
        draft.account = account?.number
        let defaultOwner = try await RoutingRequest.activeDefaultOwner(of: account, in: store)
        let now = clock.now()
        let body = draft.messages.first ?? draft.description ?? ""
        let request = RoutingRequest(
            title: draft.title, body: body, channel: draft.sourceChannel, revOrg: revOrg?.number, tags: draft.tags.map(\.tag),
            orgDefaultOwner: defaultOwner, orgCreatedAt: account?.createdDate, explicitOwners: draft.ownedBy,
            explicitPriority: draft.priority)
        let routing = RoutingDecision.decide(request, engine: try await configurations.routingEngine(store), policy: priorityPolicy, at: now)
        // Customers' first messages go through the spam filter; agents' conversations do not.
        var spam: SpamAssessment?
        if caller.role == .customer {
            spam = try await configurations.spamFilter(store).assess(title: draft.title, body: body, senderEmail: customer?.email)
        }
        let creator = caller.actor
        let finalDraft = draft
        let policy = lifecyclePolicy
        let conversation = try await store.createConversation(actor: creator, at: now) { [spam] number in
            var creation = try Conversation.open(number: number, draft: finalDraft, routing: routing, spam: spam, by: creator, at: now)
            creation.decision = creation.decision.withTimers(policy, at: now)
            return creation
        }
        return .object(["conversation": try await render(conversation, for: caller)])
    }

    /// Routes a conversation a reviewer approved as it would have been routed when it arrived.
    private func routingOnApproval(_ conversation: Conversation) async throws -> RoutingDecision {
        let request = try await RoutingRequest.replaying(conversation, store: store, keepPriority: true)
        return RoutingDecision.decide(request, engine: try await configurations.routingEngine(store), policy: priorityPolicy,
                                      at: clock.now())
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
            query.searchesNotes = caller.isAgent
        }
        if caller.role == .customer {
            query.members = [caller.actor]
        } else if query.isSpam == nil {
            // Suspended conversations are a review queue: they stay out of agents' lists unless asked for.
            query.excludedStages = [.suspended]
        }
        if let sort = try fields.sortBy(allowed: ["created_date", "modified_date", "priority"]) {
            switch sort.field {
            case "modified_date": query.sort = .modifiedDate(descending: sort.descending)
            case "priority": query.sort = .priority(descending: sort.descending)
            default: query.sort = .createdDate(descending: sort.descending)
            }
        }
        let page = try await store.listConversations(query)
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
        _ = try await visibleConversation(id, for: caller)
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
            let touched = Set((tagChange.set ?? []).map(\.tag) + tagChange.add.map(\.tag) + tagChange.remove)
            if let kept = touched.first(where: { SystemTag.serverKept.contains($0) }), let tag = SystemTag(rawValue: kept) {
                throw APIError.invalidField("tags", "\(tag.name) is kept true by the server and cannot be set or removed by hand")
            }
            change.tags = tagChange
        }
        change.priority = try fields.enumValue("priority", Priority.self)
        change.isSpam = try fields.bool("is_spam")
        change.stage = try fields.object("stage")?.enumValue("name", Stage.self)
        change.sourceChannel = try fields.string("source_channel")
        if caller.role == .customer, !change.isCustomerEditable {
            throw APIError.forbidden("customers can change only the title and description of their conversations")
        }
        if change.stage == .new, let current = try await store.conversation(number: id.number), current.stage == .suspended {
            change.routingOnApproval = try await routingOnApproval(current)
        }
        if change.stage == .hold {
            change.openDependencies = try await dependencies(of: id).filter { !$0.isClosed }.count
        }
        let actor = caller.actor
        let now = clock.now()
        let finalChange = change
        let policy = lifecyclePolicy
        let conversation = try await store.updateConversation(number: id.number) { [expectedVersion] current in
            if let expectedVersion, expectedVersion != current.version {
                throw DomainError.conflict("conversation \(current.id.displayID) is at version \(current.version), not \(expectedVersion): reload it and try again")
            }
            return try current.applying(finalChange, by: actor, at: now).withTimers(policy, at: now)
        }
        return .object(["conversation": try await render(conversation, for: caller)])
    }
}
