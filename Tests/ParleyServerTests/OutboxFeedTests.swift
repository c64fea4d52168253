import Foundation
import ParleyApp
import ParleyCore
import ParleyJSON
@testable import ParleyServer
import ParleySQLite
import ParleyStore
import ParleyStoreContract
import Testing

@Suite("The outbox feed the live streams share")
struct OutboxFeedTests {
    private let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    /// Creates `count` conversations (two outbox events each: created, and its first message).
    private func publish(_ count: Int, on store: SQLiteStore) async throws {
        for index in 0..<count {
            let at = t0 + Double(index)
            _ = try await store.createConversation(actor: .revUser(1), at: at) { number in
                try Conversation.open(number: number, draft: ConversationDraft(title: "C\(number)", messages: ["hello"]),
                                      routing: RoutingDecision(owners: [3], record: RoutingRecord(reason: .orgDefaultOwner)),
                                      by: .revUser(1), at: at)
            }
        }
    }

    /// A fresh store and a feed over it that keeps 8 events and reads the store whenever asked.
    private func withFeed(_ body: (SQLiteStore, OutboxFeed) async throws -> Void) async throws {
        let path = "/tmp/parley-feed-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteStore(path: path)
        try await store.seedSystemTags(at: t0)
        do {
            try await body(store, OutboxFeed(store: store, kept: 8, refreshInterval: .zero))
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }

    @Test("streams read what the store holds, in order, from memory or (behind the window, or after a burst) from the store")
    func sameEventsAsTheStore() async throws {
        try await withFeed { store, feed in
            func sequences(after cursor: Int, limit: Int = 100) async throws -> [Int] {
                try await feed.events(after: cursor, limit: limit).map(\.sequence)
            }
            func stored(after cursor: Int, limit: Int = 100) async throws -> [Int] {
                try await store.outbox(after: cursor, limit: limit).map(\.sequence)
            }
            try await publish(3, on: store)
            let start = try await store.latestOutboxSequence()
            // Published before the feed's first read: read from the store.
            #expect(try await sequences(after: 0) == stored(after: 0))
            #expect(try await sequences(after: 0).count == 6)
            // Published after it: from memory, and the same.
            try await publish(3, on: store)
            #expect(try await sequences(after: start) == stored(after: start))
            #expect(try await sequences(after: start, limit: 4) == stored(after: start, limit: 4))
            #expect(try await sequences(after: start + 2).count == 4)
            let before = try await store.latestOutboxSequence()
            #expect(try await sequences(after: before).isEmpty)
            // A burst of more than the feed keeps: the newest are kept, a stream further behind reads the store.
            try await publish(10, on: store)
            let top = try await store.latestOutboxSequence()
            #expect(try await sequences(after: before) == stored(after: before))
            #expect(try await sequences(after: before).count == 20)
            #expect(try await sequences(after: top - 3) == [top - 2, top - 1, top])
            // Every event matches the store's, field for field.
            #expect(try await feed.events(after: 0, limit: 1_000) == store.outbox(after: 0, limit: 1_000))
        }
    }

    @Test("a payload is rendered as the stream's audience sees it, and the same for every stream of that audience")
    func payloadsByAudience() async throws {
        try await withFeed { store, feed in
            _ = try await feed.events(after: 0, limit: 1)
            try await publish(1, on: store)
            let renderer = EventRenderer(store: store)
            let events = try await feed.events(after: 0, limit: 10)
            #expect(events.count == 2)
            for event in events {
                for viewer in [Caller(actor: .devUser(3), role: .agent), Caller(actor: .devUser(9), role: .admin), Caller(actor: .revUser(1), role: .customer)] {
                    let direct = try await renderer.payload(event, for: viewer).serialized
                    #expect(try await feed.payload(event, for: viewer, renderer: renderer) == direct)
                    #expect(try await feed.payload(event, for: viewer, renderer: renderer) == direct, "cached")
                }
            }
        }
    }
}
