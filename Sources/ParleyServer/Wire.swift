import ParleyCore
import ParleyStore

/// The objects a response names, loaded in one query per kind (no N+1), so that every reference
/// renders as DevRev's summary objects with display names.
struct References: Sendable {
    var devUsers: [Int: DevUser] = [:]
    var revUsers: [Int: RevUser] = [:]
    var revOrgs: [Int: RevOrg] = [:]
    var accounts: [Int: Account] = [:]
    var groups: [Int: Group] = [:]
    var tags: [Int: Tag] = [:]
    var works: [Int: Work] = [:]

    /// What to load.
    struct Wanted {
        var devUsers = Set<Int>()
        var revUsers = Set<Int>()
        var revOrgs = Set<Int>()
        var accounts = Set<Int>()
        var groups = Set<Int>()
        var tags = Set<Int>()
        var works = Set<Int>()

        mutating func add(_ actor: Actor) {
            switch actor {
            case .devUser(let n): devUsers.insert(n)
            case .revUser(let n): revUsers.insert(n)
            case .system: break
            }
        }

        mutating func add(_ conversation: Conversation) {
            add(conversation.createdBy)
            add(conversation.modifiedBy)
            conversation.members.forEach { add($0) }
            devUsers.formUnion(conversation.ownedBy)
            if let group = conversation.group { groups.insert(group) }
            if let revOrg = conversation.revOrg { revOrgs.insert(revOrg) }
            if let account = conversation.account { accounts.insert(account) }
            tags.formUnion(conversation.tags.map(\.tag))
        }
    }

    static func load(_ wanted: Wanted, from store: any ParleyStore) async throws -> References {
        var references = References()
        references.devUsers = try await store.objects(DevUser.self, numbers: wanted.devUsers)
        references.revUsers = try await store.objects(RevUser.self, numbers: wanted.revUsers)
        let orgs = wanted.revOrgs.union(references.revUsers.values.compactMap(\.revOrg))
        references.revOrgs = try await store.objects(RevOrg.self, numbers: orgs)
        references.accounts = try await store.objects(Account.self, numbers: wanted.accounts)
        references.groups = try await store.objects(Group.self, numbers: wanted.groups)
        references.tags = try await store.objects(Tag.self, numbers: wanted.tags)
        references.works = try await store.objects(Work.self, numbers: wanted.works)
        return references
    }
}

/// Renders domain objects as DevRev's JSON shapes.
struct Wire {
    var references: References

    static func atom(_ id: ObjectID) -> [String: JSONValue] {
        ["id": .string(id.don), "display_id": .string(id.displayID)]
    }

    func user(_ actor: Actor) -> JSONValue {
        var fields = Self.atom(actor.objectID)
        switch actor {
        case .devUser(let n):
            fields["type"] = .string("dev_user")
            if let user = references.devUsers[n] {
                fields["display_name"] = .string(user.displayName)
                fields["full_name"] = .optional(user.fullName)
                fields["email"] = .string(user.email)
                fields["state"] = .string(user.state.rawValue)
            }
        case .revUser(let n):
            fields["type"] = .string("rev_user")
            if let user = references.revUsers[n] {
                fields["display_name"] = .optional(user.displayName)
                fields["full_name"] = .optional(user.fullName)
                fields["email"] = .optional(user.email)
                fields["state"] = .string(user.state.rawValue)
                fields["external_ref"] = .optional(user.externalRef)
                if let org = user.revOrg { fields["rev_org"] = revOrgSummary(org) }
            }
        case .system:
            fields["type"] = .string("sys_user")
            fields["display_name"] = .string("Parley")
            fields["state"] = .string("active")
        }
        return .object(fields)
    }

    func devUserSummary(_ number: Int) -> JSONValue { user(.devUser(number)) }

    func revOrgSummary(_ number: Int) -> JSONValue {
        var fields = Self.atom(ObjectID(.revOrg, number))
        fields["type"] = .string("rev_org")
        fields["display_name"] = .optional(references.revOrgs[number]?.displayName)
        return .object(fields)
    }

    func accountSummary(_ number: Int) -> JSONValue {
        var fields = Self.atom(ObjectID(.account, number))
        fields["display_name"] = .optional(references.accounts[number]?.displayName)
        return .object(fields)
    }

