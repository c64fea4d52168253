import ParleyCore

/// Parley's storage, one use case a method: each write method loads, lets the domain decide (the closures
/// it is given are pure), and persists the result with its events in one transaction, or not at all.
/// `SQLiteStore` is the embedded implementation; a PostgreSQL one implements the same protocol.
public protocol ParleyStore: Sendable {
    // MARK: Directory objects (people, orgs, groups, tags, links)

    /// Inserts a new object made from its allocated number; refuses a duplicate unique key with `conflict`.
    func insert<Object: DirectoryObject>(_ type: Object.Type, actor: Actor, at: Date,
                                         make: @escaping @Sendable (Int) throws -> Object) async throws -> Object
    /// Inserts two objects that refer to each other (an account and its default rev org) in one transaction;
    /// `make` gets both numbers.
    func insertPair<First: DirectoryObject, Second: DirectoryObject>(
        _ first: First.Type, _ second: Second.Type, actor: Actor, at: Date,
        make: @escaping @Sendable (Int, Int) throws -> (First, Second)) async throws -> (First, Second)
    func object<Object: DirectoryObject>(_ type: Object.Type, number: Int) async throws -> Object?
    /// Several objects at once (deleted ones included, so old references still render), by number.
    func objects<Object: DirectoryObject>(_ type: Object.Type, numbers: Set<Int>) async throws -> [Int: Object]
    /// Replaces an object with what `change` makes of it; records the change.
    func update<Object: DirectoryObject>(_ type: Object.Type, number: Int, actor: Actor, at: Date,
                                         change: @escaping @Sendable (Object) throws -> Object) async throws -> Object
    func delete<Object: DirectoryObject>(_ type: Object.Type, number: Int, actor: Actor, at: Date) async throws
    func list<Object: DirectoryObject>(_ type: Object.Type, query: DirectoryQuery) async throws -> Page<Object>
    /// Objects with `key == value` (for lookups such as a user's email or an org's domain).
    func find<Object: DirectoryObject>(_ type: Object.Type, key: String, value: String) async throws -> [Object]

    // MARK: Conversations

    func createConversation(actor: Actor, at: Date,
                            make: @escaping @Sendable (Int) throws -> ConversationCreation) async throws -> Conversation
    func conversation(number: Int) async throws -> Conversation?
    /// Loads the conversation, lets `decide` change it, and stores the decision with its events.
    func updateConversation(number: Int, decide: @escaping @Sendable (Conversation) throws -> ConversationDecision) async throws -> Conversation
    func deleteConversation(number: Int, actor: Actor, at: Date,
                            check: @escaping @Sendable (Conversation) throws -> Void) async throws
    func listConversations(_ query: ConversationQuery) async throws -> Page<Conversation>

    // MARK: Timeline

    /// Adds a comment: `plan` decides what it does to the conversation; returns the stored comment
    /// and the conversation it ended up on (a follow-up when the original was archived).
    func addComment(to conversation: Int, draft: CommentDraft, externalRef: String?,
                    plan: @escaping @Sendable (Conversation) throws -> CommentPlan) async throws -> (TimelineEntry, Conversation)
    func timelineEntry(number: Int) async throws -> TimelineEntry?
    func updateTimelineEntry(number: Int,
                             change: @escaping @Sendable (TimelineEntry, Conversation) throws -> (TimelineEntry, ChangeEvent)) async throws -> TimelineEntry
    func listTimeline(_ query: TimelineQuery) async throws -> Page<TimelineItem>
    /// Every recorded event of an object, oldest first.
    func events(of object: ObjectID) async throws -> [ChangeEvent]

    // MARK: Tokens

    func saveToken(hash: String, token: StoredToken) async throws
    func token(hash: String) async throws -> StoredToken?
    func revokeTokens(of subject: Actor) async throws
    func revokeToken(hash: String) async throws

    // MARK: Outbox

    /// Published changes after `sequence`, oldest first.
    func outbox(after sequence: Int, limit: Int) async throws -> [OutboxEvent]
    /// The newest published change's sequence (0 if none).
    func latestOutboxSequence() async throws -> Int

    // MARK: Deadlines

    /// The earliest stored deadline (each conversation's next timer), if any.
    func nextDeadline() async throws -> Date?
    /// Conversations whose deadline is at or before `date`, earliest first.
    func conversationsDue(by date: Date, limit: Int) async throws -> [(conversation: Int, due: Date)]
    /// Replaces a conversation's deadline (nil: none).
    func setDeadline(conversation: Int, due: Date?) async throws

    // MARK: Configurations

    /// Stores `document` as the next version of `kind` (versions start at 1) and returns it.
    func saveConfiguration(kind: String, document: String, actor: Actor, at: Date) async throws -> StoredConfiguration
    /// The version in force: the newest.
    func latestConfiguration(kind: String) async throws -> StoredConfiguration?
    /// Only the newest version number (cheap: checked before each use of a compiled configuration).
    func latestConfigurationVersion(kind: String) async throws -> Int
    /// Every version, newest first.
    func configurationHistory(kind: String) async throws -> [StoredConfiguration]

    // MARK: Inbox

    /// Conversations per stage (not deleted), kept up to date as they change rather than counted.
    func stageCounts() async throws -> [Stage: Int]

    // MARK: Credentials

    /// A dev user's stored password hash (`pbkdf2-sha256$rounds$salt$hash`), if one was set.
    func passwordHash(of user: Int) async throws -> String?
    func setPasswordHash(_ hash: String, of user: Int, at: Date) async throws

    // MARK: Settings

    func setting(_ name: String) async throws -> String?
    func setSetting(_ name: String, value: String) async throws
}
