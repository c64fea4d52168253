import Foundation
import ParleyCore
import ParleyStore

/// A conversation with the JSON it is stored as (outbox documents carry the JSON as stored).
struct StoredConversation: Sendable {
    var conversation: Conversation
    var json: String
}

extension PostgresWrite {
    /// The conversation as stored, its row locked until the transaction ends (a second writer waits, then
    /// decides on what this one stored). With `reserving`, the same statement takes that kind's next number
    /// for the transaction's `nextNumber` (a comment's, when one will be added).
    func loadForWriting(_ number: Int, reserving kind: ObjectKind? = nil) async throws -> StoredConversation? {
        let row: [PGValue]?
        if let kind {
            row = try await query("SELECT doc, nextval(?::regclass) FROM conversations WHERE number = ? AND NOT deleted FOR UPDATE",
                                  [.text("number_\(kind.rawValue)"), .integer(number)]).first
        } else {
            row = try await query("SELECT doc FROM conversations WHERE number = ? AND NOT deleted FOR UPDATE", [.integer(number)]).first
        }
        guard let row, case .text(let json) = row[0] else { return nil }
        if let kind, row.count > 1, let reserved = row[1].int { reserve(reserved, of: kind) }
        return StoredConversation(conversation: try PostgresStore.decode(Conversation.self, .text(json)), json: json)
    }

