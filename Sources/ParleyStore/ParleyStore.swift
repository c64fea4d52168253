import ParleyCore

/// Parley's storage contract (`docs/storage.md` is the long form; `ParleyStoreContract` is its test suite,
/// which every implementation must pass unchanged).
///
/// - **Plans, not decisions.** The application layer decides; a store persists. Every write takes what a
///   use case planned (objects with their events, outbox messages, the next deadline) and stores all of it
///   atomically, or nothing. A store creates no event, publishes nothing it was not told to, and calls
///   nobody back. Closures it is given (`decide`, `make`) are pure: it may run them inside its transaction,
///   once per attempt, and must not run them again after a commit.
/// - **Atomicity and durability.** A write returns only once its transaction has committed durably; a write
///   that throws has changed nothing.
/// - **Visibility after commit.** Once a write returned, every read started afterwards, on any connection
///   (and, for a store shared by several servers, on any server), sees it.
/// - **Unique keys** are checked in the writing transaction: a conversation's `external_ref` (across all
///   conversations), a comment's `external_ref` (within its conversation), each directory object's
///   `uniqueKeys`. A duplicate throws `DomainError.conflict` and writes nothing; a retried import is
///   therefore idempotent.
/// - **Optimistic versions.** `updateConversation` hands `decide` the conversation as it is in the
///   transaction; a use case compares its version with the one the client saw (`If-Match`) and throws, so of
///   two writers that saw the same version exactly one wins.
/// - **Numbers** (conversations, comments, directory objects) come from per-kind sequences, are never reused,
///   and may have gaps (a write that failed).
/// - **Lists** are ordered totally (their sort key, then the number), paged by opaque keyset cursors that
///   stay valid while rows change, and never return a row twice or skip one that existed throughout.
/// - **The outbox rule.** Each published message gets a sequence; a reader that follows the outbox by cursor
///   (`outbox(after:)` with the last sequence it saw) never misses a message and never sees one twice,
///   whatever order concurrent transactions commit in: sequences become visible in increasing order only
///   (decision 0006). Messages at or below `outboxHorizon()` may have been pruned.
public protocol ParleyStore: Sendable {
    /// Stops the store's threads and connections. Safe to call twice; the data stays consistent whether or
    /// not it runs (a crash is a close that never ran).
    func close() async throws

    // MARK: Directory objects (people, orgs, groups, tags, links, works, webhooks)

    /// Inserts the object `make` builds from the number allocated for it, with its events; refuses a
    /// duplicate unique key with `conflict`.
    func insert<Object: DirectoryObject>(_ type: Object.Type,
                                         make: @escaping @Sendable (Int) throws -> Recorded<Object>) async throws -> Object
    /// Inserts two objects that refer to each other (an account and its default rev org) in one transaction;
    /// `make` gets both numbers.
    func insertPair<First: DirectoryObject, Second: DirectoryObject>(
        _ first: First.Type, _ second: Second.Type,
        make: @escaping @Sendable (Int, Int) throws -> (Recorded<First>, Recorded<Second>)) async throws -> (First, Second)
    /// Inserts objects with the numbers they carry unless one of that kind and number exists (deleted ones
    /// included), and moves the kind's sequence past them (the system tags). Returns those inserted.
    func seed<Object: DirectoryObject>(_ objects: [Recorded<Object>]) async throws -> [Object]
    func object<Object: DirectoryObject>(_ type: Object.Type, number: Int) async throws -> Object?
    /// Several objects at once (deleted ones included, so old references still render), by number.
    func objects<Object: DirectoryObject>(_ type: Object.Type, numbers: Set<Int>) async throws -> [Int: Object]
    /// The objects and artifacts `wanted` names, and the rev orgs of the rev users found (a person renders
    /// with their org), as `objects` and `artifacts` would find them kind by kind (`referencesKindByKind`
    /// does exactly that); a store may read them all at once.
    func references(_ wanted: ReferenceNumbers) async throws -> ReferencedObjects
    /// A customer with what a conversation they open is routed by: their rev org, its account and the
    /// account's owners, none of them deleted, as `object` would read them one after another
    /// (`customerDirectoryOneByOne` does exactly that); a store may read them at once. Empty when there is no
    /// such customer.
    func customerDirectory(revUser number: Int) async throws -> ReferencedObjects
    /// Replaces an object with what `change` makes of it (nil: no change, nothing written).
    func update<Object: DirectoryObject>(_ type: Object.Type, number: Int,
                                         change: @escaping @Sendable (Object) throws -> Recorded<Object>?) async throws -> Object
    /// Marks an object deleted (it stays readable through `objects`), with the events `record` makes of it.
    func delete<Object: DirectoryObject>(_ type: Object.Type, number: Int,
                                         record: @escaping @Sendable (Object) throws -> [ChangeEvent]) async throws
    func list<Object: DirectoryObject>(_ type: Object.Type, query: DirectoryQuery) async throws -> Page<Object>
    /// Objects with `key == value` (for lookups such as a user's email or an org's domain).
    func find<Object: DirectoryObject>(_ type: Object.Type, key: String, value: String) async throws -> [Object]