    func groupSummary(_ number: Int) -> JSONValue {
        var fields = Self.atom(ObjectID(.group, number))
        fields["name"] = .optional(references.groups[number]?.name)
        fields["member_type"] = .optional(references.groups[number]?.memberType)
        return .object(fields)
    }

    func tagSummary(_ number: Int) -> JSONValue {
        var fields = Self.atom(ObjectID(.tag, number))
        fields["name"] = .string(references.tags[number]?.name ?? "TAG-\(number)")
        return .object(fields)
    }

    func stage(_ stage: Stage) -> JSONValue {
        .object(["name": .string(stage.rawValue), "ordinal": .int(stage.ordinal), "display_name": .string(stage.displayName)])
    }

    /// A conversation as `viewer` may see it: customers do not see how it was triaged (routing, spam
    /// score, priority, tags).
    func conversation(_ c: Conversation, for viewer: Caller) -> JSONValue {
        guard case .object(var fields) = conversation(c), !viewer.isAgent else { return conversation(c) }
        for key in ["routing", "is_spam", "spam", "priority", "tags", "version"] { fields[key] = nil }
        return .object(fields)
    }

    func conversation(_ c: Conversation) -> JSONValue {
        var fields = Self.atom(c.id)
        fields["type"] = .string("support")
        fields["title"] = .string(c.title)
        fields["description"] = .optional(c.description)
        fields["stage"] = stage(c.stage)
        fields["state"] = .string(c.stage.state.rawValue)
        fields["status"] = .string(c.stage.state == .closed ? "closed" : "open")
        fields["owned_by"] = .array(c.ownedBy.map(devUserSummary))
        fields["members"] = .array(c.members.map(user))
        if let group = c.group { fields["group"] = groupSummary(group) }
        if let revOrg = c.revOrg {
            fields["rev_org"] = revOrgSummary(revOrg)
            fields["rev_orgs"] = .array([revOrgSummary(revOrg)])
        }
        if let account = c.account { fields["account"] = accountSummary(account) }
        fields["priority"] = .string(c.priority.rawValue)
        fields["tags"] = .array(c.tags.map { tag in
            .object(["tag": tagSummary(tag.tag), "value": .optional(tag.value)])
        })
        fields["source_channel"] = .string(c.sourceChannel)
        fields["is_spam"] = .bool(c.isSpam)
        fields["created_by"] = user(c.createdBy)
        fields["created_date"] = Timestamp.json(c.createdDate)
        fields["modified_by"] = user(c.modifiedBy)
        fields["modified_date"] = Timestamp.json(c.modifiedDate)
        fields["stage_entered_date"] = Timestamp.json(c.stageEnteredAt)
        fields["last_external_message_date"] = Timestamp.json(c.lastCustomerMessageAt)
        fields["version"] = .int(c.version)
        fields["external_ref"] = .optional(c.externalRef)
        fields["metrics"] = .object([
            "time_to_initial_response_seconds": c.timeToInitialResponseSeconds.map(JSONValue.number) ?? .null,
            "time_in_new_seconds": c.timeInNewSeconds.map(JSONValue.number) ?? .null,
            "reopen_count": .int(c.metrics.reopenCount),
            "first_response_at": c.metrics.firstResponseAt.map { .string(Timestamp.format($0)) } ?? .null,
        ])
        var routing: [String: JSONValue] = ["reason": .string(c.routing.reason.rawValue)]
        routing["rule"] = .optional(c.routing.rule)
        routing["keyword"] = .optional(c.routing.keyword)
        routing["priority_reason"] = .optional(c.routing.priorityReason)
        fields["routing"] = .object(routing)
        if let check = c.resolutionCheck {
            fields["resolution_check"] = .object([
                "awaiting_confirmation": .bool(check.awaitingConfirmation),
                "proposed_date": Timestamp.json(check.proposedAt),
                "customer_confirmed": check.confirmed.map(JSONValue.bool) ?? .null,
                "answered_date": Timestamp.json(check.answeredAt),
            ])
        }
        if let spam = c.spam {
            fields["spam"] = .object(["score": .number(spam.score), "threshold": .number(spam.threshold),
                                      "reasons": .array(spam.reasons.map(JSONValue.string))])
        }
        if let followUpOf = c.followUpOf {
            fields["is_follow_up_of"] = .object(Self.atom(ObjectID(.conversation, followUpOf)))
        }
        return .object(fields)
    }

