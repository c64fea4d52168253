import Logging
import ParleyCore
import ParleyStore

/// What opening a conversation takes: the draft, and the org an agent named (already checked to exist).
public struct ConversationOpening: Sendable {
    public var draft: ConversationDraft
    /// An agent's explicit customer org, as a rev org or as an account (its default rev org).
    public var revOrg: RevOrg?
    public var account: Account?
    /// Files the caller uploaded, carried by the first message (attached in the conversation's transaction).
    public var artifacts: [Int]
    /// For a conversation opened by mail: that mail as received, kept as an artifact (agents only).
    public var originalMessage: Int?

    public init(draft: ConversationDraft, revOrg: RevOrg? = nil, account: Account? = nil, artifacts: [Int] = []) {
        self.draft = draft
        self.revOrg = revOrg
        self.account = account
        self.artifacts = artifacts
    }
}

extension ParleyApp {
    // MARK: Reading

    /// The conversation `number`, if `caller` may see it (agents: all; customers: those they are a member
    /// of). Otherwise `notFound`, so as not to reveal that it exists.
    public func visibleConversation(_ number: Int, for caller: Caller) async throws -> Conversation {
        guard let conversation = try await store.conversation(number: number),
              caller.isAgent || conversation.isMember(caller.actor) else {
            throw DomainError.conversationNotFound(number)
        }
        return conversation
    }

    /// A page of conversations as `caller` may list them: a customer's own only, searched without notes; for
    /// agents, internal notes and their own private notes are searched too, and Suspended (the spam review queue) stays out unless the query asks
    /// about spam.
    public func listConversations(_ query: ConversationQuery, for caller: Caller) async throws -> Page<Conversation> {
        var query = query
        query.searchedNotes = caller.searchedNotes
        if caller.role == .customer {
            query.members = [caller.actor]
        } else if query.isSpam == nil {
            query.excludedStages = [.suspended]
        }
        return try await store.listConversations(query)
    }

    // MARK: Writing

    /// Opens a conversation: finds the customer org, routes it, checks a customer's first message for spam,
    /// and stores it with its first messages.
    public func openConversation(_ opening: ConversationOpening, by caller: Caller) async throws -> Conversation {
        var draft = opening.draft
        // The customer org: the one an agent named, else the caller's, else the first customer member's,
        // else the one whose email domains include the customer's; otherwise unidentified.
        var customer: RevUser?
        // A customer's own conversation: they, their org, its account and its owners, read at once.
        var known = ReferencedObjects()
        if case .revUser(let number) = caller.actor {
            known = try await store.customerDirectory(revUser: number)
            customer = known.revUsers[number]
        } else {
            for case .revUser(let number) in draft.members {
                customer = try await store.object(RevUser.self, number: number)
                break
            }
        }
        var revOrg: RevOrg?
        var account: Account?
        if caller.isAgent, let named = opening.revOrg {
            revOrg = named
        } else if caller.isAgent, let named = opening.account {
            account = named
            if let org = named.defaultRevOrg { revOrg = try await store.object(RevOrg.self, number: org) }
        } else if let org = customer?.revOrg {
            revOrg = known.revOrgs[org]
            if revOrg == nil { revOrg = try await store.object(RevOrg.self, number: org) }
        } else if let email = customer?.email, let at = email.lastIndex(of: "@") {
            let domain = String(email[email.index(after: at)...])
            if let byDomain = try await store.find(Account.self, key: "domain", value: domain).first {
                account = byDomain
                if let org = byDomain.defaultRevOrg { revOrg = try await store.object(RevOrg.self, number: org) }
            }
        }
        if account == nil, let revOrg {
            account = known.accounts[revOrg.account]
            if account == nil { account = try await store.object(Account.self, number: revOrg.account) }
        }
        draft.revOrg = revOrg?.number
        draft.account = account?.number
        let defaultOwner = try await RoutingRequest.activeDefaultOwner(of: account, in: store, known: known.devUsers)
        let now = clock.now()
        let body = draft.messages.first ?? draft.description ?? ""
        let request = RoutingRequest(
            title: draft.title, body: body, channel: draft.sourceChannel, revOrg: revOrg?.number, tags: draft.tags.map(\.tag),
            orgDefaultOwner: defaultOwner, orgCreatedAt: account?.createdDate, explicitOwners: draft.ownedBy,
            explicitPriority: draft.priority)
        // Customers' first messages go through the spam filter; agents' conversations do not.
        let (engine, spamFilter) = caller.role == .customer
            ? try await configurations.routingEngineAndSpamFilter(store)
            : (try await configurations.routingEngine(store), nil)
        let routing = RoutingDecision.decide(request, engine: engine, policy: priorityPolicy, at: now)
        var spam: SpamAssessment?
        if let filter = spamFilter {
            let (title, email) = (draft.title, customer?.email)
            // Patterns over a large message can take a while: they run off the threads that serve requests.
            let result = filter.hasPatterns
                ? await PatternSearchQueue.run { filter.assessed(title: title, body: body, senderEmail: email) }
                : filter.assessed(title: title, body: body, senderEmail: email)
            for pattern in result.outOfSteps {
                logger.warning("spam rule pattern ran out of steps and counts as no match",
                               metadata: ["pattern": "\(pattern)", "characters": "\(title.count + body.count)"])
            }
            spam = result.assessment
        }
        if !opening.artifacts.isEmpty {
            guard !draft.messages.isEmpty else { throw DomainError.missingField("messages") }
            _ = try await checkAttachable(opening.artifacts, by: caller)
        }
        let creator = caller.actor
        let finalDraft = draft
        let files = opening.artifacts
        let original = opening.originalMessage
        let app = self
        let conversation = try await store.createConversation { [spam] number in
            var creation = try Conversation.open(number: number, draft: finalDraft, routing: routing, spam: spam, by: creator, at: now)
            if !files.isEmpty, !creation.comments.isEmpty { creation.comments[0].artifacts = files }
            if let original, !creation.comments.isEmpty { creation.comments[0].originalMessage = original }
            // A new conversation is always stored, so its plan always exists.
            let plan = app.plan(creation.decision, from: nil, at: now, publishes: [.conversationCreated])!
            return NewConversation(plan: plan, comments: creation.comments.map { NewComment($0) })
        }
        committed(conversation)
        return conversation
    }

