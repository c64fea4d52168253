/// What a new conversation starts from (DevRev's `conversations.create`), after ids are resolved.
public struct ConversationDraft: Sendable, Equatable {
    public var title: String
    public var description: String?
    public var sourceChannel: String
    public var ownedBy: [Int]?
    public var group: Int?
    public var members: [Actor]
    public var revOrg: Int?
    public var account: Int?
    public var priority: Priority?
    public var tags: [TagValue]
    public var isSpam: Bool
    public var stage: Stage?
    /// Initial messages, written by the creator.
    public var messages: [String]
    /// The client's own id for the conversation: a retry with the same one is refused, never duplicated.
    public var externalRef: String?
    /// For a conversation opened by mail: the other addresses on that mail (`Conversation.emailCC`).
    public var emailCC: [String] = []

    public init(title: String, description: String? = nil, sourceChannel: String = "api", ownedBy: [Int]? = nil,
                group: Int? = nil, members: [Actor] = [], revOrg: Int? = nil, account: Int? = nil,
                priority: Priority? = nil, tags: [TagValue] = [], isSpam: Bool = false, stage: Stage? = nil,
                messages: [String] = []) {
        self.title = title
        self.description = description
        self.sourceChannel = sourceChannel
        self.ownedBy = ownedBy
        self.group = group
        self.members = members
        self.revOrg = revOrg
        self.account = account
        self.priority = priority
        self.tags = tags
        self.isSpam = isSpam
        self.stage = stage
        self.messages = messages
    }
}

/// A new conversation, its history so far, and the comments to store with it.
public struct ConversationCreation: Sendable, Equatable {
    public var decision: ConversationDecision
    public var comments: [CommentDraft]
}

/// A comment decided but not yet stored (the store gives it its number).
public struct CommentDraft: Sendable, Equatable {
    public var author: Actor
    public var body: String
    public var visibility: Visibility
    public var at: Date
    /// Artifact numbers the comment carries; the store attaches them to it in its transaction.
    public var artifacts: [Int]
    /// The received mail it came from, kept as an artifact (`TimelineEntry.originalMessage`).
    public var originalMessage: Int?

    public init(author: Actor, body: String, visibility: Visibility, at: Date, artifacts: [Int] = []) {
        self.author = author
        self.body = body
        self.visibility = visibility
        self.at = at
        self.artifacts = artifacts
    }

    public func entry(number: Int, conversation: Int) -> TimelineEntry {
        var entry = TimelineEntry(number: number, conversation: conversation, author: author, body: body, visibility: visibility, at: at)
        entry.artifacts = artifacts
        entry.originalMessage = originalMessage
        return entry
    }
}

extension Conversation {
    /// Opens a conversation: valid ones start in New and are routed as `routing` decided; spam (flagged, or
    /// judged so by the filter) starts in Suspended, unrouted until a reviewer approves it.
    public static func open(number: Int, draft: ConversationDraft, routing: RoutingDecision, spam: SpamAssessment? = nil,
                            by creator: Actor, at now: Date) throws(DomainError) -> ConversationCreation {
        let title = draft.title.trimmed
        guard !title.isEmpty || !draft.messages.isEmpty else { throw .missingField("title") }
        let flagged = draft.isSpam || spam?.isSpam == true
        let initialStage: Stage
        switch draft.stage {
        case nil, .new?: initialStage = flagged ? .suspended : .new
        case .suspended?: initialStage = .suspended
        case let other?:
            throw .transitionRefused(current: .new, allowed: [.new, .suspended],
                                     message: "a conversation starts in new or suspended, not \(other.rawValue)")
        }
        var owners = routing.owners
        var record = routing.record
        var group = draft.group ?? routing.group
        if initialStage == .suspended, draft.ownedBy?.isEmpty ?? true {
            owners = []
            group = draft.group
            record = RoutingRecord(reason: .pendingReview, priorityReason: routing.record.priorityReason)
        }
        var members = draft.members
        if case .system = creator {} else if !members.contains(creator) { members.insert(creator, at: 0) }
        var metrics = ConversationMetrics()
        metrics.hasBeenInNew = initialStage == .new
        let firstTitle = title.isEmpty ? String(draft.messages[0].prefix(80)) : title
        var conversation = Conversation(
            number: number, title: firstTitle, description: draft.description, sourceChannel: draft.sourceChannel,
            stage: initialStage, stageEnteredAt: now, ownedBy: owners, group: group, members: members,
            revOrg: draft.revOrg, account: draft.account, priority: routing.priority, tags: draft.tags,
            isSpam: initialStage == .suspended, createdBy: creator, createdDate: now, modifiedBy: creator,
            modifiedDate: now, metrics: metrics, routing: record, followUpOf: nil,
            waitingSince: initialStage == .new ? now : nil, lastCustomerMessageAt: nil, lastAgentReplyAt: nil,
            version: 1)
        let id = conversation.id
        var events = [
            ChangeEvent(object: id, actor: creator, at: now, kind: .created, after: .text(initialStage.rawValue)),
            ChangeEvent(object: id, actor: .system, at: now, kind: .routed, field: record.summary,
                        after: .list(owners.map { ObjectID(.devUser, $0).displayID })),
        ]
        conversation.spam = spam
        conversation.externalRef = draft.externalRef
        conversation.emailCC = EmailCopies.merged([], draft.emailCC)
        if let spam, !spam.reasons.isEmpty {
            events.append(ChangeEvent(object: id, actor: .system, at: now, kind: .spamScored,
                                      field: spam.isSpam ? "suspended" : "below threshold",
                                      before: .number(Int(spam.threshold * 1000)), after: .list(spam.reasons)))
        }
        var comments: [CommentDraft] = []
        for message in draft.messages where !message.isEmpty {
            let author = creator
            comments.append(CommentDraft(author: author, body: message, visibility: .external, at: now))
            // A suspended conversation's messages wait for review: they move nothing.
            if conversation.stage == .suspended {
                events.append(ChangeEvent(object: id, actor: author, at: now, kind: .commentAdded, field: Visibility.external.rawValue))
                continue
            }
            guard case .append(let decision) = try conversation.receivingComment(by: author, visibility: .external, body: message, at: now) else {
                break
            }
            conversation = decision.conversation
            events += decision.events
        }
        return ConversationCreation(decision: ConversationDecision(conversation: conversation, events: events),
                                    comments: comments)
    }