    // MARK: Conversations

    /// Stores the conversation `make` plans from its allocated number, its comments and their messages.
    func createConversation(make: @escaping @Sendable (Int) throws -> NewConversation) async throws -> Conversation
    /// Bulk loading (imports, benchmark fills): `count` conversations in one transaction. Their plans'
    /// `publishes` are honoured as for `createConversation`; external refs are not checked.
    func importConversations(count: Int, make: @escaping @Sendable (Int) throws -> NewConversation) async throws -> [Int]
    func conversation(number: Int) async throws -> Conversation?
    /// The conversation (not deleted) whose `external_ref` is `externalRef`, if any (an import's retry, the
    /// Message-ID of the mail that opened it).
    func conversation(externalRef: String) async throws -> Conversation?
    /// Loads the conversation in the transaction and stores what `decide` plans; nil: nothing changes and
    /// nothing is written (the conversation as it is is returned).
    func updateConversation(number: Int,
                            decide: @escaping @Sendable (Conversation) throws -> ConversationPlan?) async throws -> Conversation
    /// Deletes the conversation: it leaves every list, count, search and deadline; its events stay.
    func deleteConversation(number: Int, decide: @escaping @Sendable (Conversation) throws -> DeletionPlan) async throws
    func listConversations(_ query: ConversationQuery) async throws -> Page<Conversation>
    /// The numbers of the conversations `listConversations(query)` lists, in its order, without reading
    /// them (`conversationNumbersFromList` does read them; a store may read only the numbers).
    func conversationNumbers(_ query: ConversationQuery) async throws -> [Int]
    /// Conversations per stage (not deleted), kept up to date as they change rather than counted.
    func stageCounts() async throws -> [Stage: Int]

    // MARK: Timeline

    /// Adds a comment as `decide` plans it from the conversation in the transaction; returns the stored
    /// comment and the conversation it ended up on (a follow-up when the original was archived).
    func addComment(to conversation: Int,
                    decide: @escaping @Sendable (Conversation) throws -> CommentPlan) async throws -> (TimelineEntry, Conversation)
    func timelineEntry(number: Int) async throws -> TimelineEntry?
    /// The comments (not deleted) whose `external_ref` is `externalRef`, on any conversation, oldest first,
    /// at most 10 (the Message-ID of a mail a later mail answers).
    func timelineEntries(externalRef: String) async throws -> [TimelineEntry]
    /// Replaces a comment with what `change` makes of it, recording its event.
    func updateTimelineEntry(number: Int,
                             change: @escaping @Sendable (TimelineEntry, Conversation) throws -> (TimelineEntry, ChangeEvent)) async throws -> TimelineEntry
    func listTimeline(_ query: TimelineQuery) async throws -> Page<TimelineItem>
    /// Every recorded event of an object, oldest first.
    func events(of object: ObjectID) async throws -> [ChangeEvent]

    // MARK: Artifacts (files attached to comments)
    //
    // A new comment's artifacts (`CommentDraft.artifacts`, through `addComment`, `createConversation` and
    // `importConversations`) are attached to it in its transaction: each must exist, be uploaded, be its
    // author's and be attached to no comment yet; otherwise the write throws `DomainError.conflict` and
    // stores nothing. So of two comments naming one artifact exactly one gets it.

    /// Stores a new artifact `make` builds from the number allocated for it (the sequence of kind
    /// `artifact`), with its content when it comes at once (nil: prepared, uploaded later).
    func createArtifact(content: [UInt8]?, make: @escaping @Sendable (Int) throws -> Artifact) async throws -> Artifact
    /// Stores the content of a prepared artifact together with the artifact `decide` makes of it as stored
    /// (a use case refuses a second upload there); `notFound` when there is no such artifact.
    func uploadArtifact(number: Int, content: [UInt8], decide: @escaping @Sendable (Artifact) throws -> Artifact) async throws -> Artifact
    /// Several artifacts by number (those that exist).
    func artifacts(numbers: Set<Int>) async throws -> [Int: Artifact]
    /// An artifact's stored content; nil when it has none or does not exist.
    func artifactContent(number: Int) async throws -> [UInt8]?

    // MARK: Tokens and credentials