    @discardableResult
    func saveConversation(_ conversation: Conversation, deadline: Date?, previous: Conversation?) async throws -> StoredConversation {
        let number = PGValue.integer(conversation.number)
        let written = try StoredDocument.document(conversation)
        let stored = StoredConversation(
            conversation: written.readsBackExactly ? conversation : try PostgresStore.decode(Conversation.self, .text(written.json)),
            json: written.json)
        if let previous {
            try await updateConversationRow(conversation, json: stored.json, previous: previous)
            if previous.stage != conversation.stage {
                countStage(previous.stage, -1)
                countStage(conversation.stage, 1)
            }
        } else {
            try await later("""
                INSERT INTO conversations
                (number, doc, stage, priority, grp, rev_org, source_channel, is_spam, created_ms, modified_ms, waiting_ms, external_ref,
                 unassigned)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [number, .text(stored.json), .text(conversation.stage.rawValue), .integer(conversation.priority.rank),
                      .optional(conversation.group), .optional(conversation.revOrg), .text(conversation.sourceChannel),
                      .bool(conversation.isSpam), .ms(conversation.createdDate), .ms(conversation.modifiedDate),
                      conversation.waitingSince.map(PGValue.ms) ?? .null, .optional(conversation.externalRef),
                      .bool(conversation.ownedBy.isEmpty)], key: "conversation:\(conversation.number)")
            countStage(conversation.stage, 1)
        }
        if let due = deadline {
            try await later("""
                INSERT INTO deadlines (conversation, due_ms) VALUES (?, ?)
                ON CONFLICT (conversation) DO UPDATE SET due_ms = excluded.due_ms
                """, [number, .ms(due)], key: "deadline:\(conversation.number)")
        } else if previous != nil {
            try await later("DELETE FROM deadlines WHERE conversation = ?", [number], key: "deadline:\(conversation.number)")
        }
        if previous?.ownedBy != conversation.ownedBy {
            let before = Set(previous?.ownedBy ?? []), after = Set(conversation.ownedBy)
            let gone = before.subtracting(after), added = after.subtracting(before)
            if !gone.isEmpty {
                try await later("DELETE FROM conversation_owners WHERE conversation = ? AND owner = ANY(?::bigint[])", [number, .integers(Array(gone))],
                                key: "owners-gone:\(conversation.number)")
            }
            if !added.isEmpty {
                try await later("INSERT INTO conversation_owners (owner, conversation) SELECT unnest(?::bigint[]), ? ON CONFLICT DO NOTHING",
                                [.integers(Array(added)), number], key: "owners-added:\(conversation.number)")
            }
        }
        if previous?.members != conversation.members {
            let before = Set((previous?.members ?? []).map(\.description)), after = Set(conversation.members.map(\.description))
            let gone = before.subtracting(after), added = after.subtracting(before)
            if !gone.isEmpty {
                try await later("DELETE FROM conversation_members WHERE conversation = ? AND member = ANY(?::text[])", [number, .texts(Array(gone))],
                                key: "members-gone:\(conversation.number)")
            }
            if !added.isEmpty {
                try await later("INSERT INTO conversation_members (member, conversation) SELECT unnest(?::text[]), ? ON CONFLICT DO NOTHING",
                                [.texts(Array(added)), number], key: "members-added:\(conversation.number)")
            }
        }
        if previous?.tags != conversation.tags {
            // A tag listed twice keeps its last value, as on SQLite.
            let before = Dictionary((previous?.tags ?? []).map { ($0.tag, $0.value) }, uniquingKeysWith: { $1 })
            let after = Dictionary(conversation.tags.map { ($0.tag, $0.value) }, uniquingKeysWith: { $1 })
            let gone = before.keys.filter { after[$0] == nil }
            if !gone.isEmpty {
                try await later("DELETE FROM conversation_tags WHERE conversation = ? AND tag = ANY(?::bigint[])", [number, .integers(gone)],
                                key: "tags-gone:\(conversation.number)")
            }
            for (tag, value) in after where before[tag] != .some(value) {
                try await later("""
                    INSERT INTO conversation_tags (tag, conversation, value) VALUES (?, ?, ?)
                    ON CONFLICT (tag, conversation) DO UPDATE SET value = excluded.value
                    """, [.integer(tag), number, .optional(value)], key: "tag:\(conversation.number):\(tag)")
            }
        }
        if previous?.title != conversation.title {
            try await index(id: -conversation.number, conversation: conversation.number, readers: 0, text: conversation.title)
        }
        return stored
    }

    /// Updates a stored conversation's row: its document and the columns whose value changes.
    func updateConversationRow(_ conversation: Conversation, json: String, previous: Conversation) async throws {
        var assignments = ["doc = ?"]
        var values: [PGValue] = [.text(json)]
        func set(_ column: String, _ value: @autoclosure () -> PGValue, when changed: Bool) {
            guard changed else { return }
            assignments.append("\(column) = ?")
            values.append(value())
        }
        set("stage", .text(conversation.stage.rawValue), when: previous.stage != conversation.stage)
        set("priority", .integer(conversation.priority.rank), when: previous.priority != conversation.priority)
        set("grp", .optional(conversation.group), when: previous.group != conversation.group)
        set("rev_org", .optional(conversation.revOrg), when: previous.revOrg != conversation.revOrg)
        set("source_channel", .text(conversation.sourceChannel), when: previous.sourceChannel != conversation.sourceChannel)
        set("is_spam", .bool(conversation.isSpam), when: previous.isSpam != conversation.isSpam)
        set("created_ms", .ms(conversation.createdDate), when: PGValue.ms(previous.createdDate) != PGValue.ms(conversation.createdDate))
        set("modified_ms", .ms(conversation.modifiedDate), when: PGValue.ms(previous.modifiedDate) != PGValue.ms(conversation.modifiedDate))
        set("waiting_ms", conversation.waitingSince.map(PGValue.ms) ?? .null,
            when: previous.waitingSince.map(PGValue.ms) != conversation.waitingSince.map(PGValue.ms))
        set("external_ref", .optional(conversation.externalRef), when: previous.externalRef != conversation.externalRef)
        set("unassigned", .bool(conversation.ownedBy.isEmpty), when: previous.ownedBy.isEmpty != conversation.ownedBy.isEmpty)
        values.append(.integer(conversation.number))
        let number = conversation.number
        try await later("UPDATE conversations SET \(assignments.joined(separator: ", ")) WHERE number = ? AND NOT deleted", values,
                        key: "conversation:\(conversation.number)") { changed in
            guard changed == 1 else { throw DomainError.conversationNotFound(number) }
        }
    }

    /// Stores a new comment; returns its JSON (the outbox document of its creation carries it).
    @discardableResult
    func insertComment(_ entry: TimelineEntry) async throws -> String {
        let document = StoredDocument.document(entry).json
        if !entry.artifacts.isEmpty { try await attachArtifacts(to: entry) }
        try await later("""
            INSERT INTO timeline_entries (number, conversation, doc, visibility, author, created_ms, external_ref)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.integer(entry.number), .integer(entry.conversation), .text(document), .text(entry.visibility.rawValue),
                  .text(entry.author.description), .ms(entry.createdDate), .optional(entry.externalRef)], key: "entry:\(entry.number)")
        if !entry.isDeleted {
            try await index(id: entry.number, conversation: entry.conversation, readers: PostgresStore.searchReaders(of: entry), text: entry.body)
        }
        return document
    }

