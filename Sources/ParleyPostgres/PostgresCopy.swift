import Foundation
import ParleyCore
import ParleyStore

/// What `parley copy` needs of the PostgreSQL store: whether the database holds anything, emptying it
/// (`--force`), rows written table by table as they are, the search index rebuilt from the copied rows, and
/// the numbering and outbox position carried over.
extension PostgresStore {
    /// The tables `parley copy` fills, in the order it fills them.
    package static let copiedTables = ["objects", "object_keys", "conversations", "conversation_owners", "conversation_members",
                                       "conversation_tags", "timeline_entries", "events", "outbox", "stage_counts", "deadlines",
                                       "tokens", "credentials", "artifacts", "configurations", "settings"]

    package func rowCount(_ table: String) async throws -> Int {
        guard Self.copiedTables.contains(table) || table == "conversation_text" else { throw StoreError(code: 0, message: "no table \(table)") }
        return try await read { db in try await db.scalar("SELECT count(*) FROM \(table)").int ?? 0 }
    }

    /// Whether any table holds a row (the system tags and settings a server's start writes count).
    package func holdsData() async throws -> Bool {
        for table in Self.copiedTables where try await rowCount(table) > 0 { return true }
        return false
    }

    /// Empties every table and starts every numbering again (the schema stays).
    package func empty() async throws {
        try await transaction { db in
            try await db.run("TRUNCATE \((Self.copiedTables + ["conversation_text", "leases"]).joined(separator: ", ")) RESTART IDENTITY")
            try await db.run("UPDATE outbox_position SET latest = 0, horizon = 0")
            for kind in ObjectKind.allCases { try await db.run("ALTER SEQUENCE number_\(kind.rawValue) RESTART") }
        }
    }

    /// Inserts `rows` (values in `columns` order; `types` are PostgreSQL type names) in one statement.
    package func insertRows(_ table: String, columns: [String], types: [String], rows: [[PGValue]]) async throws {
        guard !rows.isEmpty else { return }
        let row = "(" + types.map { "?::\($0)" }.joined(separator: ", ") + ")"
        let sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES " + Array(repeating: row, count: rows.count).joined(separator: ", ")
        let values = rows.flatMap { $0 }
        try await transaction { db in try await db.run(sql, values) }
    }

    /// Indexes copied titles and comments for search, as the store indexes new ones.
    package func indexCopied(conversations: [(number: Int, json: String)], comments: [String]) async throws {
        var rows: [(Int, Int, Int, [String])] = []
        for (number, json) in conversations {
            let conversation = try Self.decode(Conversation.self, .text(json))
            rows.append((-number, number, 0, Self.searchWords(conversation.title)))
        }
        for json in comments {
            let entry = try Self.decode(TimelineEntry.self, .text(json))
            guard !entry.isDeleted else { continue }
            rows.append((entry.number, entry.conversation, Self.searchReaders(of: entry), Self.searchWords(entry.body)))
        }
        guard !rows.isEmpty else { return }
        let sql = "INSERT INTO conversation_text (id, conversation, readers, words) VALUES "
            + Array(repeating: "(?, ?, ?, array_to_tsvector(?::text[]))", count: rows.count).joined(separator: ", ")
        let values = rows.flatMap { [PGValue.integer($0.0), .integer($0.1), .integer($0.2), .texts($0.3)] }
        try await transaction { db in try await db.run(sql, values) }
    }

    /// After a copy: each kind's numbering continues after `next - 1`, the events' after the highest copied,
    /// and the outbox stands where the source's did.
    package func finishCopy(sequences: [String: Int], outboxHorizon: Int) async throws {
        try await transaction { db in
            for (kind, next) in sequences where next > 1 && ObjectKind(rawValue: kind) != nil {
                try await db.run("SELECT setval(?::regclass, ?)", [.text("number_\(kind)"), .integer(next - 1)])
            }
            try await db.run("SELECT setval(pg_get_serial_sequence('events', 'seq'), GREATEST((SELECT MAX(seq) FROM events), 1))")
            try await db.run("UPDATE outbox_position SET latest = GREATEST((SELECT COALESCE(MAX(seq), 0) FROM outbox), ?), horizon = ?",
                             [.integer(outboxHorizon), .integer(outboxHorizon)])
        }
    }
}
