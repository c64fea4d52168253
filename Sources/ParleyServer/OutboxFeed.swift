import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore
import Synchronization

/// The outbox as the server's live streams read it (every open inbox, every open widget, `/events.stream`):
/// each new event is read from the store and decoded once for all of them, and rendered once per audience
/// (agents, customers), instead of once per stream. Each stream used to decode and render every event itself,
/// customers' streams included (to find the few that were theirs): with sixteen streams open, the workflow's
/// throughput fell to a sixth.
///
/// The feed keeps the newest `kept` events, every one after `floor`. A stream whose cursor is older (it
/// resumes after a long disconnection) reads the store directly, as before.
final class OutboxFeed: Sendable {
    private struct State {
        /// Every event with a sequence above `floor`, up to `latest`, oldest first.
        var recent: [OutboxEvent] = []
        var floor = 0
        var latest = 0
        var started = false
        /// Serialized payloads by (event, whether the viewer is an agent): what a stream writes as `data:`.
        var rendered: [RenderKey: String] = [:]
        var refreshedAt: ContinuousClock.Instant?
        /// The read of the store in progress, which every stream asking meanwhile waits for.
        var refreshing: Task<Void, any Error>?
    }

    private struct RenderKey: Hashable {
        var sequence: Int
        var agentView: Bool
    }

    /// Events read from the store at a time.
    static let readBatch = 500

    let store: any ParleyStore
    /// How many events the feed keeps: about 14 KB each, decoded and rendered (4,096 held 57 MB). Streams
    /// that fall further behind than this read the store, each for itself, until they catch up.
    let kept: Int
    /// Streams asking within this long of the last read share it instead of reading again.
    let refreshInterval: Duration
    private let state = Mutex(State())

    /// Streams waiting for news (see `waitForNews`), by number; `nil` marks one that stopped waiting before
    /// its continuation was registered.
    private let waiting = Mutex<[Int: CheckedContinuation<Void, Never>?]>([:])
    private let nextWaiter = Atomic<Int>(0)

    init(store: any ParleyStore, kept: Int = 4_096, refreshInterval: Duration = .milliseconds(50)) {
        self.store = store
        self.kept = kept
        self.refreshInterval = refreshInterval
        // Another server (or this one) published: the next read goes to the store, and waiting streams ask now.
        store.onPublished { [weak self] in self?.hinted() }
    }

    /// Waits until a hint says something was published, or `timeout` passed (hints can be lost: streams poll).
    func waitForNews(upTo timeout: Duration) async {
        let id = nextWaiter.wrappingAdd(1, ordering: .relaxed).oldValue
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let stopped = self.waiting.withLock { waiting -> Bool in
                        if let entry = waiting[id], entry == nil {
                            waiting[id] = nil
                            return true
                        }
                        waiting[id] = continuation
                        return false
                    }
                    if stopped { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            // Stop waiting: resume the continuation if it is registered, else mark it so it resumes at once.
            let registered = self.waiting.withLock { waiting -> CheckedContinuation<Void, Never>? in
                switch waiting[id] {
                case .some(.some(let continuation)):
                    waiting[id] = nil
                    return continuation
                case .some(.none):
                    return nil
                case .none:
                    waiting[id] = .some(nil)
                    return nil
                }
            }
            registered?.resume()
        }
    }

