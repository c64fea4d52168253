import Foundation
import ParleyStore
import Testing

/// Leases for background jobs: one holder at a time, renewable by its holder, taken over once expired or
/// released.
extension StorageContract {
    func leasesGoToOneHolderAtATime(_ store: any ParleyStore) async throws {
        #expect(try await store.acquireLease("timers", holder: "node-a", duration: 0.5))
        #expect(try await !store.acquireLease("timers", holder: "node-b", duration: 10), "held by another")
        #expect(try await store.acquireLease("timers", holder: "node-a", duration: 0.5), "its holder renews it")
        #expect(try await store.acquireLease("webhooks", holder: "node-b", duration: 10), "each lease on its own")
        // Eight servers asking at once: exactly one gets an unheld lease.
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for node in 0..<8 { group.addTask { try await store.acquireLease("pruning", holder: "node-\(node)", duration: 10) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        try await Task.sleep(for: .milliseconds(700))
        #expect(try await store.acquireLease("timers", holder: "node-b", duration: 10), "expired: taken over")
        #expect(try await !store.acquireLease("timers", holder: "node-a", duration: 10), "the old holder lost it")
        try await store.releaseLease("webhooks", holder: "node-a")
        #expect(try await !store.acquireLease("webhooks", holder: "node-a", duration: 10), "only its holder releases it")
        try await store.releaseLease("webhooks", holder: "node-b")
        #expect(try await store.acquireLease("webhooks", holder: "node-a", duration: 10), "released: free at once")
    }
}
