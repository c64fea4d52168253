import Foundation
import ParleyCore
import ParleyStore

/// The outbox: one row per published message, numbered by `seq` (the table's rowid) in the writing
/// transaction. One writer commits at a time, so sequences become visible in increasing order, which is the
/// storage contract's outbox rule (decision 0006). The newest row is never pruned, so a rowid is never
/// handed out twice.
extension SQLiteStore {
    struct OutboxDocument: Codable {
        var conversation: Conversation
        var oldConversation: Conversation?
        var entry: TimelineEntry?
    }

    /// Stores an outbox document: the `OutboxDocument` JSON (keys sorted, absent ones left out, as the
    /// encoder writes it), assembled from the conversations' stored JSON rather than encoding them again.
    func publish(_ db: SQLiteConnection, _ kind: OutboxEvent.Kind, _ conversation: StoredConversation,
                         old: StoredConversation? = nil, entryJSON: String? = nil, at: Date) throws {
        var document = "{\"conversation\":" + conversation.json
        if let entryJSON { document += ",\"entry\":" + entryJSON }
        if let old { document += ",\"oldConversation\":" + old.json }
        document += "}"
        try db.run("INSERT INTO outbox (type, conversation, at_ms, doc) VALUES (?, ?, ?, ?)",
                   [.text(kind.rawValue), .integer(Int64(conversation.conversation.number)), Self.ms(at), .text(document)])
    }

    public func outbox(after sequence: Int, limit: Int) async throws -> [OutboxEvent] {
        try await read { [self] db in
            try outboxEvents(db.query("SELECT seq, type, at_ms, doc FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                      [.integer(Int64(sequence)), .integer(Int64(limit))]))
        }
    }

    /// Walks the outbox by sequence checking each row's conversation against the member's (the primary key
    /// of `conversation_members`), decoding only the rows that match: no index by conversation, which schema
    /// 12 dropped to keep every commit small.
    public func outbox(after sequence: Int, through latest: Int, limit: Int, about member: Actor) async throws -> [OutboxEvent] {
        try await read { [self] db in
            try outboxEvents(db.query(
                "SELECT seq, type, at_ms, doc FROM outbox WHERE seq > ? AND seq <= ? AND EXISTS "
                    + "(SELECT 1 FROM conversation_members WHERE member = ? AND conversation = outbox.conversation) ORDER BY seq LIMIT ?",
                [.integer(Int64(sequence)), .integer(Int64(latest)), .text(member.description), .integer(Int64(limit))]))
        }
    }

    private func outboxEvents(_ rows: [[SQLValue]]) throws -> [OutboxEvent] {
        try rows.compactMap { row -> OutboxEvent? in
            guard let kind = row[1].string.flatMap(OutboxEvent.Kind.init) else { return nil }
            let document = try decode(OutboxDocument.self, row[3])
            return OutboxEvent(sequence: row[0].int ?? 0, kind: kind, at: Date(timeIntervalSince1970: Double(row[2].int ?? 0) / 1000),
                               conversation: document.conversation, oldConversation: document.oldConversation, entry: document.entry)
        }
    }

    /// One server per file: its streams poll (every 250 ms), so no hint is sent.
    public func onPublished(_ listener: @escaping @Sendable () -> Void) {}

    public func latestOutboxSequence() async throws -> Int {
        try lookup { db in try db.scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox").int ?? 0 }
    }

    public func outboxHorizon() async throws -> Int {
        try lookup { db in try Self.horizon(db) }
    }

    public func pruneOutbox(before date: Date, throughSequence sequence: Int, limit: Int) async throws -> Int {
        try await write { db in
            let newest = try db.scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox").int ?? 0
            // The oldest `limit` candidates, of which only the prefix published before `date` goes (the
            // newest row always stays, so that its rowid is never reused).
            let candidates = try db.query("SELECT seq, at_ms FROM outbox WHERE seq <= ? ORDER BY seq LIMIT ?",
                                          [.integer(Int64(min(sequence, newest - 1))), .integer(Int64(limit))])
            let cutoff = Self.ms(date).int ?? 0
            var through = 0
            for row in candidates {
                guard (row[1].int ?? 0) < cutoff else { break }
                through = row[0].int ?? through
            }
            guard through > 0 else { return 0 }
            let removed = try db.run("DELETE FROM outbox WHERE seq <= ?", [.integer(Int64(through))])
            let horizon = try Self.horizon(db)
            if through > horizon {
                try db.run("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)",
                           [.text(Self.outboxHorizonSetting), .text(String(through))])
            }
            return removed
        }
    }

    static let outboxHorizonSetting = "outbox_horizon"

    /// The highest sequence pruned, kept in `settings` (0 if none).
    private static func horizon(_ db: SQLiteConnection) throws -> Int {
        try db.scalar("SELECT value FROM settings WHERE name = ?", [.text(outboxHorizonSetting)]).string.flatMap { Int($0) } ?? 0
    }
}
