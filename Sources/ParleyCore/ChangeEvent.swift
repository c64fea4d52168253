/// A value before or after a change, as recorded in the event log.
public enum EventValue: Hashable, Sendable, Codable {
    case text(String)
    case list([String])
    case number(Int)
    case flag(Bool)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) { self = .flag(value) }
        else if let value = try? container.decode(Int.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .text(value) }
        else { self = .list(try container.decode([String].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let v): try container.encode(v)
        case .list(let v): try container.encode(v)
        case .number(let v): try container.encode(v)
        case .flag(let v): try container.encode(v)
        }
    }
}

/// One recorded change to one object: who, when, what, before and after.
/// Events are appended, never edited: together they are the object's history.
public struct ChangeEvent: Hashable, Sendable, Codable {
    public enum Kind: String, Sendable, Codable {
        case created
        case deleted
        case fieldChanged = "field_changed"
        case stageChanged = "stage_changed"
        case routed
        case commentAdded = "comment_added"
        case commentEdited = "comment_edited"
        case commentDeleted = "comment_deleted"
        case followUpStarted = "follow_up_started"
        case memberAdded = "member_added"
        case tokenIssued = "token_issued"
        case tokenRevoked = "token_revoked"
        case passwordSet = "password_set"
        case spamScored = "spam_scored"
        case configurationChanged = "configuration_changed"
        /// A reply sent by mail did not reach someone (`field`: the message's id; `after`: who and why).
        case deliveryFailed = "delivery_failed"
        /// A reply was handed to the mail relay (`field`: the message's id; `after`: to whom).
        case mailSent = "mail_sent"
        /// An automatic reply (out of office, vacation) came to this conversation's mail: kept on record,
        /// changing nothing (`after`: from whom and what it said).
        case autoReplyReceived = "auto_reply_received"
        /// The conversation's CC list changed (`before`, `after`: the addresses).
        case copiesChanged = "copies_changed"
    }

    public var object: ObjectID
    public var actor: Actor
    public var at: Date
    public var kind: Kind
    /// The field that changed, for `field_changed`; the reason or rule for others.
    public var field: String?
    public var before: EventValue?
    public var after: EventValue?

    public init(object: ObjectID, actor: Actor, at: Date, kind: Kind, field: String? = nil,
                before: EventValue? = nil, after: EventValue? = nil) {
        self.object = object
        self.actor = actor
        self.at = at
        self.kind = kind
        self.field = field
        self.before = before
        self.after = after
    }

    /// A sentence an agent can read in the timeline.
    public var summary: String {
        func show(_ value: EventValue?) -> String {
            switch value {
            case .text(let v)?: v
            case .list(let v)?: v.isEmpty ? "none" : v.joined(separator: ", ")
            case .number(let v)?: String(v)
            case .flag(let v)?: v ? "yes" : "no"
            case nil: "none"
            }
        }
        switch kind {
        case .created: return "\(actor) created \(object.displayID)"
        case .deleted: return "\(actor) deleted \(object.displayID)"
        case .stageChanged:
            func stageName(_ v: EventValue?) -> String {
                if case .text(let raw)? = v, let stage = Stage(rawValue: raw) { return stage.displayName }
                return show(v)
            }
            return "Stage changed from \(stageName(before)) to \(stageName(after))" + (field.map { " (\($0))" } ?? "")
        case .fieldChanged: return "\(field ?? "field") changed from \(show(before)) to \(show(after))"
        case .routed: return "Routed to \(show(after)) (\(field ?? "reason unknown"))"
        case .commentAdded: return "\(actor) commented"
        case .commentEdited: return "\(actor) edited a comment"
        case .commentDeleted: return "\(actor) deleted a comment"
        case .followUpStarted: return "Follow-up \(show(after)) started"
        case .memberAdded: return "\(show(after)) joined"
        case .tokenIssued: return "Token issued for \(show(after))"
        case .tokenRevoked: return "\(actor) revoked \(show(after))"
        case .passwordSet: return "Password set for \(object.displayID)"
        case .spamScored: return "Spam filter: \(field ?? "") — \(show(after))"
        case .configurationChanged: return "\(field ?? "configuration") changed to version \(show(after))"
        case .deliveryFailed: return "Mail not delivered: \(show(after))"
        case .mailSent: return "Mail sent to \(show(after))"
        case .autoReplyReceived: return "Automatic reply: \(show(after))"
        case .copiesChanged: return "CC changed from \(show(before)) to \(show(after))"
        }
    }
}