    func timelineEntry(_ entry: TimelineEntry) -> JSONValue {
        var fields = Self.atom(entry.id)
        fields["display_id"] = nil
        let conversation = ObjectID(.conversation, entry.conversation)
        fields["type"] = .string("timeline_comment")
        fields["object"] = .string(conversation.don)
        fields["object_display_id"] = .string(conversation.displayID)
        fields["object_type"] = .string("conversation")
        fields["visibility"] = .string(entry.visibility.rawValue)
        if !entry.isDeleted {
            fields["body"] = .string(entry.body)
            fields["body_type"] = .string(entry.bodyType)
        }
        fields["is_deleted"] = .bool(entry.isDeleted)
        fields["external_ref"] = .optional(entry.externalRef)
        fields["created_by"] = user(entry.author)
        fields["created_date"] = Timestamp.json(entry.createdDate)
        fields["modified_by"] = user(entry.modifiedBy)
        fields["modified_date"] = Timestamp.json(entry.modifiedDate)
        let kind: String
        switch (entry.author, entry.visibility.isNote) {
        case (_, true): kind = "note"
        case (.revUser, false): kind = "customer_message"
        case (.devUser, false): kind = "public_reply"
        case (.system, false): kind = "system_message"
        }
        fields["comment_kind"] = .string(kind)
        return .object(fields)
    }

    /// A recorded event as a timeline entry of the `events` collection (agents only).
    func timelineEvent(sequence: Int, _ event: ChangeEvent) -> JSONValue {
        func value(_ v: EventValue?) -> JSONValue {
            switch v {
            case .text(let t)?: .string(t)
            case .list(let l)?: .array(l.map(JSONValue.string))
            case .number(let n)?: .int(n)
            case .flag(let f)?: .bool(f)
            case nil: .null
            }
        }
        var detail: [String: JSONValue] = ["kind": .string(event.kind.rawValue)]
        detail["field"] = .optional(event.field)
        // Comment bodies stay in the store's record but are not repeated here: a private note's text
        // is for its author only, and the comment itself shows the current text.
        if event.kind != .commentEdited, event.kind != .commentDeleted {
            detail["before"] = value(event.before)
            detail["after"] = value(event.after)
        }
        return .object([
            "id": .string("\(event.object.don):event/\(sequence)"),
            "type": .string("timeline_change_event"),
            "object": .string(event.object.don),
            "object_display_id": .string(event.object.displayID),
            "object_type": .string("conversation"),
            "visibility": .string("internal"),
            "body": .string(event.summary),
            "body_type": .string("text"),
            "created_by": user(event.actor),
            "created_date": Timestamp.json(event.at),
            "event": .object(detail),
        ])
    }

    func devUser(_ u: DevUser) -> JSONValue {
        var fields = Self.atom(u.id)
        fields["type"] = .string("dev_user")
        fields["email"] = .string(u.email)
        fields["display_name"] = .string(u.displayName)
        fields["full_name"] = .optional(u.fullName)
        fields["state"] = .string(u.state.rawValue)
        fields["role"] = .string(u.role.rawValue)
        fields["created_date"] = Timestamp.json(u.createdDate)
        fields["modified_date"] = Timestamp.json(u.modifiedDate)
        fields["created_by"] = user(u.createdBy)
        return .object(fields)
    }

    func revUser(_ u: RevUser) -> JSONValue {
        var fields = Self.atom(u.id)
        fields["type"] = .string("rev_user")
        fields["email"] = .optional(u.email)
        fields["display_name"] = .optional(u.displayName)
        fields["full_name"] = .optional(u.fullName)
        fields["external_ref"] = .optional(u.externalRef)
        fields["description"] = .optional(u.description)
        fields["phone_numbers"] = .array(u.phoneNumbers.map(JSONValue.string))
        fields["state"] = .string(u.state.rawValue)
        if let org = u.revOrg { fields["rev_org"] = revOrgSummary(org) }
        fields["created_date"] = Timestamp.json(u.createdDate)
        fields["modified_date"] = Timestamp.json(u.modifiedDate)
        return .object(fields)
    }

