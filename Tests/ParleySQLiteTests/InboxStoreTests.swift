import ParleyCore
@testable import ParleySQLite
import ParleyStore
import ParleyStoreContract
import Testing

private let t0 = Date(timeIntervalSince1970: 1_760_000_000)

@Suite("Inbox storage: stage counters and full-text search")
struct InboxStoreTests {
    private func withStore(_ body: (SQLiteStore) async throws -> Void) async throws {
        let path = "/tmp/parley-inbox-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLiteStore.seeded(path: path, now: t0)
        do { try await body(store) } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }

    private func open(_ store: SQLiteStore, _ title: String, message: String) async throws -> Conversation {
        try await store.createConversation(actor: .revUser(1), at: t0) { number in
            try Conversation.open(number: number, draft: ConversationDraft(title: title, messages: [message]),
                                  routing: RoutingDecision(owners: [3], record: RoutingRecord(reason: .orgDefaultOwner)),
                                  by: .revUser(1), at: t0)
        }
    }

    private func comment(_ store: SQLiteStore, _ conversation: Conversation, _ body: String, _ visibility: Visibility,
                         by author: Actor = .devUser(3)) async throws -> TimelineEntry {
        try await store.addComment(to: conversation.number, draft: CommentDraft(author: author, body: body, visibility: visibility, at: t0 + 60),
                                   externalRef: nil) { current in
            guard case .append(let decision) = try current.receivingComment(by: author, visibility: visibility, at: t0 + 60) else {
                throw DomainError.conflict("unexpected follow-up")
            }
            return .append(decision)
        }.0
    }

    private func search(_ store: SQLiteStore, _ text: String, notes: Bool = false) async throws -> [Int] {
        var query = ConversationQuery()
        query.text = text
        query.searchedNotes = notes ? .internalAndPrivate(of: 3) : .none
        return try await store.listConversations(query).items.map(\.number).sorted()
    }

    private func everyPage(_ store: SQLiteStore, _ query: ConversationQuery, limit: Int) async throws -> [Int] {
        try await StorageContract.everyPage(store, query, limit: limit)
    }

    @Test("owner filters list the same conversations in order whether found by owner (few) or along the order (many)")
    func ownerFilteredLists() async throws {
        try await withStore { store in
            var byOwner: [Int: [Int]] = [3: [], 7: []]
            for index in 0..<60 {
                let owner = index % 20 == 0 ? 7 : 3
                let at = t0 + Double(index)
                let c = try await store.createConversation(actor: .revUser(1), at: at) { number in
                    try Conversation.open(number: number, draft: ConversationDraft(title: "C\(index)", messages: ["m"]),
                                          routing: RoutingDecision(owners: [owner], record: RoutingRecord(reason: .orgDefaultOwner)),
                                          by: .revUser(1), at: at)
                }
                byOwner[owner, default: []].append(c.number)
            }
            for owner in [7, 3] {
                for sort in [ConversationSort.createdDate(descending: true), .priority(descending: false)] {
                    var query = ConversationQuery()
                    query.ownedBy = [owner]
                    query.excludedStages = [.suspended]
                    query.sort = sort
                    let seen = try await everyPage(store, query, limit: 50)
                    let expected = byOwner[owner] ?? []
                    // Same priority and waiting since creation: the priority order falls back to the number.
                    #expect(seen == (sort == .priority(descending: false) ? expected : expected.reversed()), "owner \(owner), \(sort)")
                }
            }
        }
    }