    /// A new conversation that follows this archived one, started by `customer`'s message.
    public func followUp(number: Int, by customer: Actor, at now: Date) -> ConversationDecision {
        var metrics = ConversationMetrics()
        metrics.hasBeenInNew = true
        var next = Conversation(
            number: number, title: title.hasPrefix("Follow-up: ") ? title : "Follow-up: \(title)",
            description: description, sourceChannel: sourceChannel, stage: .new, stageEnteredAt: now,
            ownedBy: ownedBy, group: group, members: members, revOrg: revOrg, account: account, priority: priority,
            tags: [], isSpam: false, createdBy: customer, createdDate: now, modifiedBy: customer, modifiedDate: now,
            metrics: metrics, routing: RoutingRecord(reason: .explicit, rule: "follow_up_of \(id.displayID)"),
            followUpOf: number == self.number ? nil : self.number, waitingSince: now, lastCustomerMessageAt: nil,
            lastAgentReplyAt: nil, version: 1)
        next.emailCC = emailCC
        return ConversationDecision(conversation: next, events: [
            ChangeEvent(object: next.id, actor: customer, at: now, kind: .created, field: "follow_up_of",
                        after: .text(id.displayID)),
        ])
    }

    /// The record on the archived conversation that a follow-up started.
    public func recordingFollowUp(_ followUp: Int, by customer: Actor, at now: Date) -> ChangeEvent {
        ChangeEvent(object: id, actor: customer, at: now, kind: .followUpStarted,
                    after: .text(ObjectID(.conversation, followUp).displayID))
    }
}

/// How a tag list changes (DevRev's `{set}` or `{add, remove}`).
public struct TagChange: Sendable, Equatable {
    public var set: [TagValue]?
    public var add: [TagValue]
    public var remove: [Int]

    public init(set: [TagValue]? = nil, add: [TagValue] = [], remove: [Int] = []) {
        self.set = set
        self.add = add
        self.remove = remove
    }

    public func applied(to tags: [TagValue]) -> [TagValue] {
        var result = set ?? tags
        result.removeAll { remove.contains($0.tag) }
        for tag in add {
            if let index = result.firstIndex(where: { $0.tag == tag.tag }) { result[index] = tag } else { result.append(tag) }
        }
        return result
    }
}

/// An update to a conversation (DevRev's `conversations.update`), after ids are resolved.
public struct ConversationChange: Sendable, Equatable {
    public var title: String?
    public var description: String?
    public var ownedBy: [Int]?
    public var group: Int??
    public var members: [Actor]?
    public var tags: TagChange?
    public var priority: Priority?
    public var isSpam: Bool?
    public var stage: Stage?
    public var sourceChannel: String?
    /// Where an approved conversation (suspended → new) goes: routed as a new one would be.
    public var routingOnApproval: RoutingDecision?
    /// How many of the conversation's dependencies are open (for `Blocked` on entering hold).
    public var openDependencies: Int?

