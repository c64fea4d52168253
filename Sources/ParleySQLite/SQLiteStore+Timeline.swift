import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

extension SQLiteStore {
    // MARK: Timeline

    public func addComment(to conversation: Int,
                           decide: @escaping @Sendable (Conversation) throws -> CommentPlan) async throws -> (TimelineEntry, Conversation) {
        return try await write { [self] db in
            guard let currentStored = try loadForWriting(db, conversation) else {
                throw DomainError.conversationNotFound(conversation)
            }
            let current = currentStored.conversation
            let plan = try decide(current)
            let comment: NewComment
            let conversationPlan: ConversationPlan
            let stored: StoredConversation
            switch plan {
            case .append(let appended, let appendedComment):
                comment = appendedComment
                conversationPlan = appended
                stored = try saveConversation(db, appended.conversation, deadline: appended.deadline, previous: current)
                try record(db, appended.events)
            case .followUp(let followUp):
                comment = followUp.comment
                let number = try nextNumber(db, .conversation)
                conversationPlan = followUp.makeFollowUp(number)
                stored = try saveConversation(db, conversationPlan.conversation, deadline: conversationPlan.deadline, previous: nil)
                try record(db, conversationPlan.events + followUp.recordOnOriginal(number))
                let link = followUp.makeLink(try nextNumber(db, .link), number)
                try insertObject(db, link.value, events: link.events)
            }
            let target = conversationPlan.conversation
            if let externalRef = comment.externalRef {
                let existing = try db.scalar("SELECT number FROM timeline_entries WHERE conversation = ? AND external_ref = ?",
                                             [.integer(Int64(target.number)), .text(externalRef)])
                if let number = existing.int {
                    throw DomainError.conflict(
                        "timeline entry \(ObjectID(.comment, number, parent: target.number).don) already has external_ref '\(externalRef)'")
                }
            }
            var entry = comment.draft.entry(number: try nextNumber(db, .comment), conversation: target.number)
            entry.externalRef = comment.externalRef
            let entryJSON = try insertComment(db, entry)
            let at = comment.draft.at
            for kind in conversationPlan.publishes {
                try publish(db, kind, stored, old: target.number == current.number ? currentStored : nil, at: at)
            }
            if comment.publishes { try publish(db, .timelineEntryCreated, stored, entryJSON: entryJSON, at: at) }
            return (entry, target)
        }
    }

    func loadComment(_ db: SQLiteConnection, _ number: Int) throws -> TimelineEntry? {
        let value = try db.scalar("SELECT doc FROM timeline_entries WHERE number = ?", [.integer(Int64(number))])
        if value == .null { return nil }
        return try decode(TimelineEntry.self, value)
    }

    public func timelineEntry(number: Int) async throws -> TimelineEntry? {
        try lookup { [self] db in try loadComment(db, number) }
    }

    public func timelineEntries(externalRef: String) async throws -> [TimelineEntry] {
        try lookup { [self] db in
            let numbers = try db.query("SELECT number FROM timeline_entries WHERE external_ref = ? ORDER BY number LIMIT 10",
                                       [.text(externalRef)]).compactMap { $0[0].int }
            return try numbers.compactMap { try loadComment(db, $0) }.filter { !$0.isDeleted }
        }
    }

    public func updateTimelineEntry(number: Int,
                                    change: @escaping @Sendable (TimelineEntry, Conversation) throws -> (TimelineEntry, ChangeEvent)) async throws -> TimelineEntry {
        return try await write { [self] db in
            guard let current = try loadComment(db, number),
                  let conversation = try loadForWriting(db, current.conversation)?.conversation else {
                throw DomainError.notFound(ObjectID(.comment, number).don)
            }
            let (next, event) = try change(current, conversation)
            try db.run("UPDATE timeline_entries SET doc = ? WHERE number = ?", [.text(StoredDocument.json(next)), .integer(Int64(number))])
            uncommitted.withLock { $0.textChanges.append(.comment(next, isNew: false)) }
            try record(db, [event])
            return next
        }
    }

    public func listTimeline(_ query: TimelineQuery) async throws -> Page<TimelineItem> {
        try await read { [self] db in
            var parts: [String] = []
            var binds: [SQLValue] = []
            if query.includeComments {
                var visibilities = query.visibilities.isEmpty ? Visibility.allCases : query.visibilities
                if query.viewer.isCustomer { visibilities.removeAll { $0.isNote } }
                let marks = SQLiteConnection.placeholders(visibilities.count)
                parts.append("""
                    SELECT 1 AS src, number AS n, created_ms AS t, doc FROM timeline_entries
                    WHERE conversation = ? AND visibility IN (\(marks)) AND (visibility != 'private' OR author = ?)
                    """)
                binds.append(.integer(Int64(query.conversation)))
                binds += visibilities.map { .text($0.rawValue) }
                binds.append(.text(query.viewer.description))
            }
            if query.includeEvents, !query.viewer.isCustomer {
                parts.append("SELECT 0 AS src, seq AS n, at_ms AS t, doc FROM events WHERE object = ?")
                binds.append(.text(ObjectID(.conversation, query.conversation).don))
            }
            guard !parts.isEmpty else { return Page(items: [], nextCursor: nil, prevCursor: nil) }
            var conditions: [String] = []
            appendRange(query.created, column: "t", to: &conditions, &binds)
            let keyset = Keyset(columns: [.init(expression: "t", descending: false), .init(expression: "src", descending: false),
                                          .init(expression: "n", descending: false)])
            let select = "SELECT src, doc, n AS seq, t, src, n FROM (" + parts.joined(separator: " UNION ALL ") + ")"
            return try db.page(select: select, conditions: conditions, binds: binds, keyset: keyset, page: query.page) { row in
                if row[0].int == 1 {
                    return .comment(try decodeDocument(TimelineEntry.self, kind: ObjectKind.comment.rawValue, number: row[2].int ?? 0, row[1]))
                }
                return .event(sequence: row[2].int ?? 0, try decodeDocument(ChangeEvent.self, kind: "event", number: row[2].int ?? 0, row[1]))
            }
        }
    }

    public func events(of object: ObjectID) async throws -> [ChangeEvent] {
        try await read { [self] db in
            try db.query("SELECT doc FROM events WHERE object = ? ORDER BY seq", [.text(object.don)]).map {
                try decode(ChangeEvent.self, $0[0])
            }
        }
    }

}
