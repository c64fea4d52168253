/// Who may see a timeline entry (DevRev's visibility); `private` and `internal` entries are notes.
public enum Visibility: String, Sendable, Codable, CaseIterable {
    case `private`
    case `internal`
    case external
    case `public`

    /// Notes are for the support team only and never move a stage.
    public var isNote: Bool { self == .private || self == .internal }
}

/// A comment on a conversation's timeline: a customer message, an agent's public reply, or a note.
public struct TimelineEntry: Hashable, Sendable, Codable {
    public var number: Int
    public var conversation: Int
    public var author: Actor
    public var body: String
    public var bodyType: String
    public var visibility: Visibility
    public var externalRef: String?
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date
    /// Deleted comments keep their place in the timeline, without a body.
    public var isDeleted: Bool
    /// The files attached (artifact numbers, in the order given); stored only when there are some, so
    /// documents written before attachments existed read back unchanged.
    public var attachedArtifacts: [Int]?
    /// For a message that came by mail: the artifact holding that mail as received (agents only).
    public var originalMessage: Int?

    enum CodingKeys: String, CodingKey {
        case number, conversation, author, body, bodyType, visibility, externalRef, createdDate, modifiedBy, modifiedDate,
             isDeleted, originalMessage
        case attachedArtifacts = "artifacts"
    }

    /// The files attached, by artifact number.
    public var artifacts: [Int] {
        get { attachedArtifacts ?? [] }
        set { attachedArtifacts = newValue.isEmpty ? nil : newValue }
    }

    public init(number: Int, conversation: Int, author: Actor, body: String, bodyType: String = "text",
                visibility: Visibility, externalRef: String? = nil, at: Date) {
        self.number = number
        self.conversation = conversation
        self.author = author
        self.body = body
        self.bodyType = bodyType
        self.visibility = visibility
        self.externalRef = externalRef
        self.createdDate = at
        self.modifiedBy = author
        self.modifiedDate = at
        self.isDeleted = false
    }

    public var id: ObjectID { ObjectID(.comment, number, parent: conversation) }

    /// Whether `viewer` may see this entry: customers see external and public entries only,
    /// private entries are for their author.
    public func isVisible(to viewer: Actor) -> Bool {
        switch visibility {
        case .external, .public: true
        case .internal: !viewer.isCustomer
        case .private: viewer == author
        }
    }

    /// An edit of the body, recorded.
    public func editing(body newBody: String, by actor: Actor, at now: Date) throws(DomainError) -> (TimelineEntry, ChangeEvent) {
        guard !isDeleted else { throw .notFound("timeline entry \(id.don)") }
        guard actor == author || !actor.isCustomer else { throw .forbidden("only the author may edit this comment") }
        var next = self
        next.body = newBody
        next.modifiedBy = actor
        next.modifiedDate = now
        return (next, ChangeEvent(object: ObjectID(.conversation, conversation), actor: actor, at: now,
                                  kind: .commentEdited, field: id.don, before: .text(body), after: .text(newBody)))
    }

    /// A deletion: the entry stays, without its body, and the deletion is recorded.
    public func deleting(by actor: Actor, at now: Date) throws(DomainError) -> (TimelineEntry, ChangeEvent) {
        guard !isDeleted else { throw .notFound("timeline entry \(id.don)") }
        guard actor == author || !actor.isCustomer else { throw .forbidden("only the author may delete this comment") }
        var next = self
        next.isDeleted = true
        next.body = ""
        next.modifiedBy = actor
        next.modifiedDate = now
        return (next, ChangeEvent(object: ObjectID(.conversation, conversation), actor: actor, at: now,
                                  kind: .commentDeleted, field: id.don, before: .text(body)))
    }
}
