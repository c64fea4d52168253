import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// The objects a response names (the store's `ReferencedObjects`), read at once, so that every reference
/// renders as DevRev's summary objects with display names.
typealias References = ReferencedObjects

extension ReferencedObjects {
    /// What to load.
    typealias Wanted = ReferenceNumbers

    static func load(_ wanted: Wanted, from store: any ParleyStore) async throws -> References {
        try await store.references(wanted)
    }
}

extension ReferenceNumbers {
    /// A comment's author, editor and files.
    mutating func add(_ entry: TimelineEntry) {
        add(entry.author)
        add(entry.modifiedBy)
        artifacts.formUnion(entry.artifacts)
    }

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

/// Renders domain objects as DevRev's JSON shapes.
struct Wire {
    var references: References

    static func atom(_ id: ObjectID) -> [String: JSONValue] {
        ["id": .string(id.don), "display_id": .string(id.displayID)]
    }

    func user(_ actor: Actor) -> JSONValue { Self.rendered { writeUser(actor, into: &$0) } }

    /// Runs `body` on a new writer and wraps what it wrote.
    static func rendered(capacity: Int = 512, _ body: (inout JSONWriter) -> Void) -> JSONValue {
        var writer = JSONWriter(capacity: capacity)
        body(&writer)
        return .raw(JSONText(bytes: writer.bytes))
    }

    /// A person (or the system) as DevRev's summary object; keys in sorted order.
    func writeUser(_ actor: Actor, into w: inout JSONWriter) {
        let id = actor.objectID
        w.object { w in
            switch actor {
            case .devUser(let n):
                let user = references.devUsers[n]
                w.field("display_id", id.displayID)
                w.field("display_name", user?.displayName)
                w.field("email", user?.email)
                w.field("full_name", user?.fullName)
                w.field("id", id.don)
                w.field("state", user?.state.rawValue)
                w.field("type", "dev_user")
            case .revUser(let n):
                let user = references.revUsers[n]
                w.field("display_id", id.displayID)
                w.field("display_name", user?.displayName)
                w.field("email", user?.email)
                w.field("external_ref", user?.externalRef)
                w.field("full_name", user?.fullName)
                w.field("id", id.don)
                if let org = user?.revOrg {
                    w.key("rev_org")
                    writeRevOrgSummary(org, into: &w)
                }
                w.field("state", user?.state.rawValue)
                w.field("type", "rev_user")
            case .system:
                w.field("display_id", id.displayID)
                w.field("display_name", "Parley")
                w.field("id", id.don)
                w.field("state", "active")
                w.field("type", "sys_user")
            }
        }
    }

    func writeRevOrgSummary(_ number: Int, into w: inout JSONWriter) {
        let id = ObjectID(.revOrg, number)
        w.object { w in
            w.field("display_id", id.displayID)
            w.field("display_name", references.revOrgs[number]?.displayName)
            w.field("id", id.don)
            w.field("type", "rev_org")
        }
    }

    func devUserSummary(_ number: Int) -> JSONValue { user(.devUser(number)) }

    func revOrgSummary(_ number: Int) -> JSONValue { Self.rendered { writeRevOrgSummary(number, into: &$0) } }

    func accountSummary(_ number: Int) -> JSONValue { Self.rendered { writeAccountSummary(number, into: &$0) } }

    func writeAccountSummary(_ number: Int, into w: inout JSONWriter) {
        let id = ObjectID(.account, number)
        w.object { w in
            w.field("display_id", id.displayID)
            w.field("display_name", references.accounts[number]?.displayName)
            w.field("id", id.don)
        }
    }

    func writeGroupSummary(_ number: Int, into w: inout JSONWriter) {
        let id = ObjectID(.group, number)
        w.object { w in
            w.field("display_id", id.displayID)
            w.field("id", id.don)
            w.field("member_type", references.groups[number]?.memberType)
            w.field("name", references.groups[number]?.name)
        }
    }

    func writeTagSummary(_ number: Int, into w: inout JSONWriter) {
        let id = ObjectID(.tag, number)
        w.object { w in
            w.field("display_id", id.displayID)
            w.field("id", id.don)
            w.field("name", references.tags[number]?.name ?? "TAG-\(number)")
        }
    }