    /// Changes a conversation's fields or stage (`conversations.update`). `expectedVersion` is the version
    /// the client saw (`If-Match`): a conversation changed since is refused with `conflict`.
    public func updateConversation(_ number: Int, change: ConversationChange, expectedVersion: Int?,
                                   by caller: Caller) async throws -> Conversation {
        var change = change
        // Approving a suspended conversation routes it, and a hold counts its open dependencies: those read
        // the conversation first. Any other change is checked on the write's own locked read, in the same
        // order (visible to the caller, then the change itself), with one read fewer.
        let readFirst = change.stage == .new || change.stage == .hold
        if readFirst {
            let current = try await visibleConversation(number, for: caller)
            try Self.check(change, by: caller)
            if change.stage == .new, current.stage == .suspended {
                change.routingOnApproval = try await routingOnApproval(current)
            }
            if change.stage == .hold {
                change.openDependencies = try await dependencies(of: current.id).filter { !$0.isClosed }.count
            }
        }
        let actor = caller.actor
        let now = clock.now()
        let finalChange = change
        let app = self
        let seesVersions = caller.isAgent
        let conversation = try await store.updateConversation(number: number) { current in
            if !readFirst {
                guard caller.isAgent || current.isMember(actor) else { throw DomainError.conversationNotFound(number) }
                try Self.check(finalChange, by: caller)
            }
            if let expectedVersion, expectedVersion != current.version {
                // Customers are not shown versions (they count agents' changes too).
                throw DomainError.conflict(seesVersions
                    ? "conversation \(current.id.displayID) is at version \(current.version), not \(expectedVersion): reload it and try again"
                    : "conversation \(current.id.displayID) has changed since you read it: reload it and try again")
            }
            return app.plan(try current.applying(finalChange, by: actor, at: now), from: current, at: now,
                            publishes: [.conversationUpdated])
        }
        committed(conversation)
        return conversation
    }