    public init(title: String? = nil, description: String? = nil, ownedBy: [Int]? = nil, group: Int?? = nil,
                members: [Actor]? = nil, tags: TagChange? = nil, priority: Priority? = nil, isSpam: Bool? = nil,
                stage: Stage? = nil, sourceChannel: String? = nil) {
        self.title = title
        self.description = description
        self.ownedBy = ownedBy
        self.group = group
        self.members = members
        self.tags = tags
        self.priority = priority
        self.isSpam = isSpam
        self.stage = stage
        self.sourceChannel = sourceChannel
    }

    /// Fields a customer may change on their own conversation.
    public var isCustomerEditable: Bool {
        ownedBy == nil && group == nil && members == nil && tags == nil && priority == nil && isSpam == nil
            && stage == nil && sourceChannel == nil
    }
}

extension Conversation {
    /// Applies an update: fields first, then the stage (so a resolution tag set in the same update counts).
    /// A refused stage change refuses the whole update.
    public func applying(_ change: ConversationChange, by actor: Actor, at now: Date) throws(DomainError) -> ConversationDecision {
        var next = self
        var events: [ChangeEvent] = []
        func record(_ field: String, _ before: EventValue?, _ after: EventValue?) {
            guard before != after else { return }
            events.append(ChangeEvent(object: id, actor: actor, at: now, kind: .fieldChanged, field: field,
                                      before: before, after: after))
        }
        if let title = change.title {
            let trimmed = title.trimmed
            guard !trimmed.isEmpty else { throw .invalidField("title", message: "must not be empty") }
            record("title", .text(next.title), .text(trimmed))
            next.title = trimmed
        }
        if let description = change.description {
            record("description", next.description.map(EventValue.text), .text(description))
            next.description = description
        }
        if let owners = change.ownedBy {
            record("owned_by", .list(next.ownedBy.map { ObjectID(.devUser, $0).displayID }),
                   .list(owners.map { ObjectID(.devUser, $0).displayID }))
            if owners != next.ownedBy {
                next.routing = RoutingRecord(reason: .explicit)
            }
            next.ownedBy = owners
        }
        if let group = change.group {
            record("group", next.group.map { .text(ObjectID(.group, $0).displayID) },
                   group.map { .text(ObjectID(.group, $0).displayID) })
            next.group = group
        }
        if let members = change.members {
            record("members", .list(next.members.map(\.description)), .list(members.map(\.description)))
            next.members = members
        }
        if let tags = change.tags {
            // Tags the server keeps true are neither set nor cleared by hand, whatever the request says.
            var updated = tags.applied(to: next.tags).filter { !SystemTag.serverKept.contains($0.tag) }
            updated += next.tags.filter { SystemTag.serverKept.contains($0.tag) }
            record("tags", .list(next.tags.map(\.recorded)), .list(updated.map(\.recorded)))
            // Priority/Escalated raises the priority one level while it is on.
            let escalated = SystemTag.priorityEscalated.number
            let was = next.tags.contains { $0.tag == escalated }, now = updated.contains { $0.tag == escalated }
            if change.priority == nil, was != now {
                let priority = now ? next.priority.raised : next.priority.lowered
                record("priority", .text(next.priority.rawValue), .text(priority.rawValue))
                next.priority = priority
            }
            next.tags = updated
        }
        if let priority = change.priority {
            record("priority", .text(next.priority.rawValue), .text(priority.rawValue))
            next.priority = priority
        }
        if let channel = change.sourceChannel {
            record("source_channel", .text(next.sourceChannel), .text(channel))
            next.sourceChannel = channel
        }
        var stageInput: StageInput?
        if let stage = change.stage {
            stageInput = .explicit(stage)
        } else if change.isSpam == true, next.stage == .new {
            stageInput = .spamVerdict
        } else if let isSpam = change.isSpam {
            record("is_spam", .flag(next.isSpam), .flag(isSpam))
            next.isSpam = isSpam
        }
        if let stageInput {
            let moved = try next.applying(stageInput, by: actor, at: now)
            next = moved.conversation
            events += moved.events
            if stage == .suspended, next.stage == .new, let routing = change.routingOnApproval {
                if next.ownedBy.isEmpty { next.ownedBy = routing.owners }
                if next.group == nil { next.group = routing.group }
                next.routing = routing.record
                events.append(ChangeEvent(object: id, actor: .system, at: now, kind: .routed, field: routing.record.summary,
                                          after: .list(next.ownedBy.map { ObjectID(.devUser, $0).displayID })))
            }
        }
        if !events.isEmpty, next.version == version { next.touch(by: actor, at: now) }
        var decision = ConversationDecision(conversation: next, events: events)
        if next.stage == .hold, stage != .hold, let open = change.openDependencies {
            decision.setSystemTag(.blocked, on: open > 0, reason: "\(open) open dependencies", at: now)
        }
        return decision
    }
}