    /// People as an array of summary objects.
    func writeUsers(_ actors: some Sequence<Actor>, into w: inout JSONWriter) {
        w.array { w in
            for actor in actors {
                w.element()
                writeUser(actor, into: &w)
            }
        }
    }

    /// A conversation as `viewer` may see it: customers do not see how it was triaged (routing, spam
    /// score, priority, tags).
    func conversation(_ c: Conversation, for viewer: Caller) -> JSONValue {
        Self.rendered(capacity: 2_048) { writeConversation(c, agentView: viewer.isAgent, into: &$0) }
    }

    func conversation(_ c: Conversation) -> JSONValue {
        Self.rendered(capacity: 2_048) { writeConversation(c, agentView: true, into: &$0) }
    }

    /// DevRev's conversation object, keys in sorted order, written straight to bytes (a list page writes
    /// fifty of them).
    func writeConversation(_ c: Conversation, agentView: Bool, into w: inout JSONWriter) {
        let id = c.id
        w.object { w in
            if let account = c.account {
                w.key("account")
                writeAccountSummary(account, into: &w)
            }
            w.key("created_by")
            writeUser(c.createdBy, into: &w)
            w.field("created_date", date: c.createdDate)
            w.field("description", c.description)
            w.field("display_id", id.displayID)
            w.field("external_ref", c.externalRef)
            if let group = c.group {
                w.key("group")
                writeGroupSummary(group, into: &w)
            }
            w.field("id", id.don)
            if let followUpOf = c.followUpOf {
                let original = ObjectID(.conversation, followUpOf)
                w.key("is_follow_up_of")
                w.object { w in
                    w.field("display_id", original.displayID)
                    w.field("id", original.don)
                }
            }
            if agentView { w.field("is_spam", c.isSpam) }
            w.field("last_external_message_date", date: c.lastCustomerMessageAt)
            w.key("members")
            writeUsers(c.members, into: &w)
            w.key("metrics")
            w.object { w in
                w.key("first_response_at")
                if let first = c.metrics.firstResponseAt { w.string(Timestamp.format(first)) } else { w.null() }
                w.field("reopen_count", c.metrics.reopenCount)
                w.key("time_in_new_seconds")
                if let seconds = c.timeInNewSeconds { w.number(seconds) } else { w.null() }
                w.key("time_to_initial_response_seconds")
                if let seconds = c.timeToInitialResponseSeconds { w.number(seconds) } else { w.null() }
            }
            w.key("modified_by")
            writeUser(c.modifiedBy, into: &w)
            w.field("modified_date", date: c.modifiedDate)
            w.key("owned_by")
            writeUsers(c.ownedBy.lazy.map(Actor.devUser), into: &w)
            if agentView { w.field("priority", c.priority.rawValue) }
            if let check = c.resolutionCheck {
                w.key("resolution_check")
                w.object { w in
                    w.field("answered_date", date: check.answeredAt)
                    w.field("awaiting_confirmation", check.awaitingConfirmation)
                    w.key("customer_confirmed")
                    if let confirmed = check.confirmed { w.bool(confirmed) } else { w.null() }
                    w.field("proposed_date", date: check.proposedAt)
                }
            }
            if let revOrg = c.revOrg {
                w.key("rev_org")
                writeRevOrgSummary(revOrg, into: &w)
                w.key("rev_orgs")
                w.array { w in
                    w.element()
                    writeRevOrgSummary(revOrg, into: &w)
                }
            }
            if agentView {
                w.key("routing")
                w.object { w in
                    w.field("keyword", c.routing.keyword)
                    w.field("priority_reason", c.routing.priorityReason)
                    w.field("reason", c.routing.reason.rawValue)
                    w.field("rule", c.routing.rule)
                }
            }
            w.field("source_channel", c.sourceChannel)
            if agentView, let spam = c.spam {
                w.key("spam")
                w.object { w in
                    w.key("reasons")
                    w.strings(spam.reasons)
                    w.key("score")
                    w.number(spam.score)
                    w.key("threshold")
                    w.number(spam.threshold)
                }
            }
            w.key("stage")
            w.object { w in
                w.field("display_name", c.stage.displayName)
                w.field("name", c.stage.rawValue)
                w.field("ordinal", c.stage.ordinal)
            }
            w.field("stage_entered_date", date: c.stageEnteredAt)
            w.field("state", c.stage.state.rawValue)
            w.field("status", c.stage.state == .closed ? "closed" : "open")
            if agentView {
                w.key("tags")
                w.array { w in
                    for tag in c.tags {
                        w.element()
                        w.object { w in
                            w.key("tag")
                            writeTagSummary(tag.tag, into: &w)
                            w.field("value", tag.value)
                        }
                    }
                }
            }
            w.field("title", c.title)
            w.field("type", "support")
            if agentView { w.field("version", c.version) }
        }
    }

