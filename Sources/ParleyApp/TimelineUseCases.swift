import ParleyCore
import ParleyStore

/// What a customer's mail adds to the comment it becomes: the addresses it was copied to, whether its
/// sender (`sender`, lowercased) was one of a conversation's copied addresses rather than a member, and
/// the artifact keeping the mail as received.
public struct MailArrival: Sendable {
    public var addresses: [String]
    public var sender: String
    public var senderIsCopied: Bool
    public var originalMessage: Int?

    public init(addresses: [String], sender: String, senderIsCopied: Bool = false, originalMessage: Int? = nil) {
        self.addresses = addresses
        self.sender = sender.lowercased()
        self.senderIsCopied = senderIsCopied
        self.originalMessage = originalMessage
    }
}

extension ParleyApp {
    /// The comment `id` names, if `caller` may see it and its conversation; otherwise the same `notFound`
    /// whatever the reason (no such comment, a note, a conversation the caller cannot see, or an id whose
    /// conversation part names another conversation), so that the answer tells nothing.
    public func visibleEntry(_ id: ObjectID, for caller: Caller) async throws -> TimelineEntry {
        let notFound = DomainError.notFound("timeline entry \(id.don)")
        guard let entry = try await store.timelineEntry(number: id.number), entry.isVisible(to: caller.actor),
              id.parent == nil || id.parent == entry.conversation else {
            throw notFound
        }
        do {
            _ = try await visibleConversation(entry.conversation, for: caller)
        } catch DomainError.notFound {
            throw notFound
        }
        return entry
    }

    /// A page of a conversation's timeline as `caller` may read it (private notes of others never appear).
    public func listTimeline(_ query: TimelineQuery, for caller: Caller) async throws -> Page<TimelineItem> {
        _ = try await visibleConversation(query.conversation, for: caller)
        var query = query
        query.viewer = caller.actor
        return try await store.listTimeline(query)
    }

    /// Adds a comment to a conversation: the stage machine decides what it does (a customer's message to an
    /// archived conversation starts a follow-up). Returns the stored comment.
    /// `artifacts`: files the caller uploaded (`uploadArtifact`), attached to the comment in its transaction;
    /// a comment with files may have no words.
    /// `mail`: for a customer's mail, the other addresses it was sent to (the conversation's CC list
    /// takes them, in the same transaction); a person already on that list may write to the conversation.
    public func addComment(to number: Int, body: String, visibility: Visibility, externalRef: String?, artifacts: [Int] = [],
                           by caller: Caller, mail: MailArrival? = nil) async throws -> TimelineEntry {
        // The common case (words, no files, not by mail): the write's own locked read of the conversation is
        // the only one, and what the read before it checked is checked there, in the same order. A customer's
        // message to an archived conversation goes the long way, which looks for its newest follow-up.
        if mail == nil, artifacts.isEmpty {
            do {
                return try await appendComment(to: number, body: body, previewed: body, visibility: visibility,
                                               externalRef: externalRef, artifacts: [], by: caller, mail: nil, checking: true)
            } catch is ArchivedForACustomer {}
        }
        var target: Conversation
        if let mail, mail.senderIsCopied, let copied = try await store.conversation(number: number),
           copied.emailCC.contains(mail.sender) {
            target = copied
        } else {
            target = try await visibleConversation(number, for: caller)
        }
        guard !body.trimmed.isEmpty || !artifacts.isEmpty else { throw DomainError.missingField("body") }
        let files = try await checkAttachable(artifacts, by: caller)
        // What the list row previews of a message that is only files: their names.
        let previewed = body.trimmed.isEmpty ? "Files: " + files.map(\.fileName).joined(separator: ", ") : body
        // An archived conversation that already has a follow-up: the customer's message goes to the newest
        // follow-up (so one archived conversation does not fork into many).
        while target.stage == .archived, caller.role == .customer, let next = try await latestFollowUp(of: target),
              next.isMember(caller.actor) {
            target = next
        }
        return try await appendComment(to: target.number, body: body, previewed: previewed, visibility: visibility,
                                       externalRef: externalRef, artifacts: artifacts, by: caller, mail: mail, checking: false)
    }

    /// A customer's message met an archived conversation in `appendComment`'s checks: `addComment` takes the
    /// long way, which finds the follow-up it belongs to.
    private struct ArchivedForACustomer: Error {}

