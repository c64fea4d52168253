import Foundation
import ParleyStore
import Testing

/// Leases for background jobs: one holder at a time, renewable by its holder, taken over once expired or
/// released.
extension StorageContract {
    func leasesGoToOneHolderAtATime(_ store: any ParleyStore) async throws {
        // Long leases while nothing is to expire (a busy machine once took over half a second between two
        // of these calls, and a half-second lease expired under the check); a short one only to expire.
        #expect(try await store.acquireLease("timers", holder: "node-a", duration: 10))
        #expect(try await !store.acquireLease("timers", holder: "node-b", duration: 10), "held by another")
        #expect(try await store.acquireLease("timers", holder: "node-a", duration: 10), "its holder renews it")
        #expect(try await store.acquireLease("webhooks", holder: "node-b", duration: 10), "each lease on its own")
        // Eight servers asking at once: exactly one gets an unheld lease.
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for node in 0..<8 { group.addTask { try await store.acquireLease("pruning", holder: "node-\(node)", duration: 10) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        #expect(try await store.acquireLease("timers", holder: "node-a", duration: 0.2), "renewed for less")
        try await Task.sleep(for: .milliseconds(700))
        #expect(try await store.acquireLease("timers", holder: "node-b", duration: 10), "expired: taken over")
        #expect(try await !store.acquireLease("timers", holder: "node-a", duration: 10), "the old holder lost it")
        try await store.releaseLease("webhooks", holder: "node-a")
        #expect(try await !store.acquireLease("webhooks", holder: "node-a", duration: 10), "only its holder releases it")
        try await store.releaseLease("webhooks", holder: "node-b")
        #expect(try await store.acquireLease("webhooks", holder: "node-a", duration: 10), "released: free at once")
    }
}

/// Presence: who else is on a conversation page, per conversation, until their entry expires.
extension StorageContract {
    func presenceShowsOthersUntilExpired(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        #expect(try await store.markPresence(conversation: 1, agent: 2, state: "viewing", now: t0, until: t0 + 20).isEmpty, "alone")
        #expect(try await store.markPresence(conversation: 1, agent: 3, state: "typing", now: t0 + 1, until: t0 + 21)
                == [PresenceEntry(agent: 2, state: "viewing")])
        #expect(try await store.markPresence(conversation: 2, agent: 4, state: "viewing", now: t0 + 1, until: t0 + 21).isEmpty, "per conversation")
        // Agent 2 renews, now typing; agent 3 sees the change.
        _ = try await store.markPresence(conversation: 1, agent: 2, state: "typing", now: t0 + 5, until: t0 + 25)
        #expect(try await store.markPresence(conversation: 1, agent: 3, state: "viewing", now: t0 + 6, until: t0 + 26)
                == [PresenceEntry(agent: 2, state: "typing")])
        // Agent 3 left (no renewal): gone for agent 2 once expired.
        #expect(try await store.markPresence(conversation: 1, agent: 2, state: "viewing", now: t0 + 27, until: t0 + 47).isEmpty)
        // Eight agents at once on one conversation: each sees the ones that came before it, none is lost.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for agent in 10..<18 {
                group.addTask { _ = try await store.markPresence(conversation: 3, agent: agent, state: "viewing", now: t0, until: t0 + 60) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.markPresence(conversation: 3, agent: 99, state: "viewing", now: t0 + 1, until: t0 + 61).map(\.agent)
                == Array(10..<18))
    }
}