    /// Stores a token under its hash with the number allocated for it (its id, from the sequence of kind
    /// `token`), and its events; returns the number.
    @discardableResult
    func saveToken(hash: String, token: StoredToken, events: [ChangeEvent]) async throws -> Int
    func token(hash: String) async throws -> StoredToken?
    /// The token stored under `hash` with its holder as stored now (`StoredCredential`), exactly as
    /// `credentialReadApart` reads them; a store may read both at once (PostgreSQL does: one round trip
    /// per request instead of two).
    func credential(hash: String) async throws -> StoredCredential?
    /// A token by its number, revoked and expired ones included.
    func token(number: Int) async throws -> NumberedToken?
    /// Every token `subject` holds (API tokens, sessions, browser sessions), revoked and expired ones
    /// included, newest first.
    func tokens(of subject: Actor) async throws -> [NumberedToken]
    func revokeTokens(of subject: Actor) async throws
    func revokeToken(hash: String) async throws
    /// Marks the token revoked, with its events (none are recorded for one revoked already); false if there
    /// is no such token.
    @discardableResult
    func revokeToken(number: Int, events: [ChangeEvent]) async throws -> Bool
    /// Changes a dev user as `decide` plans it from the user and every active dev user, both as they are in
    /// the transaction (so a rule over several, "an active admin remains", holds against concurrent
    /// changes). When the plan says so, every token the user holds is revoked in the same transaction, so a
    /// deactivation and its revocations are stored together or not at all. Nil: nothing is written (the
    /// user as it is is returned).
    func updateDevUser(number: Int, decide: @escaping @Sendable (DevUser, _ active: [DevUser]) throws -> AccessPlan?) async throws -> DevUser
    /// A dev user's stored password hash (`pbkdf2-sha256$rounds$salt$hash`), if one was set.
    func passwordHash(of user: Int) async throws -> String?
    func setPasswordHash(_ hash: String, of user: Int, at: Date, events: [ChangeEvent]) async throws

    // MARK: Outbox

    /// Published messages after `sequence`, in sequence order (see the outbox rule above).
    func outbox(after sequence: Int, limit: Int) async throws -> [OutboxEvent]
    /// Published messages after `sequence` and at or below `latest` about conversations `member` is a member
    /// of now, in sequence order, at most `limit`: what a customer's stream reads when it is behind, filtered
    /// before any message is decoded. Fewer than `limit` means there are no others up to `latest`.
    func outbox(after sequence: Int, through latest: Int, limit: Int, about member: Actor) async throws -> [OutboxEvent]
    /// The newest published message's sequence (0 if none).
    func latestOutboxSequence() async throws -> Int
    /// The highest sequence pruned (0 if none): a reader whose cursor is below it has missed messages and
    /// must start again from the current state.
    func outboxHorizon() async throws -> Int
    /// Calls `listener` whenever this or another server may have published (a hint after a commit: it can
    /// come late or be lost, so followers poll as well). A store only one server uses need never call it.
    func onPublished(_ listener: @escaping @Sendable () -> Void)
    /// Prunes at most `limit` of the oldest messages published before `date` and at or below `sequence`
    /// (what every webhook has delivered or given up on); moves the horizon; returns how many went.
    func pruneOutbox(before date: Date, throughSequence sequence: Int, limit: Int) async throws -> Int

    // MARK: Deadlines

    /// The earliest stored deadline (each conversation's next timer), if any.
    func nextDeadline() async throws -> Date?
    /// Conversations whose deadline is at or before `date`, earliest first.
    func conversationsDue(by date: Date, limit: Int) async throws -> [(conversation: Int, due: Date)]
    /// Replaces a conversation's deadline (nil: none).
    func setDeadline(conversation: Int, due: Date?) async throws

    // MARK: Configurations

    /// Stores `document` as the next version of `kind` (versions start at 1), with the events `record` makes
    /// of the version number, and returns it.
    func saveConfiguration(kind: String, document: String, actor: Actor, at: Date,
                           record: @escaping @Sendable (Int) -> [ChangeEvent]) async throws -> StoredConfiguration
    /// The version in force: the newest.
    func latestConfiguration(kind: String) async throws -> StoredConfiguration?
    /// Only the newest version number of each kind, 0 for a kind with none (cheap: checked before each use of
    /// a compiled configuration; a new conversation checks its routing rules and spam filter at once).
    func latestConfigurationVersions(kinds: [String]) async throws -> [String: Int]
    /// Every version, newest first.
    func configurationHistory(kind: String) async throws -> [StoredConfiguration]

    // MARK: Leases

    /// Takes the lease `name` for `holder`, or renews it, until `duration` seconds from now by the
    /// database's clock (so that servers whose clocks differ agree); false while another holder's lease has
    /// not expired. Background jobs (timers, webhook deliveries, pruning) run only on the server holding
    /// their lease, so each runs once however many servers share the store, and a stopped server's jobs are
    /// taken over once its lease expires.
    func acquireLease(_ name: String, holder: String, duration: Double) async throws -> Bool
    /// Gives the lease up if `holder` has it (a server shutting down), so another takes it over at once.
    func releaseLease(_ name: String, holder: String) async throws

    // MARK: Presence

    /// Records that `agent` is on `conversation` (`state`: `viewing` or `typing`) until `until`, forgets
    /// that conversation's entries that expired by `now`, and returns the other agents there now, by agent
    /// number. Kept in the database, so agents on different servers see each other.
    func markPresence(conversation: Int, agent: Int, state: String, now: Date, until: Date) async throws -> [PresenceEntry]

    // MARK: Settings

    func setting(_ name: String) async throws -> String?
    func setSetting(_ name: String, value: String) async throws
}

/// An agent on a conversation page, and what they are doing there.
public struct PresenceEntry: Sendable, Equatable {
    public var agent: Int
    /// `viewing` or `typing`.
    public var state: String

    public init(agent: Int, state: String) {
        self.agent = agent
        self.state = state
    }
}
