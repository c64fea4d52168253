import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

extension SQLiteStore {
    // MARK: Conversations

    func loadConversation(_ db: SQLiteConnection, _ number: Int) throws -> Conversation? {
        let value = try db.scalar("SELECT doc FROM conversations WHERE number = ? AND deleted = 0", [.integer(Int64(number))])
        if value == .null { return nil }
        return try decodeDocument(Conversation.self, kind: ObjectKind.conversation.rawValue, number: number, value)
    }

    /// On the writer: the conversation as stored, from the writer's own recent ones when it has it.
    func loadForWriting(_ db: SQLiteConnection, _ number: Int) throws -> StoredConversation? {
        if let known = writerConversations.withLock({ $0[number] }) { return known }
        guard case .text(let json) = try db.scalar("SELECT doc FROM conversations WHERE number = ? AND deleted = 0",
                                                   [.integer(Int64(number))]) else { return nil }
        let stored = StoredConversation(conversation: try decoder.decode(Conversation.self, from: Data(json.utf8)), json: json)
        remember(stored)
        return stored
    }

    func remember(_ stored: StoredConversation) {
        writerConversations.withLock { known in
            if known.count >= Self.writerConversationLimit, known[stored.conversation.number] == nil { known.removeAll(keepingCapacity: true) }
            known[stored.conversation.number] = stored
        }
    }

    func forgetWrittenConversations() {
        writerConversations.withLock { $0.removeAll(keepingCapacity: true) }
    }

    /// The transaction is rolled back: nothing it wrote may be remembered, published or indexed.
    func discardUncommitted() {
        forgetWrittenConversations()
        uncommitted.withLock { $0 = Uncommitted() }
    }

    @discardableResult
    func saveConversation(_ db: SQLiteConnection, _ conversation: Conversation, deadline: Date?, previous: Conversation?,
                          remembered: Bool = true) throws -> StoredConversation {
        let number = SQLValue.integer(Int64(conversation.number))
        let written = try StoredDocument.document(conversation)
        // What the caches keep is what a read of this row decodes (see `StoredDocument.Written`).
        let stored = StoredConversation(conversation: written.readsBackExactly ? conversation : try decoder.decode(Conversation.self, from: Data(written.json.utf8)),
                                        json: written.json)
        if let previous {
            try updateConversationRow(db, conversation, json: stored.json, previous: previous)
        } else {
            // A plain INSERT: numbers are never reused, and OR REPLACE would silently delete another
            // conversation holding the same external ref (through its unique index) behind the counters' back.
            try db.run("""
            INSERT INTO conversations
            (number, doc, stage, priority, grp, rev_org, source_channel, is_spam, created_ms, modified_ms, waiting_ms, deleted, external_ref,
             unassigned)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
            """, [number, .text(stored.json), .text(conversation.stage.rawValue),
                  .integer(Int64(conversation.priority.rank)),
                  conversation.group.map { .integer(Int64($0)) } ?? .null,
                  conversation.revOrg.map { .integer(Int64($0)) } ?? .null,
                  .text(conversation.sourceChannel), .integer(conversation.isSpam ? 1 : 0),
                  Self.ms(conversation.createdDate), Self.ms(conversation.modifiedDate),
                  conversation.waitingSince.map(Self.ms) ?? .null, conversation.externalRef.map { .text($0) } ?? .null,
                  .integer(conversation.ownedBy.isEmpty ? 1 : 0)])
        }
        if let due = deadline {
            try db.run("INSERT OR REPLACE INTO deadlines (conversation, due_ms) VALUES (?, ?)", [number, Self.ms(due)])
        } else if previous != nil {
            try db.run("DELETE FROM deadlines WHERE conversation = ?", [number])
        }
        // Owners, members and tags change row by row: rows that stay are left alone, so a reply that adds the
        // agent as a member writes the agent's row and not the customer's again (each row touched is a page
        // in the commit).
        if previous?.ownedBy != conversation.ownedBy {
            let before = Set(previous?.ownedBy ?? []), after = Set(conversation.ownedBy)
            for owner in before.subtracting(after) {
                try db.run("DELETE FROM conversation_owners WHERE owner = ? AND conversation = ?", [.integer(Int64(owner)), number])
            }
            for owner in after.subtracting(before) {
                try db.run("INSERT OR IGNORE INTO conversation_owners (owner, conversation) VALUES (?, ?)", [.integer(Int64(owner)), number])
            }
        }
        if previous?.members != conversation.members {
            let before = Set((previous?.members ?? []).map(\.description)), after = Set(conversation.members.map(\.description))
            for member in before.subtracting(after) {
                try db.run("DELETE FROM conversation_members WHERE member = ? AND conversation = ?", [.text(member), number])
            }
            for member in after.subtracting(before) {
                try db.run("INSERT OR IGNORE INTO conversation_members (member, conversation) VALUES (?, ?)", [.text(member), number])
            }
        }
        if previous?.tags != conversation.tags {
            // A tag listed twice keeps its last value, as the rows always did.
            let before = Dictionary((previous?.tags ?? []).map { ($0.tag, $0.value) }, uniquingKeysWith: { $1 })
            let after = Dictionary(conversation.tags.map { ($0.tag, $0.value) }, uniquingKeysWith: { $1 })
            for tag in before.keys where after[tag] == nil {
                try db.run("DELETE FROM conversation_tags WHERE tag = ? AND conversation = ?", [.integer(Int64(tag)), number])
            }
            for (tag, value) in after where before[tag] != .some(value) {
                try db.run("INSERT OR REPLACE INTO conversation_tags (tag, conversation, value) VALUES (?, ?, ?)",
                           [.integer(Int64(tag)), number, value.map { .text($0) } ?? .null])
            }
        }
        if previous?.title != conversation.title {
            let change = TextIndexChange.title(conversation: conversation.number, title: conversation.title, isNew: previous == nil)
            uncommitted.withLock { $0.textChanges.append(change) }
        }
        if remembered {
            remember(stored)
            wrote(stored.conversation, json: stored.json, kind: ObjectKind.conversation.rawValue, number: conversation.number)
        }
        return stored
    }

