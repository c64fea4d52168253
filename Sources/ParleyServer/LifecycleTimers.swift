import Hummingbird
import Logging
import ParleyApp
import ParleyCore
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Fires conversations' timers (Stalled, Slow/Fast Moving, auto-archive) when they are due. Deadlines are
/// stored with the conversations, so none is lost on restart and one missed while the server was down
/// fires at start. It keeps the earliest deadline in memory (the application layer signals each one written
/// here; the store's earliest is read again every second, for deadlines other servers wrote) and checks it
/// once a second, so a deadline fires within a second of passing and nothing scans all conversations. Only
/// the server holding the timers' lease fires them (`BackgroundLeases`). With the test clock it does not wait
/// on real time: `test-clock.advance` fires.
final class LifecycleTimers: Service, Sendable {
    let app: ParleyApp
    let waitsOnRealTime: Bool
    let leases: BackgroundLeases
    private let earliest = Synchronization.Mutex<Date?>(nil)
    var policy: LifecyclePolicy { app.lifecyclePolicy }
    var clock: any ParleyClock { app.clock }
    var store: any ParleyStore { app.store }

    /// Listens to the application's deadline signal: every deadline a use case writes may wake it early.
    init(app: ParleyApp, waitsOnRealTime: Bool, leases: BackgroundLeases) {
        self.app = app
        self.waitsOnRealTime = waitsOnRealTime
        self.leases = leases
        app.deadlines.listen { [weak self] due in self?.deadlineWritten(due) }
    }

    /// A use case wrote a deadline: wake for it if it is the earliest.
    func deadlineWritten(_ due: Date) { earliest.withLock { $0 = min($0 ?? due, due) } }

    /// Fires every deadline at or before `now`; returns how many conversations it looked at.
    @discardableResult
    func fireDue(at now: Date) async throws -> Int {
        try await app.fireDueDeadlines(at: now)
    }

    /// Moves a manual clock forward by `seconds`, firing each deadline (and webhook retry) on the way at
    /// its own time.
    func advance(_ clock: ManualClock, by seconds: Double, webhooks: WebhookDelivery) async throws -> Int {
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
        if await leases.renew().contains(.timers) { _ = try? await fireDue(at: clock.now()) }
        guard waitsOnRealTime else {
            try? await gracefulShutdown()
            return
        }
        let first = try? await store.nextDeadline()
        earliest.withLock { $0 = first ?? nil }
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: .seconds(1))
                guard self.leases.holds(.timers) else { continue }
                if let stored = try? await self.store.nextDeadline() {
                    // Deadlines other servers wrote (and a safety net for this one's).
                    self.earliest.withLock { $0 = min($0 ?? stored, stored) }
                }
                let now = self.clock.now()
                guard let due = self.earliest.withLock({ $0 }), due <= now else { continue }
                do {
                    try await self.fireDue(at: now)
                    let next = try await self.store.nextDeadline()
                    self.earliest.withLock { $0 = next }
                } catch {
                    continue
                }
            }
        }
    }
}