    func timelineEntry(_ entry: TimelineEntry) -> JSONValue {
        Self.rendered(capacity: 1_024) { writeTimelineEntry(entry, into: &$0) }
    }

    /// A comment as DevRev's `timeline_comment`, keys in sorted order.
    func writeTimelineEntry(_ entry: TimelineEntry, into w: inout JSONWriter) {
        let conversation = ObjectID(.conversation, entry.conversation)
        let kind: String
        switch (entry.author, entry.visibility.isNote) {
        case (_, true): kind = "note"
        case (.revUser, false): kind = "customer_message"
        case (.devUser, false): kind = "public_reply"
        case (.system, false): kind = "system_message"
        }
        w.object { w in
            if !entry.isDeleted, !entry.artifacts.isEmpty {
                // DevRev's artifact-summary: id, display id, file.
                w.key("artifacts")
                w.array { w in
                    for number in entry.artifacts {
                        let id = ObjectID(.artifact, number)
                        let artifact = references.artifacts[number]
                        w.element()
                        w.object { w in
                            w.field("display_id", id.displayID)
                            if let artifact {
                                w.key("file")
                                w.object { w in
                                    w.field("name", artifact.fileName)
                                    w.field("size", artifact.size)
                                    w.field("type", artifact.contentType)
                                }
                            }
                            w.field("id", id.don)
                        }
                    }
                }
            }
            if !entry.isDeleted {
                w.field("body", entry.body)
                w.field("body_type", entry.bodyType)
            }
            w.field("comment_kind", kind)
            w.key("created_by")
            writeUser(entry.author, into: &w)
            w.field("created_date", date: entry.createdDate)
            w.field("external_ref", entry.externalRef)
            w.field("id", entry.id.don)
            w.field("is_deleted", entry.isDeleted)
            w.key("modified_by")
            writeUser(entry.modifiedBy, into: &w)
            w.field("modified_date", date: entry.modifiedDate)
            w.field("object", conversation.don)
            w.field("object_display_id", conversation.displayID)
            w.field("object_type", "conversation")
            w.field("type", "timeline_comment")
            w.field("visibility", entry.visibility.rawValue)
        }
    }

    /// A recorded event as a timeline entry of the `events` collection (agents only).
    func timelineEvent(sequence: Int, _ event: ChangeEvent) -> JSONValue {
        Self.rendered(capacity: 1_024) { writeTimelineEvent(sequence: sequence, event, into: &$0) }
    }

    func writeTimelineEvent(sequence: Int, _ event: ChangeEvent, into w: inout JSONWriter) {
        func value(_ v: EventValue?, into w: inout JSONWriter) {
            switch v {
            case .text(let t)?: w.string(t)
            case .list(let l)?: w.strings(l)
            case .number(let n)?: w.int(n)
            case .flag(let f)?: w.bool(f)
            case nil: w.null()
            }
        }
        w.object { w in
            w.field("body", event.summary)
            w.field("body_type", "text")
            w.key("created_by")
            writeUser(event.actor, into: &w)
            w.field("created_date", date: event.at)
            w.key("event")
            w.object { w in
                // Comment bodies stay in the store's record but are not repeated here: a private note's text
                // is for its author only, and the comment itself shows the current text.
                let showsValues = event.kind != .commentEdited && event.kind != .commentDeleted
                if showsValues {
                    w.key("after")
                    value(event.after, into: &w)
                    w.key("before")
                    value(event.before, into: &w)
                }
                w.field("field", event.field)
                w.field("kind", event.kind.rawValue)
            }
            w.field("id", "\(event.object.don):event/\(sequence)")
            w.field("object", event.object.don)
            w.field("object_display_id", event.object.displayID)
            w.field("object_type", "conversation")
            w.field("type", "timeline_change_event")
            w.field("visibility", "internal")
        }
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
        fields["color"] = .optional(t.color)
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
