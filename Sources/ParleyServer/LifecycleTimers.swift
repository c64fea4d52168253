import Hummingbird
import Logging
import ParleyCore
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Fires conversations' timers (Stalled, Slow/Fast Moving, auto-archive) when they are due. Deadlines are
/// stored with the conversations, so none is lost on restart and one missed while the server was down
/// fires at start. It keeps the earliest deadline in memory (the store tells it of every deadline written)
/// and checks it once a second, so a deadline fires within a second of passing and nothing scans all
/// conversations. With the test clock it does not wait on real time: `test-clock.advance` fires.
final class LifecycleTimers: Service, Sendable {
    let policy: LifecyclePolicy
    let clock: any ParleyClock
    let waitsOnRealTime: Bool
    private let earliest = Synchronization.Mutex<Date?>(nil)
    private let storeBox = StoreBox()

    init(policy: LifecyclePolicy, clock: any ParleyClock, waitsOnRealTime: Bool) {
        self.policy = policy
        self.clock = clock
        self.waitsOnRealTime = waitsOnRealTime
    }

    /// The store is made after the timers (it tells them of new deadlines), then attached.
    func attach(_ store: any ParleyStore) { storeBox.set(store) }

    /// Called by the store for every deadline it writes.
    func deadlineWritten(_ due: Date) { earliest.withLock { $0 = min($0 ?? due, due) } }

    /// Fires every deadline at or before `now`; returns how many conversations it looked at.
    @discardableResult
    func fireDue(at now: Date) async throws -> Int {
        guard let store = storeBox.get() else { return 0 }
        var fired = 0
        while true {
            let due = try await store.conversationsDue(by: now, limit: 200)
            if due.isEmpty { break }
            for (number, _) in due {
                let policy = policy
                let updated = try await store.updateConversation(number: number) { $0.applyingTimers(policy, at: now) }
                // A deadline that fired and changed nothing must not fire again at once.
                let next = updated.nextDeadline(policy)
                if next.map({ $0 <= now }) ?? true { try await store.setDeadline(conversation: number, due: next.flatMap { $0 > now ? $0 : nil }) }
                fired += 1
            }
        }
        return fired
    }

    /// Moves a manual clock forward by `seconds`, firing each deadline (and webhook retry) on the way at
    /// its own time.
    func advance(_ clock: ManualClock, by seconds: Double, webhooks: WebhookDelivery) async throws -> Int {
        guard let store = storeBox.get() else { return 0 }
        let target = clock.now() + seconds
        var fired = 0
        try await webhooks.deliverDue(at: clock.now())
        while true {
            let next = [try await store.nextDeadline(), try await webhooks.nextRetry()].compactMap { $0 }.min()
            guard let next, next <= target else { break }
            clock.move(to: next)
            fired += try await fireDue(at: clock.now())
            try await webhooks.deliverDue(at: clock.now())
        }
        clock.move(to: target)
        fired += try await fireDue(at: clock.now())
        try await webhooks.deliverDue(at: clock.now())
        return fired
    }

    func run() async throws {
        _ = try? await fireDue(at: clock.now())
        guard waitsOnRealTime else {
            try? await gracefulShutdown()
            return
        }
        let first = try? await storeBox.get()?.nextDeadline()
        earliest.withLock { $0 = first ?? nil }
        try? await cancelWhenGracefulShutdown {
            var ticks = 0
            while true {
                try await Task.sleep(for: .seconds(1))
                ticks += 1
                if ticks % 60 == 0, let stored = try? await self.storeBox.get()?.nextDeadline() {
                    // A safety net: re-read the earliest deadline once a minute.
                    self.earliest.withLock { $0 = min($0 ?? stored, stored) }
                }
                let now = self.clock.now()
                guard let due = self.earliest.withLock({ $0 }), due <= now else { continue }
                do {
                    try await self.fireDue(at: now)
                    let next = try await self.storeBox.get()?.nextDeadline()
                    self.earliest.withLock { $0 = next }
                } catch {
                    continue
                }
            }
        }
    }
}

/// Holds the store once it exists.
final class StoreBox: Sendable {
    private let store = Synchronization.Mutex<(any ParleyStore)?>(nil)
    func set(_ value: any ParleyStore) { store.withLock { $0 = value } }
    func get() -> (any ParleyStore)? { store.withLock { $0 } }
}
