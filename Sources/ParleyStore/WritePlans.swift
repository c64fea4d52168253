import ParleyCore

/// A value to store with the events that record it. The application layer makes both; the store writes
/// them together or not at all and adds nothing of its own.
public struct Recorded<Value: Sendable>: Sendable {
    public var value: Value
    public var events: [ChangeEvent]

    public init(_ value: Value, events: [ChangeEvent]) {
        self.value = value
        self.events = events
    }
}

/// A decided change to a dev user (names, role, state): the user as stored with the events recording the
/// change, and whether every token they hold is revoked with it (a deactivation).
public struct AccessPlan: Sendable {
    public var user: Recorded<DevUser>
    public var revokesTokens: Bool

    public init(user: Recorded<DevUser>, revokesTokens: Bool) {
        self.user = user
        self.revokesTokens = revokesTokens
    }
}

/// A decided change to one conversation, as the store persists it: the conversation as it is to be stored,
/// the events that record the change, its next timer, and what to publish. Nothing here is left for the
/// store to decide.
public struct ConversationPlan: Sendable, Equatable {
    public var conversation: Conversation
    public var events: [ChangeEvent]
    /// When the conversation's next timer is due (nil: it has none); kept with it, read by `conversationsDue`.
    public var deadline: Date?
    /// The outbox messages about this conversation, in order (the store attaches the documents: the
    /// conversation as stored, the one it replaced for an update, the comment for `timelineEntryCreated`).
    public var publishes: [OutboxEvent.Kind]

    public init(conversation: Conversation, events: [ChangeEvent], deadline: Date?, publishes: [OutboxEvent.Kind]) {
        self.conversation = conversation
        self.events = events
        self.deadline = deadline
        self.publishes = publishes
    }
}

/// A comment to store, with the number the store gives it.
public struct NewComment: Sendable, Equatable {
    public var draft: CommentDraft
    /// Unique within its conversation (`timeline-entries.create` idempotency): a second comment with the same
    /// reference is refused with `DomainError.conflict`.
    public var externalRef: String?
    /// Whether the comment's creation is published (`timelineEntryCreated`).
    public var publishes: Bool

    public init(_ draft: CommentDraft, externalRef: String? = nil, publishes: Bool = true) {
        self.draft = draft
        self.externalRef = externalRef
        self.publishes = publishes
    }
}

/// A new conversation and the comments it starts with.
public struct NewConversation: Sendable, Equatable {
    public var plan: ConversationPlan
    public var comments: [NewComment]

    public init(plan: ConversationPlan, comments: [NewComment]) {
        self.plan = plan
        self.comments = comments
    }
}

/// What a new comment does, as the application layer decided it from the conversation it was written to.
public enum CommentPlan: Sendable {
    /// The comment joins the conversation, which changes as planned.
    case append(ConversationPlan, NewComment)
    /// The conversation is archived: a follow-up conversation is made, linked to it, and takes the comment.
    case followUp(FollowUpPlan)
}

/// A follow-up to an archived conversation. Its parts are made from the numbers the store allocates in the
/// transaction (the follow-up's, then the link's).
public struct FollowUpPlan: Sendable {
    /// The follow-up, given its number.
    public var makeFollowUp: @Sendable (_ followUp: Int) -> ConversationPlan
    /// The events recorded on the archived conversation, given the follow-up's number (it is not changed).
    public var recordOnOriginal: @Sendable (_ followUp: Int) -> [ChangeEvent]
    /// The `is_follow_up_of` link, given its number and the follow-up's.
    public var makeLink: @Sendable (_ link: Int, _ followUp: Int) -> Recorded<Link>
    public var comment: NewComment

    public init(makeFollowUp: @escaping @Sendable (Int) -> ConversationPlan,
                recordOnOriginal: @escaping @Sendable (Int) -> [ChangeEvent],
                makeLink: @escaping @Sendable (Int, Int) -> Recorded<Link>, comment: NewComment) {
        self.makeFollowUp = makeFollowUp
        self.recordOnOriginal = recordOnOriginal
        self.makeLink = makeLink
        self.comment = comment
    }
}

/// A conversation's deletion: the events that record it and what to publish.
public struct DeletionPlan: Sendable, Equatable {
    public var events: [ChangeEvent]
    public var publishes: [OutboxEvent.Kind]

    public init(events: [ChangeEvent], publishes: [OutboxEvent.Kind]) {
        self.events = events
        self.publishes = publishes
    }
}
