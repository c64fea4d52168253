import Foundation
import ParleyCore
import ParleyStore

extension PostgresStore {
    public func addComment(to conversation: Int,
                           decide: @escaping @Sendable (Conversation) throws -> CommentPlan) async throws -> (TimelineEntry, Conversation) {
        try await write { db in
            guard let currentStored = try await db.loadForWriting(conversation, reserving: .comment) else {
                throw DomainError.conversationNotFound(conversation)
            }
            let current = currentStored.conversation
            let comment: NewComment
            let conversationPlan: ConversationPlan
            let stored: StoredConversation
            switch try decide(current) {
            case .append(let appended, let appendedComment):
                comment = appendedComment
                conversationPlan = appended
                stored = try await db.saveConversation(appended.conversation, deadline: appended.deadline, previous: current)
                try await db.record(appended.events)
            case .followUp(let followUp):
                comment = followUp.comment
                let number = try await db.nextNumber(.conversation)
                conversationPlan = followUp.makeFollowUp(number)
                stored = try await db.saveConversation(conversationPlan.conversation, deadline: conversationPlan.deadline, previous: nil)
                try await db.record(conversationPlan.events + followUp.recordOnOriginal(number))
                let link = followUp.makeLink(try await db.nextNumber(.link), number)
                try await db.insertObject(link.value, events: link.events)
            }
            let target = conversationPlan.conversation
            if let externalRef = comment.externalRef,
               let number = try await db.scalar("SELECT number FROM timeline_entries WHERE conversation = ? AND external_ref = ?",
                                                [.integer(target.number), .text(externalRef)]).int {
                throw DomainError.conflict(
                    "timeline entry \(ObjectID(.comment, number, parent: target.number).don) already has external_ref '\(externalRef)'")
            }
            var entry = comment.draft.entry(number: try await db.nextNumber(.comment), conversation: target.number)
            entry.externalRef = comment.externalRef
            let entryJSON = try await db.insertComment(entry)
            let at = comment.draft.at
            for kind in conversationPlan.publishes {
                db.publish(kind, stored, old: target.number == current.number ? currentStored : nil, at: at)
            }
            if comment.publishes { db.publish(.timelineEntryCreated, stored, entryJSON: entryJSON, at: at) }
            return (entry, target)
        }
    }

    public func timelineEntry(number: Int) async throws -> TimelineEntry? {
        try await read { db in
            let value = try await db.scalar("SELECT doc FROM timeline_entries WHERE number = ?", [.integer(number)])
            return value == .null ? nil : try Self.decode(TimelineEntry.self, value)
        }
    }

    public func timelineEntries(externalRef: String) async throws -> [TimelineEntry] {
        try await read { db in
            try await db.query("SELECT doc FROM timeline_entries WHERE external_ref = ? ORDER BY number LIMIT 10", [.text(externalRef)])
                .map { try Self.decode(TimelineEntry.self, $0[0]) }.filter { !$0.isDeleted }
        }
    }

    public func updateTimelineEntry(number: Int,
                                    change: @escaping @Sendable (TimelineEntry, Conversation) throws -> (TimelineEntry, ChangeEvent)) async throws -> TimelineEntry {
        try await write { db in
            let value = try await db.scalar("SELECT doc FROM timeline_entries WHERE number = ?", [.integer(number)])
            guard value != .null else { throw DomainError.notFound(ObjectID(.comment, number).don) }
            let current = try Self.decode(TimelineEntry.self, value)
            guard let conversation = try await db.loadForWriting(current.conversation)?.conversation else {
                throw DomainError.notFound(ObjectID(.comment, number).don)
            }
            let (next, event) = try change(current, conversation)
            try await db.later("UPDATE timeline_entries SET doc = ? WHERE number = ?", [.text(StoredDocument.json(next)), .integer(number)],
                               key: "entry:\(number)")
            if next.isDeleted {
                try await db.later("DELETE FROM conversation_text WHERE id = ?", [.integer(number)], key: "text:\(number)")
            } else {
                try await db.index(id: number, conversation: next.conversation, readers: Self.searchReaders(of: next), text: next.body)
            }
            try await db.record([event])
            return next
        }
    }

    public func listTimeline(_ query: TimelineQuery) async throws -> Page<TimelineItem> {
        try await read { db in
            var parts: [String] = []
            var binds: [PGValue] = []
            if query.includeComments {
                var visibilities = query.visibilities.isEmpty ? Visibility.allCases : query.visibilities
                if query.viewer.isCustomer { visibilities.removeAll { $0.isNote } }
                parts.append("""
                    SELECT 1 AS src, number AS n, created_ms AS t, doc FROM timeline_entries
                    WHERE conversation = ? AND visibility = ANY(?::text[]) AND (visibility != 'private' OR author = ?)
                    """)
                binds += [.integer(query.conversation), .texts(visibilities.map(\.rawValue)), .text(query.viewer.description)]
            }
            if query.includeEvents, !query.viewer.isCustomer {
                parts.append("SELECT 0 AS src, seq AS n, at_ms AS t, doc FROM events WHERE object = ?")
                binds.append(.text(ObjectID(.conversation, query.conversation).don))
            }
            guard !parts.isEmpty else { return Page(items: [], nextCursor: nil, prevCursor: nil) }
            var conditions: [String] = []
            Self.appendRange(query.created, column: "t", to: &conditions, &binds)
            let keyset = PostgresKeyset(columns: ["t", "src", "n"], descending: false)
            let select = "SELECT src, doc, n AS seq, t, src, n FROM (" + parts.joined(separator: " UNION ALL ") + ") AS timeline"
            return try await db.page(select: select, conditions: conditions, binds: binds, keyset: keyset, page: query.page) { row in
                if row[0].int == 1 { return .comment(try self.cached(TimelineEntry.self, kind: "comment", number: row[2].int ?? 0, row[1])) }
                return .event(sequence: row[2].int ?? 0, try self.cached(ChangeEvent.self, kind: "event", number: row[2].int ?? 0, row[1]))
            }
        }
    }

    public func events(of object: ObjectID) async throws -> [ChangeEvent] {
        try await read { db in
            try await db.query("SELECT doc FROM events WHERE object = ? ORDER BY seq", [.text(object.don)]).map {
                try Self.decode(ChangeEvent.self, $0[0])
            }
        }
    }
}