    private func hinted() {
        state.withLock { $0.refreshedAt = nil }
        let waiters = waiting.withLock { waiting -> [CheckedContinuation<Void, Never>] in
            var registered: [CheckedContinuation<Void, Never>] = []
            for (id, entry) in waiting {
                guard let continuation = entry else { continue }
                registered.append(continuation)
                waiting[id] = nil
            }
            return registered
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The events after `cursor`, oldest first, at most `limit`, as the team's streams read them.
    func events(after cursor: Int, limit: Int) async throws -> [OutboxEvent] {
        try await events(after: cursor, limit: limit, for: Caller(actor: .system, role: .admin)).events
    }

    /// What a stream for `viewer` reads next after `cursor`: at most `limit` events, and the sequence it may
    /// go on from. Within what the feed keeps, the shared events; behind it (a stream resuming from long
    /// ago, or from `after=0`), the store's outbox, unless what follows the cursor was pruned. There a
    /// customer's stream reads only their own conversations' events, filtered before decoding, and moves
    /// past everything it scanned (it used to decode the whole retained outbox to find a few).
    func events(after cursor: Int, limit: Int, for viewer: Caller) async throws -> (events: [OutboxEvent], through: Int) {
        try await refreshIfDue()
        let kept = state.withLock { state -> [OutboxEvent]? in
            guard state.started, cursor >= state.floor else { return nil }
            guard cursor < state.latest else { return [] }
            // `recent` is in sequence order: find the first event after the cursor.
            var low = 0, high = state.recent.count
            while low < high {
                let middle = (low + high) / 2
                if state.recent[middle].sequence <= cursor { low = middle + 1 } else { high = middle }
            }
            return Array(state.recent[low...].prefix(limit))
        }
        if let kept { return (kept, kept.last?.sequence ?? cursor) }
        let events: [OutboxEvent], through: Int
        if viewer.isAgent {
            events = try await store.outbox(after: cursor, limit: limit)
            through = events.last?.sequence ?? cursor
        } else {
            let latest = try await store.latestOutboxSequence()
            events = try await store.outbox(after: cursor, through: latest, limit: limit, about: viewer.actor)
            through = events.count == limit ? events.last?.sequence ?? cursor : latest
        }
        let horizon = try await store.outboxHorizon()
        if cursor < horizon { throw EventsPruned(horizon: horizon) }
        return (events, through)
    }

    /// The serialized payload of `event` for `viewer` (it differs only between agents and customers).
    func payload(_ event: OutboxEvent, for viewer: Caller, renderer: EventRenderer) async throws -> String {
        let key = RenderKey(sequence: event.sequence, agentView: viewer.isAgent)
        if let known = state.withLock({ $0.rendered[key] }) { return known }
        let text = try await renderer.payload(event, for: viewer).serialized
        state.withLock { state in
            // Not for an event older than the feed keeps (a stream catching up renders it for itself).
            if state.started, event.sequence > state.floor { state.rendered[key] = text }
        }
        return text
    }

    /// Reads what the store published since the last read, unless another stream read it moments ago.
    private func refreshIfDue() async throws {
        let read = state.withLock { state -> Task<Void, any Error>? in
            if let running = state.refreshing { return running }
            if let at = state.refreshedAt, at.duration(to: .now) < self.refreshInterval { return nil }
            let task = Task { try await self.refresh() }
            state.refreshing = task
            return task
        }
        try await read?.value
    }

    private func refresh() async throws {
        defer {
            state.withLock { state in
                state.refreshing = nil
                state.refreshedAt = .now
            }
        }
        let top = try await store.latestOutboxSequence()
        var after = state.withLock { state -> Int in
            if !state.started {
                // The first read: what is published from now on (older cursors read the store).
                state.started = true
                state.floor = top
                state.latest = top
            } else if top - state.latest > self.kept {
                // More was published since the last read than the feed keeps: only the newest are read.
                state.recent.removeAll()
                state.rendered.removeAll()
                state.floor = top - self.kept
                state.latest = state.floor
            }
            return state.latest
        }
        while after < top {
            let batch = try await store.outbox(after: after, limit: Self.readBatch)
            guard let last = batch.last else { break }
            after = last.sequence
            state.withLock { state in
                state.recent += batch
                state.latest = last.sequence
                if state.recent.count > self.kept {
                    let dropped = state.recent.count - self.kept
                    state.floor = state.recent[dropped - 1].sequence
                    // Only the dropped events' payloads go (rebuilding the whole table held every stream up).
                    for event in state.recent.prefix(dropped) {
                        for agentView in [true, false] { state.rendered[RenderKey(sequence: event.sequence, agentView: agentView)] = nil }
                    }
                    state.recent.removeFirst(dropped)
                }
            }
            if batch.count < Self.readBatch { break }
        }
    }
}

/// A stream asked for events after a cursor older than the outbox keeps (`--event-retention-days`): some of
/// what follows it was pruned, so the stream cannot go on without a gap. Its client must reload its state.
struct EventsPruned: Error {
    /// The highest sequence pruned.
    var horizon: Int
}