    func revOrg(_ o: RevOrg) -> JSONValue {
        var fields = Self.atom(o.id)
        fields["display_name"] = .string(o.displayName)
        fields["description"] = .optional(o.description)
        fields["external_ref"] = .optional(o.externalRef)
        fields["tier"] = .optional(o.tier)
        fields["environment"] = .optional(o.environment)
        fields["account"] = accountSummary(o.account)
        fields["created_date"] = Timestamp.json(o.createdDate)
        fields["modified_date"] = Timestamp.json(o.modifiedDate)
        return .object(fields)
    }

    func account(_ a: Account) -> JSONValue {
        var fields = Self.atom(a.id)
        fields["display_name"] = .string(a.displayName)
        fields["description"] = .optional(a.description)
        fields["domains"] = .array(a.domains.map(JSONValue.string))
        fields["websites"] = .array(a.websites.map(JSONValue.string))
        fields["external_refs"] = .array(a.externalRefs.map(JSONValue.string))
        fields["tier"] = .optional(a.tier)
        fields["owned_by"] = .array(a.ownedBy.map(devUserSummary))
        if let org = a.defaultRevOrg { fields["default_rev_org"] = revOrgSummary(org) }
        fields["created_date"] = Timestamp.json(a.createdDate)
        fields["modified_date"] = Timestamp.json(a.modifiedDate)
        return .object(fields)
    }

    func group(_ g: Group) -> JSONValue {
        var fields = Self.atom(g.id)
        fields["name"] = .string(g.name)
        fields["description"] = .optional(g.description)
        fields["member_type"] = .string(g.memberType)
        fields["type"] = .string("static")
        fields["is_default"] = .bool(false)
        if let owner = g.owner { fields["owner"] = devUserSummary(owner) }
        fields["created_date"] = Timestamp.json(g.createdDate)
        fields["modified_date"] = Timestamp.json(g.modifiedDate)
        return .object(fields)
    }

    func tag(_ t: Tag) -> JSONValue {
        var fields = Self.atom(t.id)
        fields["name"] = .string(t.name)
        fields["description"] = .optional(t.description)
        fields["allowed_values"] = .array(t.allowedValues.map(JSONValue.string))
        fields["is_system"] = .bool(t.isSystem)
        fields["created_date"] = Timestamp.json(t.createdDate)
        fields["modified_date"] = Timestamp.json(t.modifiedDate)
        return .object(fields)
    }

    func work(_ w: Work) -> JSONValue {
        var fields: [String: JSONValue] = ["id": .string(w.don), "display_id": .string(w.displayID)]
        fields["type"] = .string(w.type.rawValue)
        fields["title"] = .string(w.title)
        fields["body"] = .optional(w.body)
        fields["owned_by"] = .array(w.ownedBy.map(devUserSummary))
        fields["stage"] = .object(["name": .string(w.stage)])
        fields["state"] = .string(w.isClosed ? "closed" : "open")
        fields["created_by"] = user(w.createdBy)
        fields["created_date"] = Timestamp.json(w.createdDate)
        fields["modified_date"] = Timestamp.json(w.modifiedDate)
        return .object(fields)
    }

    func link(_ l: Link) -> JSONValue {
        func endpoint(_ id: ObjectID) -> JSONValue {
            if id.kind == .work, let work = references.works[id.number] {
                return .object(["id": .string(work.don), "display_id": .string(work.displayID), "type": .string(work.type.rawValue),
                                "title": .string(work.title), "stage": .object(["name": .string(work.stage)])])
            }
            var fields = Self.atom(id)
            fields["type"] = .string(id.kind == .conversation ? "conversation" : id.kind.rawValue)
            return .object(fields)
        }
        var fields = Self.atom(l.id)
        fields["link_type"] = .string(l.linkType.rawValue)
        fields["source"] = endpoint(l.source)
        fields["target"] = endpoint(l.target)
        fields["created_by"] = user(l.createdBy)
        fields["created_date"] = Timestamp.json(l.createdDate)
        fields["modified_date"] = Timestamp.json(l.modifiedDate)
        return .object(fields)
    }
}