    @Test("tag, member, group, channel, spam and date filters list the same conversations in order whether found through the filter (few) or along the order (many)")
    func sideFilteredLists() async throws {
        try await withStore { store in
            var created: [Conversation] = []
            for index in 0..<60 {
                let rare = index % 20 == 0
                let at = t0 + Double(index)
                let customer = Actor.revUser(rare ? 2 : 1)
                created.append(try await store.createConversation(actor: customer, at: at) { number in
                    try Conversation.open(number: number, draft: ConversationDraft(title: "C\(index)", sourceChannel: rare ? "chat" : "email",
                                                                                  group: index % 7 == 3 ? nil : (rare ? 11 : 12),
                                                                                  tags: [TagValue(tag: rare ? 5 : 6)], isSpam: index % 20 == 1,
                                                                                  messages: ["m"]),
                                          routing: RoutingDecision(owners: [3], record: RoutingRecord(reason: .orgDefaultOwner)),
                                          by: customer, at: at)
                })
            }
            let filters: [(String, (inout ConversationQuery) -> Void, (Conversation) -> Bool)] = [
                ("rare tag", { $0.tags = [5] }, { $0.tags.contains(TagValue(tag: 5)) }),
                ("common tag", { $0.tags = [6] }, { $0.tags.contains(TagValue(tag: 6)) }),
                ("a customer's few", { $0.members = [.revUser(2)] }, { $0.members.contains(.revUser(2)) }),
                ("a customer's many", { $0.members = [.revUser(1)] }, { $0.members.contains(.revUser(1)) }),
                ("rare group", { $0.groups = [11] }, { $0.group == 11 }),
                ("common group", { $0.groups = [12] }, { $0.group == 12 }),
                ("a group with none", { $0.groups = [99] }, { $0.group == 99 }),
                ("rare channel", { $0.sourceChannels = ["chat"] }, { $0.sourceChannel == "chat" }),
                ("common channel", { $0.sourceChannels = ["email"] }, { $0.sourceChannel == "email" }),
                ("a channel with none", { $0.sourceChannels = ["slack"] }, { $0.sourceChannel == "slack" }),
                ("spam", { $0.isSpam = true }, { $0.isSpam }),
                ("not spam", { $0.isSpam = false }, { !$0.isSpam }),
                ("created in a short range", { $0.created = DateRange(after: t0 + 10, before: t0 + 12) },
                 { $0.createdDate >= t0 + 10 && $0.createdDate <= t0 + 12 }),
                ("created in a long range", { $0.created = DateRange(after: t0 + 2) }, { $0.createdDate >= t0 + 2 }),
                ("modified before a time none was", { $0.modified = DateRange(before: t0 - 1) }, { $0.modifiedDate <= t0 - 1 }),
                ("rare tag and rare group", { $0.tags = [5]; $0.groups = [11] }, { $0.tags.contains(TagValue(tag: 5)) && $0.group == 11 }),
                ("common tag and a customer's many", { $0.tags = [6]; $0.members = [.revUser(1)] },
                 { $0.tags.contains(TagValue(tag: 6)) && $0.members.contains(.revUser(1)) }),
            ]
            // The list's order, from the stored conversations themselves (spam waits in another stage and
            // priority; equal keys fall back to the number).
            let stored = Dictionary(uniqueKeysWithValues: created.map { ($0.number, $0) })
            func order(_ numbers: [Int], _ sort: ConversationSort) -> [Int] {
                switch sort {
                case .priority:
                    return numbers.sorted { a, b in
                        let x = stored[a]!, y = stored[b]!
                        let left = (x.priority.rank, x.waitingSince ?? .distantFuture, a), right = (y.priority.rank, y.waitingSince ?? .distantFuture, b)
                        return left < right
                    }
                default:
                    return numbers.sorted(by: >)
                }
            }
            for (name, filter, matches) in filters {
                let expected = created.filter(matches).map(\.number)
                #expect(name.contains("none") == expected.isEmpty, "\(name): the fixture has matches")
                for sort in [ConversationSort.createdDate(descending: true), .priority(descending: false)] {
                    var query = ConversationQuery()
                    filter(&query)
                    query.sort = sort
                    let seen = try await everyPage(store, query, limit: 20)
                    #expect(seen == order(expected, sort), "\(name), \(sort)")
                }
            }
        }
    }