    /// An outbox document: the conversation as stored (and the one it replaced, and the comment), assembled
    /// from their stored JSON as the SQLite store writes it.
    func publish(_ kind: OutboxEvent.Kind, _ conversation: StoredConversation, old: StoredConversation? = nil,
                 entryJSON: String? = nil, at: Date) {
        var document = "{\"conversation\":" + conversation.json
        if let entryJSON { document += ",\"entry\":" + entryJSON }
        if let old { document += ",\"oldConversation\":" + old.json }
        document += "}"
        publish(kind, conversation: conversation.conversation.number, at: at, document: document)
    }

    /// Stores a planned conversation, its events, its comments and the outbox messages the plan names.
    func storeNew(_ new: NewConversation) async throws -> Conversation {
        let plan = new.plan
        let conversation = plan.conversation
        let stored = try await saveConversation(conversation, deadline: plan.deadline, previous: nil)
        try await record(plan.events)
        let at = plan.events.last?.at ?? conversation.modifiedDate
        for kind in plan.publishes { publish(kind, stored, at: at) }
        for comment in new.comments {
            var entry = comment.draft.entry(number: try await nextNumber(.comment), conversation: conversation.number)
            entry.externalRef = comment.externalRef
            let entryJSON = try await insertComment(entry)
            if comment.publishes { publish(.timelineEntryCreated, stored, entryJSON: entryJSON, at: comment.draft.at) }
        }
        return conversation
    }
}

extension PostgresStore {
    public func createConversation(make: @escaping @Sendable (Int) throws -> NewConversation) async throws -> Conversation {
        try await write { db in
            let new = try make(try await db.nextNumber(.conversation, reserving: .comment))
            if let reference = new.plan.conversation.externalRef,
               let existing = try await db.scalar("SELECT number FROM conversations WHERE external_ref = ?", [.text(reference)]).int {
                throw DomainError.conflict("conversation \(ObjectID(.conversation, existing).displayID) already has external_ref '\(reference)'")
            }
            return try await db.storeNew(new)
        }
    }

    public func importConversations(count: Int, make: @escaping @Sendable (Int) throws -> NewConversation) async throws -> [Int] {
        try await write { db in
            var numbers: [Int] = []
            numbers.reserveCapacity(count)
            for _ in 0..<count {
                let new = try make(try await db.nextNumber(.conversation))
                numbers.append(try await db.storeNew(new).number)
            }
            return numbers
        }
    }

    public func conversation(number: Int) async throws -> Conversation? {
        try await read { db in
            let value = try await db.scalar("SELECT doc FROM conversations WHERE number = ? AND NOT deleted", [.integer(number)])
            return value == .null ? nil : try self.cached(Conversation.self, kind: "conversation", number: number, value)
        }
    }

    public func conversation(externalRef: String) async throws -> Conversation? {
        let number = try await read { db in
            try await db.scalar("SELECT number FROM conversations WHERE external_ref = ? AND NOT deleted", [.text(externalRef)]).int
        }
        guard let number else { return nil }
        return try await conversation(number: number)
    }

    public func updateConversation(number: Int,
                                   decide: @escaping @Sendable (Conversation) throws -> ConversationPlan?) async throws -> Conversation {
        try await write { db in
            guard let current = try await db.loadForWriting(number) else {
                throw DomainError.conversationNotFound(number)
            }
            guard let plan = try decide(current.conversation) else { return current.conversation }
            let stored = try await db.saveConversation(plan.conversation, deadline: plan.deadline, previous: current.conversation)
            try await db.record(plan.events)
            let at = plan.events.last?.at ?? plan.conversation.modifiedDate
            for kind in plan.publishes { db.publish(kind, stored, old: current, at: at) }
            return plan.conversation
        }
    }

    public func deleteConversation(number: Int, decide: @escaping @Sendable (Conversation) throws -> DeletionPlan) async throws {
        try await write { db in
            guard let current = try await db.loadForWriting(number) else {
                throw DomainError.conversationNotFound(number)
            }
            let plan = try decide(current.conversation)
            let at = plan.events.last?.at ?? current.conversation.modifiedDate
            try await db.later("UPDATE conversations SET deleted = true, modified_ms = ? WHERE number = ?", [.ms(at), .integer(number)],
                               key: "conversation:\(number)")
            db.countStage(current.conversation.stage, -1)
            try await db.later("DELETE FROM deadlines WHERE conversation = ?", [.integer(number)], key: "deadline:\(number)")
            try await db.later("DELETE FROM conversation_text WHERE conversation = ?", [.integer(number)], key: "text-of:\(number)")
            try await db.record(plan.events)
            for kind in plan.publishes { db.publish(kind, current, at: at) }
        }
    }
}