    /// Stores the comment on conversation `number` as its stage machine decides. With `checking`, first what
    /// `visibleConversation` and `addComment` check before a write (the caller sees the conversation, the
    /// body has words, a customer's message is not for an archived conversation), on the locked conversation.
    private func appendComment(to number: Int, body: String, previewed: String, visibility: Visibility, externalRef: String?,
                               artifacts: [Int], by caller: Caller, mail: MailArrival?, checking: Bool) async throws -> TimelineEntry {
        let author = caller.actor
        let now = clock.now()
        var draft = CommentDraft(author: author, body: body, visibility: visibility, at: now, artifacts: artifacts)
        draft.originalMessage = mail?.originalMessage
        let comment = NewComment(draft,
                                 externalRef: externalRef)
        let app = self
        let (entry, conversation) = try await store.addComment(to: number) { current in
            if checking {
                guard caller.isAgent || current.isMember(author) else { throw DomainError.conversationNotFound(number) }
                guard !body.trimmed.isEmpty else { throw DomainError.missingField("body") }
                if current.stage == .archived, caller.role == .customer { throw ArchivedForACustomer() }
            }
            let (copied, copyEvents) = current.receivingMailCopies(mail?.addresses ?? [], at: now)
            switch try copied.receivingComment(by: author, visibility: visibility, body: previewed, at: now) {
            case .append(var decision):
                decision.events.insert(contentsOf: copyEvents, at: 0)
                return .append(app.appendPlan(decision, to: current, at: now), comment)
            case .startFollowUp:
                return .followUp(app.followUpPlan(of: current, comment: comment, by: author, visibility: visibility, at: now))
            }
        }
        committed(conversation)
        return entry
    }

    /// A follow-up to the archived `original`, which takes the comment and is linked to it.
    private func followUpPlan(of original: Conversation, comment: NewComment, by author: Actor, visibility: Visibility,
                              at now: Date) -> FollowUpPlan {
        FollowUpPlan(
            makeFollowUp: { number in
                var followUp = original.followUp(number: number, by: author, at: now)
                if case .append(let commented)? = try? followUp.conversation.receivingComment(by: author, visibility: visibility,
                                                                                              body: comment.draft.body, at: now) {
                    followUp.conversation = commented.conversation
                    followUp.events += commented.events
                }
                // A new conversation: there is always a plan.
                return plan(followUp, from: nil, at: now, publishes: [.conversationCreated])!
            },
            recordOnOriginal: { number in [original.recordingFollowUp(number, by: author, at: now)] },
            makeLink: { number, followUp in
                let link = Link(number: number, linkType: .isFollowUpOf, source: ObjectID(.conversation, followUp),
                                target: original.id, createdBy: author, at: now)
                return Recorded(link, events: [ChangeEvent(object: link.id, actor: author, at: now, kind: .created)])
            },
            comment: comment)
    }

    private func latestFollowUp(of conversation: Conversation) async throws -> Conversation? {
        let links = try await store.find(Link.self, key: "target", value: conversation.id.don)
        guard let newest = links.filter({ $0.linkType == .isFollowUpOf }).max(by: { $0.number < $1.number }) else { return nil }
        return try await store.conversation(number: newest.source.number)
    }

    /// Edits a comment's body (its author only, as the domain decides).
    public func editComment(_ id: ObjectID, body: String?, by caller: Caller) async throws -> TimelineEntry {
        _ = try await visibleEntry(id, for: caller)
        guard let body else { throw DomainError.missingField("body") }
        let actor = caller.actor
        let now = clock.now()
        let entry = try await store.updateTimelineEntry(number: id.number) { entry, _ in
            try entry.editing(body: body, by: actor, at: now)
        }
        try await followPreview(entry, at: now)
        return entry
    }

    /// The conversation's list-row preview follows an edit or deletion of the message it shows. A second
    /// transaction: a crash between the two leaves the old words in the preview until the next message.
    private func followPreview(_ entry: TimelineEntry, at now: Date) async throws {
        guard let conversation = try await store.conversation(number: entry.conversation),
              conversation.previewing(after: entry) != nil else { return }
        let app = self
        _ = try await store.updateConversation(number: entry.conversation) { current in
            guard let next = current.previewing(after: entry) else { return nil }
            return app.plan(ConversationDecision(conversation: next, events: []), from: current, at: now, publishes: [.conversationUpdated])
        }
    }

    /// Deletes a comment (it stays on record as deleted).
    public func deleteComment(_ id: ObjectID, by caller: Caller) async throws {
        _ = try await visibleEntry(id, for: caller)
        let actor = caller.actor
        let now = clock.now()
        let entry = try await store.updateTimelineEntry(number: id.number) { entry, _ in
            try entry.deleting(by: actor, at: now)
        }
        try await followPreview(entry, at: now)
    }
}