    @Test("the unassigned view lists exactly the conversations nobody owns, as owners come and go, in every order")
    func unassignedView() async throws {
        let path = "/tmp/parley-inbox-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLiteStore.seeded(path: path, now: t0)
        var nobodys: [Int] = []
        for index in 0..<12 {
            let owners = index % 3 == 0 ? [] : [3]
            let at = t0 + Double(index)
            let c = try await store.createConversation(actor: .revUser(1), at: at) { number in
                try Conversation.open(number: number, draft: ConversationDraft(title: "C\(index)", messages: ["m"]),
                                      routing: RoutingDecision(owners: owners, record: RoutingRecord(reason: owners.isEmpty ? .fallback : .orgDefaultOwner)),
                                      by: .revUser(1), at: at)
            }
            if owners.isEmpty { nobodys.append(c.number) }
        }
        func unassigned(_ sort: ConversationSort) async throws -> [Int] {
            var query = ConversationQuery()
            query.unassigned = true
            query.excludedStages = [.suspended]
            query.sort = sort
            return try await store.listConversations(query).items.map(\.number)
        }
        #expect(try await unassigned(.priority(descending: false)) == nobodys)
        #expect(try await unassigned(.createdDate(descending: true)) == nobodys.reversed())
        // Taken by an agent: off the list; let go again: back on it.
        _ = try await store.storeDecision(number: nobodys[0]) { try $0.applying(ConversationChange(ownedBy: [3]), by: .devUser(3), at: t0 + 60) }
        #expect(try await unassigned(.priority(descending: false)) == Array(nobodys.dropFirst()))
        let owned = nobodys[0] + 1
        _ = try await store.storeDecision(number: owned) { try $0.applying(ConversationChange(ownedBy: []), by: .devUser(3), at: t0 + 60) }
        #expect(try await unassigned(.modifiedDate(descending: true)).first == owned)
        try await store.close()

        // A file from before schema 11 gets the column filled from the owners table.
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute("DROP INDEX conversations_unassigned; ALTER TABLE conversations DROP COLUMN unassigned; DELETE FROM schema_migrations WHERE version = 11")
        #expect(try SQLiteStore.migrate(path: path) == [11])
        let marked = try db.query("SELECT number FROM conversations WHERE unassigned = 1 ORDER BY number").compactMap { $0.first?.int }
        #expect(marked == (Array(nobodys.dropFirst()) + [owned]).sorted())
    }

    @Test("schema 15: private notes indexed before it become searchable by their author only")
    func privateNotesMigration() async throws {
        let path = "/tmp/parley-inbox-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLiteStore.seeded(path: path, now: t0)
        let c = try await open(store, "Billing", message: "hello")
        let note = try await comment(store, c, "zebrasecret", .private, by: .devUser(7))
        let internalNote = try await comment(store, c, "okapinote", .internal)
        try await store.close()
        // As schema 14 indexed them: every note 1.
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute("UPDATE conversation_text SET is_note = 1 WHERE rowid IN (\(note.number), \(internalNote.number)); DELETE FROM schema_migrations WHERE version = 15")
        #expect(try SQLiteStore.migrate(path: path) == [15])
        #expect(try db.scalar("SELECT is_note FROM conversation_text WHERE rowid = ?", [.integer(Int64(note.number))]).int == -7)
        #expect(try db.scalar("SELECT is_note FROM conversation_text WHERE rowid = ?", [.integer(Int64(internalNote.number))]).int == 1)
        let reopened = try SQLiteStore(path: path)
        for (agent, expected) in [(7, [c.number]), (3, [])] {
            var query = ConversationQuery()
            query.text = "zebrasecret"
            query.searchedNotes = .internalAndPrivate(of: agent)
            #expect(try await reopened.listConversations(query).items.map(\.number) == expected, "agent \(agent)")
        }
        try await reopened.close()
    }

    @Test("a deleted conversation leaves the search index with its comments")
    func deletedConversationLeavesTheIndex() async throws {
        let path = "/tmp/parley-inbox-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLiteStore.seeded(path: path, now: t0)
        let gone = try await open(store, "Refund for a lost parcel", message: "refund please")
        _ = try await comment(store, gone, "refund sent", .external)
        let kept = try await open(store, "Refund twice", message: "charged twice")
        try await store.deleteConversation(number: gone.number, actor: .devUser(3), at: t0 + 120) { _ in }
        var query = ConversationQuery()
        query.text = "refund"
        #expect(try await store.listConversations(query).items.map(\.number) == [kept.number])
        try await store.close()
        let db = try SQLiteConnection(path: path, readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM conversation_text WHERE conversation = ?", [.integer(Int64(gone.number))]).int == 0)
        #expect(try db.scalar("SELECT count(*) FROM conversation_text WHERE conversation = ?", [.integer(Int64(kept.number))]).int == 2)
    }
}
