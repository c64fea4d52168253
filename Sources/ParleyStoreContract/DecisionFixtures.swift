import Foundation
import ParleyCore
import ParleyStore

/// Test fixtures: domain decisions stored as plans the way the application layer plans them (outbox
/// messages as it publishes them; no timers), so that store tests can write what they need in a line.
/// Only tests use these; the application layer makes its own plans (`ParleyApp`).
public enum DecidedComment: Sendable {
    case append(ConversationDecision)
    /// The conversation is archived: the follow-up, given its number.
    case followUp(@Sendable (Int) -> ConversationDecision)
}

extension ParleyStore {
    /// Makes the system tags exist, as `ParleyApp.prepare()` does when a server starts.
    public func seedSystemTags(at now: Date) async throws {
        _ = try await seed(SystemTag.allCases.map { tag in
            let made = tag.makeTag(at: now)
            return Recorded(made, events: [ChangeEvent(object: made.id, actor: .system, at: now, kind: .created)])
        })
    }

    /// Stores a conversation the domain opened, with its first messages.
    @discardableResult
    public func createConversation(actor: Actor, at: Date,
                                   make: @escaping @Sendable (Int) throws -> ConversationCreation) async throws -> Conversation {
        try await createConversation { number in Self.newConversation(try make(number)) }
    }

    /// Stores what the domain decided about a conversation (nothing when it changes nothing).
    @discardableResult
    public func storeDecision(number: Int,
                              _ decide: @escaping @Sendable (Conversation) throws -> ConversationDecision) async throws -> Conversation {
        try await updateConversation(number: number) { current in
            let decision = try decide(current)
            guard decision.conversation != current else { return nil }
            return ConversationPlan(conversation: decision.conversation, events: decision.events, deadline: nil,
                                    publishes: [.conversationUpdated])
        }
    }

    /// Imports conversations the domain opened (published to nobody).
    @discardableResult
    public func importCreations(count: Int, make: @escaping @Sendable (Int) throws -> ConversationCreation) async throws -> [Int] {
        try await importConversations(count: count) { number in
            var new = Self.newConversation(try make(number))
            new.plan.publishes = []
            new.comments = new.comments.map { NewComment($0.draft, externalRef: $0.externalRef, publishes: false) }
            return new
        }
    }

    /// Adds a comment with what the domain decided it does to its conversation.
    @discardableResult
    public func addComment(to conversation: Int, draft: CommentDraft, externalRef: String?,
                           plan: @escaping @Sendable (Conversation) throws -> DecidedComment) async throws -> (TimelineEntry, Conversation) {
        let comment = NewComment(draft, externalRef: externalRef)
        return try await addComment(to: conversation) { current in
            switch try plan(current) {
            case .append(let decision):
                return .append(ConversationPlan(conversation: decision.conversation, events: decision.events, deadline: nil,
                                                publishes: decision.conversation == current ? [] : [.conversationUpdated]), comment)
            case .followUp(let make):
                return .followUp(FollowUpPlan(
                    makeFollowUp: { number in
                        let decision = make(number)
                        return ConversationPlan(conversation: decision.conversation, events: decision.events, deadline: nil,
                                                publishes: [.conversationCreated])
                    },
                    recordOnOriginal: { [current.recordingFollowUp($0, by: draft.author, at: draft.at)] },
                    makeLink: { number, followUp in
                        let link = Link(number: number, linkType: .isFollowUpOf, source: ObjectID(.conversation, followUp),
                                        target: current.id, createdBy: draft.author, at: draft.at)
                        return Recorded(link, events: [ChangeEvent(object: link.id, actor: draft.author, at: draft.at, kind: .created)])
                    },
                    comment: comment))
            }
        }
    }

    /// Deletes a conversation, recording who did.
    public func deleteConversation(number: Int, actor: Actor, at: Date,
                                   check: @escaping @Sendable (Conversation) throws -> Void) async throws {
        try await deleteConversation(number: number) { current in
            try check(current)
            return DeletionPlan(events: [ChangeEvent(object: current.id, actor: actor, at: at, kind: .deleted)],
                                publishes: [.conversationDeleted])
        }
    }

    /// Inserts a directory object, recording its creation.
    @discardableResult
    public func insert<Object: DirectoryObject>(_ type: Object.Type, actor: Actor, at: Date,
                                                make: @escaping @Sendable (Int) throws -> Object) async throws -> Object {
        try await insert(type) { number in
            let object = try make(number)
            return Recorded(object, events: [ChangeEvent(object: object.id, actor: actor, at: at, kind: .created)])
        }
    }

    static func newConversation(_ creation: ConversationCreation) -> NewConversation {
        NewConversation(plan: ConversationPlan(conversation: creation.decision.conversation, events: creation.decision.events,
                                               deadline: nil, publishes: [.conversationCreated]),
                        comments: creation.comments.map { NewComment($0) })
    }
}
