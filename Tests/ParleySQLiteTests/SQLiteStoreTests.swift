import ParleyCore
@testable import ParleySQLite
import ParleyStore
import ParleyStoreContract
import Testing

private let t0 = Date(timeIntervalSince1970: 1_750_000_000)

private func withStore(_ body: (SQLiteStore, String) async throws -> Void) async throws {
    let path = "/tmp/parley-store-\(UUID().uuidString).sqlite"
    defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
    let store = try await SQLiteStore.seeded(path: path, now: t0)
    do { try await body(store, path) } catch {
        try await store.close()
        throw error
    }
    try await store.close()
}

private func newConversation(_ store: SQLiteStore, title: String, at: Date = t0, stage: Stage? = nil) async throws -> Conversation {
    try await store.createConversation(actor: .revUser(1), at: at) { number in
        try Conversation.open(number: number, draft: ConversationDraft(title: title, stage: stage, messages: ["hello"]),
                              routing: RoutingDecision(owners: [3], record: RoutingRecord(reason: .orgDefaultOwner)),
                              by: .revUser(1), at: at)
    }
}

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test("what the caches hand out is what a read of the file decodes, even for dates that do not read back exactly")
    func cachesHoldWhatTheFileHolds() async throws {
        // Found in review: the caches kept the value written, and a sub-millisecond date (or whole milliseconds
        // moved across 2^31 seconds) is not the same Double once written as milliseconds and read back.
        var instant = t0
        for step in 1...10_000 where instant == t0 {
            let candidate = t0.addingTimeInterval(Double(step) * 0.000_123_456_7)
            if Date(timeIntervalSince1970: 1000 * candidate.timeIntervalSince1970 / 1000) != candidate { instant = candidate }
        }
        try #require(instant != t0)
        let at = instant
        let path = "/tmp/parley-store-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLiteStore.seeded(path: path, now: t0)
        let created = try await newConversation(store, title: "precise", at: at)
        let comment = try await store.addComment(to: created.number, draft: CommentDraft(author: .devUser(3), body: "hi", visibility: .external, at: at),
                                                 externalRef: nil) { current in
            guard case .append(let decision) = try current.receivingComment(by: .devUser(3), visibility: .external, at: at) else { throw DomainError.conflict("no") }
            return .append(decision)
        }.0
        let cached = try #require(try await store.conversation(number: created.number))
        let cachedEntry = try #require(try await store.timelineEntry(number: comment.number))
        try await store.close()
        let reopened = try SQLiteStore(path: path)
        let stored = try #require(try await reopened.conversation(number: created.number))
        let storedEntry = try #require(try await reopened.timelineEntry(number: comment.number))
        try await reopened.close()
        #expect(cached == stored)
        #expect(cachedEntry == storedEntry)
    }

    @Test("owner, member and tag rows follow the document as they come, go and change value, row by row")
    func sideTablesFollowTheDocument() async throws {
        try await withStore { store, path in
            let created = try await newConversation(store, title: "rows")
            // Each step: owners, members, tags (a tag listed twice keeps its last value).
            let steps: [([Int], [Actor], [TagValue])] = [
                ([3, 4], [.revUser(1), .devUser(3)], [TagValue(tag: 1), TagValue(tag: 2, value: "a")]),
                ([4, 5], [.devUser(3), .devUser(5)], [TagValue(tag: 2, value: "b"), TagValue(tag: 3, value: "x"), TagValue(tag: 3, value: "y")]),
                ([], [], []),
                ([6], [.revUser(2)], [TagValue(tag: 1, value: "z")]),
            ]
            let db = try SQLiteConnection(path: path, readOnly: true)
            for (step, (owners, members, tags)) in steps.enumerated() {
                let at = t0.addingTimeInterval(Double(step + 1))
                _ = try await store.storeDecision(number: created.number) { current in
                    var next = current
                    next.ownedBy = owners
                    next.members = members
                    next.tags = tags
                    next.modifiedDate = at
                    return ConversationDecision(conversation: next, events: [])
                }
                let number = SQLValue.integer(Int64(created.number))
                let ownerRows = try db.query("SELECT owner FROM conversation_owners WHERE conversation = ? ORDER BY owner", [number]).compactMap { $0[0].int }
                let memberRows = try db.query("SELECT member FROM conversation_members WHERE conversation = ? ORDER BY member", [number]).compactMap { $0[0].string }
                let tagRows = try db.query("SELECT tag, value FROM conversation_tags WHERE conversation = ? ORDER BY tag", [number]).map { "\($0[0].int ?? 0)=\($0[1].string ?? "-")" }
                let expectedTags = Dictionary(tags.map { ($0.tag, $0.value) }, uniquingKeysWith: { $1 }).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value ?? "-")" }
                #expect(ownerRows == owners.sorted(), "step \(step)")
                #expect(memberRows == members.map(\.description).sorted(), "step \(step)")
                #expect(tagRows == expectedTags, "step \(step)")
                let unassigned = try db.scalar("SELECT unassigned FROM conversations WHERE number = ?", [number]).int
                #expect(unassigned == (owners.isEmpty ? 1 : 0), "step \(step)")
            }
        }
    }

    @Test("migrations run once, are recorded, and a newer schema is refused")
    func migrations() async throws {
        try await withStore { store, path in
            #expect(try SQLiteStore.migrate(path: path).isEmpty, "already applied")
            let db = try SQLiteConnection(path: path, readOnly: false)
            #expect(try db.scalar("SELECT MAX(version) FROM schema_migrations").int == SQLiteStore.schemaVersion)
            #expect(try db.scalar("PRAGMA journal_mode").string == "wal")
            try db.run("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future', 0)")
            #expect(throws: StoreError.self) { try SQLiteStore.migrate(path: path) }
        }
    }

    @Test("tokens stored before schema 16 are numbered in the order they were issued, and new ones follow")
    func tokenNumbersMigration() async throws {
        let path = "/tmp/parley-store-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLiteStore.seeded(path: path, now: t0)
        // Hashes in the opposite order to issue dates: the numbers follow the dates.
        for (offset, hash) in ["c", "b", "a"].enumerated() {
            try await store.saveToken(hash: hash, token: StoredToken(subject: .devUser(2), kind: .pat, createdDate: t0 + Double(offset),
                                                                     expiresAt: nil), events: [])
        }
        try await store.close()
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute("""
            DROP INDEX tokens_by_number; ALTER TABLE tokens DROP COLUMN number;
            DELETE FROM sequences WHERE kind = 'token'; DELETE FROM schema_migrations WHERE version = 16
            """)
        #expect(try SQLiteStore.migrate(path: path) == [16])
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.tokens(of: .devUser(2)).map { $0.token.createdDate } == [t0 + 2, t0 + 1, t0], "newest first")
        #expect(try await reopened.tokens(of: .devUser(2)).map(\.number) == [3, 2, 1])
        #expect(try await reopened.saveToken(hash: "d", token: StoredToken(subject: .devUser(2), kind: .pat, createdDate: t0 + 3, expiresAt: nil),
                                             events: []) == 4)
        try await reopened.close()
    }

    @Test("data survives reopening the file")
    func reopen() async throws {
        let path = "/tmp/parley-store-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLiteStore.seeded(path: path, now: t0)
        let conversation = try await newConversation(store, title: "Persisted")
        try await store.close()
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.conversation(number: conversation.number) == conversation)
        #expect(try await reopened.list(Tag.self, query: DirectoryQuery()).items.count == SystemTag.allCases.count)
        try await reopened.close()
    }
}
