import Foundation
import ParleyApp
import ParleyCore
import ParleySQLite
import ParleyStore
import Testing

/// The retention use case through the application layer, on a real store and a manual clock.
@Suite("Event retention")
struct EventRetentionTests {
    private func withApp(_ body: (ParleyApp, ManualClock) async throws -> Void) async throws {
        let path = "/tmp/parley-app-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteStore(path: path)
        let clock = ManualClock(Date(timeIntervalSince1970: 1_750_000_000))
        let app = ParleyApp(store: store, clock: clock)
        do {
            try await app.prepare()
            try await body(app, clock)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    @Test("a webhook that has not delivered events holds them back; once it has, what is older than the period goes")
    func webhooksHoldEventsBack() async throws {
        try await withApp { app, clock in
            let agent = try await app.insert(DevUser.self, actor: .system, at: clock.now()) { number in
                DevUser(number: number, email: "maya@x.test", displayName: "Maya", fullName: nil, role: .agent, createdBy: .system, at: clock.now())
            }
            let caller = Caller(actor: .devUser(agent.number), role: .agent)
            let hook = try await app.insert(Webhook.self, actor: caller.actor, at: clock.now()) { number in
                Webhook(number: number, url: "http://127.0.0.1:9/hook", eventTypes: Webhook.eventTypes, secret: "x", cursor: 0,
                        createdBy: caller.actor, at: clock.now())
            }
            for index in 0..<3 {
                _ = try await app.openConversation(ConversationOpening(draft: ConversationDraft(title: "old \(index)", messages: ["m"])), by: caller)
            }
            let published = try await app.store.latestOutboxSequence()
            #expect(published == 6)
            clock.advance(by: 8 * 86_400)
            #expect(try await app.pruneEvents(EventRetention(days: 7, batch: 2)) == 0, "the webhook has delivered none of them")
            _ = try await app.update(Webhook.self, number: hook.number, actor: .system, at: clock.now()) { webhook in
                var webhook = webhook
                webhook.cursor = 4
                return webhook
            }
            #expect(try await app.pruneEvents(EventRetention(days: 7, batch: 2)) == 4, "up to what it delivered, in batches")
            #expect(try await app.store.outboxHorizon() == 4)
            try await app.delete(Webhook.self, number: hook.number, actor: .system, at: clock.now())
            #expect(try await app.pruneEvents(EventRetention(days: 7)) == 1, "all but the newest, which is never pruned")
            #expect(try await app.store.outbox(after: 0, limit: 10).map(\.sequence) == [6])
            // Younger than the period: kept, whatever the webhooks; the old newest goes once it is no longer the newest.
            _ = try await app.openConversation(ConversationOpening(draft: ConversationDraft(title: "new", messages: ["m"])), by: caller)
            clock.advance(by: 6 * 86_400)
            #expect(try await app.pruneEvents(EventRetention(days: 7)) == 1)
            #expect(try await app.store.outbox(after: 0, limit: 10).map(\.sequence) == [7, 8])
        }
    }
}