    /// What no caller may change, and what customers may not: the checks on a change before its decision.
    private static func check(_ change: ConversationChange, by caller: Caller) throws {
        if let tags = change.tags {
            let touched = Set((tags.set ?? []).map(\.tag) + tags.add.map(\.tag) + tags.remove)
            if let kept = touched.first(where: { SystemTag.serverKept.contains($0) }), let tag = SystemTag(rawValue: kept) {
                throw DomainError.invalidField("tags", message: "\(tag.name) is kept true by the server and cannot be set or removed by hand")
            }
        }
        if caller.role == .customer, !change.isCustomerEditable {
            throw DomainError.forbidden("customers can change only the title and description of their conversations")
        }
    }

    /// Routes a conversation a reviewer approved as it would have been routed when it arrived.
    private func routingOnApproval(_ conversation: Conversation) async throws -> RoutingDecision {
        let request = try await RoutingRequest.replaying(conversation, store: store, keepPriority: true)
        return RoutingDecision.decide(request, engine: try await configurations.routingEngine(store), policy: priorityPolicy,
                                      at: clock.now())
    }

    /// An agent proposes that the conversation is resolved, with a message asking the customer to confirm.
    public func proposeResolution(_ number: Int, message: String, by caller: Caller) async throws -> Conversation {
        guard caller.isAgent else { throw DomainError.forbidden("this endpoint is for the support team, not customers") }
        _ = try await visibleConversation(number, for: caller)
        guard !message.trimmed.isEmpty else { throw DomainError.missingField("body") }
        let now = clock.now()
        let comment = NewComment(CommentDraft(author: caller.actor, body: message, visibility: .external, at: now))
        let actor = caller.actor
        let app = self
        let (_, conversation) = try await store.addComment(to: number) { current in
            .append(app.appendPlan(try current.proposingResolution(by: actor, message: message, at: now), to: current, at: now), comment)
        }
        committed(conversation)
        return conversation
    }

    /// The customer answers the resolution check, with or without a message.
    /// `externalRef`: the message's own id (a mail's Message-ID), unique on the conversation.
    public func confirmResolution(_ number: Int, confirmed: Bool?, message: String?, externalRef: String? = nil,
                                  by caller: Caller) async throws -> Conversation {
        _ = try await visibleConversation(number, for: caller)
        guard let confirmed else { throw DomainError.missingField("confirmed") }
        let now = clock.now()
        let actor = caller.actor
        let app = self
        let conversation: Conversation
        if let message, !message.trimmed.isEmpty {
            let comment = NewComment(CommentDraft(author: actor, body: message, visibility: .external, at: now), externalRef: externalRef)
            (_, conversation) = try await store.addComment(to: number) { current in
                let decision = try current.confirmingResolution(confirmed, by: actor, withMessage: true, message: message, at: now)
                return .append(app.appendPlan(decision, to: current, at: now), comment)
            }
        } else {
            conversation = try await store.updateConversation(number: number) { current in
                app.plan(try current.confirmingResolution(confirmed, by: actor, withMessage: false, at: now), from: current, at: now,
                         publishes: [.conversationUpdated])
            }
        }
        committed(conversation)
        return conversation
    }

    /// An agent deletes a conversation: it leaves every list; its record stays.
    public func deleteConversation(_ number: Int, by caller: Caller) async throws {
        guard caller.isAgent else { throw DomainError.forbidden("this endpoint is for the support team, not customers") }
        let actor = caller.actor
        let now = clock.now()
        try await store.deleteConversation(number: number) { current in
            DeletionPlan(events: [ChangeEvent(object: current.id, actor: actor, at: now, kind: .deleted)],
                         publishes: [.conversationDeleted])
        }
    }
}

extension ParleyApp {
    /// Imports conversations decided elsewhere (a migration from another helpdesk, the benchmark's fill):
    /// `count` of them in one bulk transaction, published to nobody. With `withTimers` each gets its next
    /// deadline as a live conversation would; without, none until its next change.
    public func importConversations(count: Int, withTimers: Bool,
                                    make: @escaping @Sendable (Int) throws -> ConversationCreation) async throws -> [Int] {
        let policy = lifecyclePolicy
        return try await store.importConversations(count: count) { number in
            let creation = try make(number)
            let conversation = creation.decision.conversation
            let plan = ConversationPlan(conversation: conversation, events: creation.decision.events,
                                        deadline: withTimers ? conversation.nextDeadline(policy) : nil, publishes: [])
            return NewConversation(plan: plan, comments: creation.comments.map { NewComment($0, publishes: false) })
        }
    }
}