    /// Updates the row of a stored conversation: its document, and of the columns lists filter and sort on only
    /// those whose value changes, so that SQLite rewrites only the indexes on them (a reply changes the stage,
    /// the waiting time and the modification time; never the creation time, the org or the external ref).
    /// The stage counters follow the stage through a trigger (schema 9).
    func updateConversationRow(_ db: SQLiteConnection, _ conversation: Conversation, json: String, previous: Conversation) throws {
        var assignments = ["doc = ?"]
        var values: [SQLValue] = [.text(json)]
        func set(_ column: String, _ value: @autoclosure () -> SQLValue, when changed: Bool) {
            guard changed else { return }
            assignments.append("\(column) = ?")
            values.append(value())
        }
        set("stage", .text(conversation.stage.rawValue), when: previous.stage != conversation.stage)
        set("priority", .integer(Int64(conversation.priority.rank)), when: previous.priority != conversation.priority)
        set("grp", conversation.group.map { .integer(Int64($0)) } ?? .null, when: previous.group != conversation.group)
        set("rev_org", conversation.revOrg.map { .integer(Int64($0)) } ?? .null, when: previous.revOrg != conversation.revOrg)
        set("source_channel", .text(conversation.sourceChannel), when: previous.sourceChannel != conversation.sourceChannel)
        set("is_spam", .integer(conversation.isSpam ? 1 : 0), when: previous.isSpam != conversation.isSpam)
        set("created_ms", Self.ms(conversation.createdDate), when: Self.ms(previous.createdDate) != Self.ms(conversation.createdDate))
        set("modified_ms", Self.ms(conversation.modifiedDate), when: Self.ms(previous.modifiedDate) != Self.ms(conversation.modifiedDate))
        set("waiting_ms", conversation.waitingSince.map(Self.ms) ?? .null,
            when: previous.waitingSince.map(Self.ms) != conversation.waitingSince.map(Self.ms))
        set("external_ref", conversation.externalRef.map { .text($0) } ?? .null, when: previous.externalRef != conversation.externalRef)
        set("unassigned", .integer(conversation.ownedBy.isEmpty ? 1 : 0), when: previous.ownedBy.isEmpty != conversation.ownedBy.isEmpty)
        values.append(.integer(Int64(conversation.number)))
        let changed = try db.run("UPDATE conversations SET \(assignments.joined(separator: ", ")) WHERE number = ? AND deleted = 0", values)
        guard changed == 1 else { throw DomainError.conversationNotFound(conversation.number) }
    }

