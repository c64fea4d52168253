import ParleyCore

/// Which page of a list: DevRev's `cursor`, `limit` and `mode`.
public struct PageRequest: Sendable, Equatable {
    public enum Mode: String, Sendable { case after, before }
    public var cursor: String?
    public var limit: Int
    public var mode: Mode

    public init(cursor: String? = nil, limit: Int = 50, mode: Mode = .after) {
        self.cursor = cursor
        self.limit = limit
        self.mode = mode
    }
}

/// One page of a list, with the cursors to the pages around it (nil where there are none).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?
    public var prevCursor: String?

    public init(items: [Item], nextCursor: String?, prevCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
        self.prevCursor = prevCursor
    }
}

/// A time range filter (DevRev's `date-time-filter`), both ends inclusive.
public struct DateRange: Sendable, Equatable {
    public var after: Date?
    public var before: Date?

    public init(after: Date? = nil, before: Date? = nil) {
        self.after = after
        self.before = before
    }
}

public enum ConversationSort: Sendable, Equatable {
    case createdDate(descending: Bool)
    case modifiedDate(descending: Bool)
    /// Priority (p0 first when ascending), then the longest waiting first.
    case priority(descending: Bool)
}

/// A `conversations.list` request: every filter is a conjunction of "any of these values".
public struct ConversationQuery: Sendable, Equatable {
    public var stages: [Stage] = []
    /// Stages left out unless asked for (agents' lists leave out suspended spam).
    public var excludedStages: [Stage] = []
    public var ownedBy: [Int] = []
    public var revOrgs: [Int] = []
    public var groups: [Int] = []
    public var tags: [Int] = []
    public var sourceChannels: [String] = []
    public var priorities: [Priority] = []
    /// Only conversations nobody owns.
    public var unassigned = false
    public var isSpam: Bool?
    public var modified = DateRange()
    public var created = DateRange()
    /// Only conversations with one of these members (customers see their own conversations only).
    public var members: [Actor] = []
    /// Words every matching conversation has in its title or comments (prefixes match: "refu" finds "refund").
    public var text: String?
    /// Which notes `text` also searches: none (customers see titles and external comments), or internal notes
    /// and one agent's own private notes (no one else's: a search must find only what its reader may read).
    public var searchedNotes: SearchedNotes = .none
    public var sort: ConversationSort = .createdDate(descending: true)
    public var page = PageRequest()

    public init() {}
}

/// A list of directory objects: each key filter matches any of its values; all filters must match.
public struct DirectoryQuery: Sendable, Equatable {
    public var keys: [String: [String]] = [:]
    /// Keys of which at least one must match (links: source or target).
    public var anyKeys: [String: [String]] = [:]
    public var modified = DateRange()
    public var created = DateRange()
    public var sortByModified = false
    public var descending = false
    public var page = PageRequest()

    public init() {}
}

/// A `timeline-entries.list` request, seen by `viewer`.
public struct TimelineQuery: Sendable, Equatable {
    public var conversation: Int
    public var viewer: Actor
    public var visibilities: [Visibility] = []
    public var includeComments = true
    /// System events (stage changes, routing, edits): agents only.
    public var includeEvents = false
    public var created = DateRange()
    public var page = PageRequest()

    public init(conversation: Int, viewer: Actor) {
        self.conversation = conversation
        self.viewer = viewer
    }
}

/// An entry of a conversation's timeline as listed: a comment or a recorded event.
public enum TimelineItem: Sendable, Equatable {
    case comment(TimelineEntry)
    case event(sequence: Int, ChangeEvent)
}

/// What a token is for.
public enum TokenKind: String, Sendable, Codable {
    /// An agent's personal access token (and the bootstrap admin's).
    case pat
    /// A customer session, minted by the host application for its widget.
    case session
    /// An agent's signed-in browser (the inbox's session cookie); not accepted by the API.
    case webSession = "web_session"
}

public struct StoredToken: Sendable, Equatable, Codable {
    public var subject: Actor
    public var kind: TokenKind
    public var createdDate: Date
    public var expiresAt: Date?
    public var revoked: Bool
    /// The secret's last four characters, so that its holder can tell it from their others in a list
    /// (16 of its 256 random bits; tokens issued before there were hints have none).
    public var hint: String?

    public init(subject: Actor, kind: TokenKind, createdDate: Date, expiresAt: Date?, revoked: Bool = false, hint: String? = nil) {
        self.subject = subject
        self.kind = kind
        self.createdDate = createdDate
        self.expiresAt = expiresAt
        self.revoked = revoked
        self.hint = hint
    }
}

/// A token as it is listed and revoked: by its number (its id, `TOKEN-n`), never by its secret or hash.
public struct NumberedToken: Sendable, Equatable {
    public var number: Int
    public var token: StoredToken

    public init(number: Int, token: StoredToken) {
        self.number = number
        self.token = token
    }
}

/// One version of a configuration (routing rules, spam rules): kept forever, the newest in force.
public struct StoredConfiguration: Sendable, Equatable {
    public var kind: String
    public var version: Int
    public var document: String
    public var actor: Actor
    public var createdDate: Date

    public init(kind: String, version: Int, document: String, actor: Actor, createdDate: Date) {
        self.kind = kind
        self.version = version
        self.document = document
        self.actor = actor
        self.createdDate = createdDate
    }
}

/// A change to publish (server-sent events, webhooks), written in the same transaction as the change.
public struct OutboxEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case conversationCreated = "conversation_created"
        case conversationUpdated = "conversation_updated"
        case conversationDeleted = "conversation_deleted"
        case timelineEntryCreated = "timeline_entry_created"
    }

    public var sequence: Int
    public var kind: Kind
    public var at: Date
    public var conversation: Conversation
    public var oldConversation: Conversation?
    public var entry: TimelineEntry?

    public init(sequence: Int, kind: Kind, at: Date, conversation: Conversation, oldConversation: Conversation? = nil,
                entry: TimelineEntry? = nil) {
        self.sequence = sequence
        self.kind = kind
        self.at = at
        self.conversation = conversation
        self.oldConversation = oldConversation
        self.entry = entry
    }
}

/// The notes a full-text search reads besides titles and external comments.
public enum SearchedNotes: Sendable, Hashable {
    case none
    /// Internal notes, and the private notes this dev user wrote (nil: no private notes at all).
    case internalAndPrivate(of: Int?)
}

extension ParleyStore {
    /// The default of `conversationNumbers`: the listed conversations' numbers.
    public func conversationNumbersFromList(_ query: ConversationQuery) async throws -> [Int] {
        try await listConversations(query).items.map(\.number)
    }
}
