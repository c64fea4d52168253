import Foundation
import ParleyCore
import ParleyStore

/// The outbox: sequences given out in commit order under the position row's lock (`PostgresWrite.finish`),
/// so a follower reading by sequence never misses a row committed later with a lower number.
extension PostgresStore {
    struct OutboxDocument: Codable {
        var conversation: Conversation
        var oldConversation: Conversation?
        var entry: TimelineEntry?
    }

    public func outbox(after sequence: Int, limit: Int) async throws -> [OutboxEvent] {
        try await read { db in
            try Self.outboxEvents(try await db.query("SELECT seq, type, at_ms, doc FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                                     [.integer(sequence), .integer(limit)]))
        }
    }

    public func outbox(after sequence: Int, through latest: Int, limit: Int, about member: Actor) async throws -> [OutboxEvent] {
        try await read { db in
            try Self.outboxEvents(try await db.query("""
                SELECT seq, type, at_ms, doc FROM outbox WHERE seq > ? AND seq <= ? AND EXISTS
                    (SELECT 1 FROM conversation_members WHERE member = ? AND conversation = outbox.conversation)
                ORDER BY seq LIMIT ?
                """, [.integer(sequence), .integer(latest), .text(member.description), .integer(limit)]))
        }
    }

    static func outboxEvents(_ rows: [[PGValue]]) throws -> [OutboxEvent] {
        try rows.compactMap { row -> OutboxEvent? in
            guard let kind = row[1].string.flatMap(OutboxEvent.Kind.init) else { return nil }
            let document = try decode(OutboxDocument.self, row[3])
            return OutboxEvent(sequence: row[0].int ?? 0, kind: kind, at: date(row[2]), conversation: document.conversation,
                               oldConversation: document.oldConversation, entry: document.entry)
        }
    }

    public func latestOutboxSequence() async throws -> Int {
        try await read { db in try await db.scalar("SELECT latest FROM outbox_position").int ?? 0 }
    }

    public func outboxHorizon() async throws -> Int {
        try await read { db in try await db.scalar("SELECT horizon FROM outbox_position").int ?? 0 }
    }

    public func pruneOutbox(before date: Date, throughSequence sequence: Int, limit: Int) async throws -> Int {
        try await write { db in
            // The oldest `limit` candidates, of which only the prefix published before `date` goes; never the
            // newest (the contract keeps it, so that a reader always finds where the outbox stands).
            let newest = try await db.scalar("SELECT latest FROM outbox_position").int ?? 0
            let candidates = try await db.query("SELECT seq, at_ms FROM outbox WHERE seq <= ? ORDER BY seq LIMIT ?",
                                                [.integer(min(sequence, newest - 1)), .integer(limit)])
            let cutoff = PGValue.ms(date).int ?? 0
            var through = 0
            for row in candidates {
                guard (row[1].int ?? 0) < cutoff else { break }
                through = row[0].int ?? through
            }
            guard through > 0 else { return 0 }
            let removed = try await db.run("DELETE FROM outbox WHERE seq <= ? RETURNING 1", [.integer(through)])
            try await db.run("UPDATE outbox_position SET horizon = GREATEST(horizon, ?)", [.integer(through)])
            return removed
        }
    }

    /// Calls `listener` whenever this or another server may have published (a hint after COMMIT; followers
    /// poll as well, as a hint can be lost with a connection).
    public func onPublished(_ listener: @escaping @Sendable () -> Void) {
        hints.listen(listener)
    }
}