    /// Stores a new comment; returns its JSON (the outbox document of its creation carries it).
    @discardableResult
    func insertComment(_ db: SQLiteConnection, _ entry: TimelineEntry) throws -> String {
        let written = StoredDocument.document(entry)
        let document = written.json
        wrote(written.readsBackExactly ? entry : try decoder.decode(TimelineEntry.self, from: Data(document.utf8)),
              json: document, kind: ObjectKind.comment.rawValue, number: entry.number)
        uncommitted.withLock { $0.textChanges.append(.comment(entry, isNew: true)) }
        if !entry.artifacts.isEmpty { try attachArtifacts(db, to: entry) }
        try db.run("""
            INSERT INTO timeline_entries (number, conversation, doc, visibility, author, created_ms, external_ref)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.integer(Int64(entry.number)), .integer(Int64(entry.conversation)), .text(document),
                  .text(entry.visibility.rawValue), .text(entry.author.description), Self.ms(entry.createdDate),
                  entry.externalRef.map { .text($0) } ?? .null])
        return document
    }

    /// Stores a planned conversation, its events, its comments and the outbox messages the plan names.
    func storeNew(_ db: SQLiteConnection, _ new: NewConversation, remembered: Bool = true) throws -> Conversation {
        let plan = new.plan
        let conversation = plan.conversation
        let stored = try saveConversation(db, conversation, deadline: plan.deadline, previous: nil, remembered: remembered)
        try record(db, plan.events)
        let at = plan.events.last?.at ?? conversation.modifiedDate
        for kind in plan.publishes { try publish(db, kind, stored, at: at) }
        for comment in new.comments {
            var entry = comment.draft.entry(number: try nextNumber(db, .comment), conversation: conversation.number)
            entry.externalRef = comment.externalRef
            let entryJSON = try insertComment(db, entry)
            if comment.publishes { try publish(db, .timelineEntryCreated, stored, entryJSON: entryJSON, at: comment.draft.at) }
        }
        return conversation
    }

    public func createConversation(make: @escaping @Sendable (Int) throws -> NewConversation) async throws -> Conversation {
        return try await write { [self] db in
            let new = try make(try nextNumber(db, .conversation))
            if let reference = new.plan.conversation.externalRef,
               let existing = try db.scalar("SELECT number FROM conversations WHERE external_ref = ?", [.text(reference)]).int {
                throw DomainError.conflict("conversation \(ObjectID(.conversation, existing).displayID) already has external_ref '\(reference)'")
            }
            return try storeNew(db, new)
        }
    }

    /// Bulk loading (benchmark fills, imports): stores `count` conversations made by `make` in one
    /// transaction, with its statement journal in a file. Checks no external refs. Returns the numbers given out.
    public func importConversations(count: Int, make: @escaping @Sendable (Int) throws -> NewConversation) async throws -> [Int] {
        try await write(bulk: true) { [self] db in
            var numbers: [Int] = []
            numbers.reserveCapacity(count)
            for _ in 0..<count {
                let new = try make(try nextNumber(db, .conversation))
                numbers.append(try storeNew(db, new, remembered: false).number)
            }
            return numbers
        }
    }

    public func conversation(number: Int) async throws -> Conversation? {
        try lookup { [self] db in try loadConversation(db, number) }
    }

    public func conversation(externalRef: String) async throws -> Conversation? {
        try lookup { [self] db in
            guard let number = try db.scalar("SELECT number FROM conversations WHERE external_ref = ? AND deleted = 0", [.text(externalRef)]).int else {
                return nil
            }
            return try loadConversation(db, number)
        }
    }


    public func updateConversation(number: Int,
                                   decide: @escaping @Sendable (Conversation) throws -> ConversationPlan?) async throws -> Conversation {
        return try await write { [self] db in
            guard let current = try loadForWriting(db, number) else {
                throw DomainError.conversationNotFound(number)
            }
            guard let plan = try decide(current.conversation) else { return current.conversation }
            let stored = try saveConversation(db, plan.conversation, deadline: plan.deadline, previous: current.conversation)
            try record(db, plan.events)
            let at = plan.events.last?.at ?? plan.conversation.modifiedDate
            for kind in plan.publishes { try publish(db, kind, stored, old: current, at: at) }
            return plan.conversation
        }
    }

    public func deleteConversation(number: Int, decide: @escaping @Sendable (Conversation) throws -> DeletionPlan) async throws {
        try await write { [self] db in
            guard let current = try loadForWriting(db, number) else {
                throw DomainError.conversationNotFound(number)
            }
            let plan = try decide(current.conversation)
            let at = plan.events.last?.at ?? current.conversation.modifiedDate
            try db.run("UPDATE conversations SET deleted = 1, modified_ms = ? WHERE number = ?",
                       [Self.ms(at), .integer(Int64(number))])
            try db.run("DELETE FROM deadlines WHERE conversation = ?", [.integer(Int64(number))])
            writerConversations.withLock { _ = $0.removeValue(forKey: number) }
            let comments = try db.query("SELECT number FROM timeline_entries WHERE conversation = ?", [.integer(Int64(number))]).compactMap { $0.first?.int }
            uncommitted.withLock { $0.textChanges.append(.removed(conversation: number, comments: comments)) }
            try record(db, plan.events)
            for kind in plan.publishes { try publish(db, kind, current, at: at) }
        }
    }
}
