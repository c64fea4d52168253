import NIOCore
import NIOPosix
import ParleyStore
import PostgresNIO
import Synchronization

/// Work on a pooled connection, given up on in the two cases where PostgreSQL's answer would never come.
///
/// **A connection that does not come in time** (`lease`): while the database is down, PostgresNIO's pool
/// has no connection to give and keeps a lease request waiting for as long as it takes; a request must be
/// answered 503 instead. Each lease is registered with its deadline when its task asks the pool, and one
/// sweep every `sweepInterval` on an event loop finds those past it, which a task then gives up (so that
/// a machine too busy to run tasks does not make leases granted meanwhile look late). (The first way, a timer task and a sleeping
/// child task per statement batch, cost the server about a tenth of its CPU per workflow in task switches and
/// Dispatch's timer thread: BENCHMARKS.md, 2026-12-03.) A lease either starts its work or is given up on,
/// never both: the two take the lease's registration under one lock.
///
/// **A connection that closes under its work**: PostgresNIO 1.33.2 writes each statement to
/// its channel with no promise (`PostgresConnection.query`): a statement written just as the server closes
/// the connection (PostgreSQL stopping, a backend killed) reaches a pipeline that no longer has PostgresNIO's
/// handler, and its answer never comes — not an error, nothing. Measured here: with PostgreSQL stopped in
/// fast mode under 8 writers, 2 requests of 628 waited for ever (a ROLLBACK or a read sent between the
/// server's FATAL and the socket's close), holding their HTTP requests, a live stream's follower and the
/// webhooks' lane.
///
/// So the work given a connection runs in a task of its own, and the caller waits for it or, once the
/// connection has been closed for `grace` and the work has still not answered, throws `unavailable`.
/// Work that is abandoned this way stays suspended for ever (its statement's promise is never completed),
/// which costs one small task per statement lost; the pool has already dropped its closed connection and
/// opens new ones. The connection's close is watched with one callback per connection, not one per use.
final class ConnectionWatch: Sendable {
    /// How long work may still answer on its own after its connection closed: statements PostgresNIO knew
    /// about are failed by it at once, so whatever is still waiting after this is lost.
    let grace: TimeAmount

    /// How often leases past their deadline are looked for (a lease waits at most this much longer).
    static let sweepInterval = TimeAmount.milliseconds(100)

    private struct State {
        /// Connections whose close is watched, each with the work running on it now.
        var running: [PostgresConnection.ID: [Int: @Sendable () -> Void]] = [:]
        var nextKey = 0
        /// Leases asked for and not given yet: by when each must come, and how to give up on it.
        var waiting: [Int: Waiting] = [:]
        var sweep: RepeatedTask?
        var stopped = false
    }

    private struct Waiting {
        var deadline: NIODeadline
        var giveUp: @Sendable () -> Void
        /// Past its deadline, and a task to give it up is on its way.
        var late = false
    }

    private let state = Mutex(State())

    init(grace: TimeAmount = .seconds(1)) {
        self.grace = grace
    }

    /// A lease that did not come within its wait.
    struct NoConnectionInTime: Error {}

    /// Runs `work` on a connection leased from `client`; throws `NoConnectionInTime` when none comes within
    /// `wait` (nil: waits as long as it takes, for background work), and `unavailable` if the connection
    /// closes and `work` has not answered `grace` later.
    func lease<T: Sendable>(from client: PostgresClient, within wait: TimeAmount?,
                            _ work: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let outcome = Outcome<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                outcome.wait(continuation)
                outcome.started(Task {
                    // The wait starts with the lease's request: time this task spent waiting for a thread
                    // (the machine busy) is not the database's.
                    let ticket = wait.map { wait in
                        self.register(deadline: .now() + wait) {
                            outcome.finish(.failure(NoConnectionInTime()))
                            outcome.cancel()
                        }
                    }
                    let result: Result<T, any Error>
                    do {
                        result = .success(try await client.withConnection { connection in
                            if let ticket, !self.claim(ticket) { throw CancellationError() }
                            let key = self.watch(connection) { outcome.finish(.failure(Self.lost)) }
                            defer { self.unwatch(connection.id, key: key) }
                            return try await work(connection)
                        })
                    } catch {
                        result = .failure(error)
                    }
                    if let ticket { _ = self.claim(ticket) }
                    outcome.finish(result)
                })
            }
        } onCancel: {
            outcome.cancel()
        }
    }

    /// Stops looking for late leases (the store is closing).
    func stop() {
        let sweep = state.withLock { state -> RepeatedTask? in
            state.stopped = true
            defer { state.sweep = nil }
            return state.sweep
        }
        sweep?.cancel()
    }

    private func register(deadline: NIODeadline, giveUp: @escaping @Sendable () -> Void) -> Int {
        let (ticket, start) = state.withLock { state -> (Int, Bool) in
            let ticket = state.nextKey
            state.nextKey &+= 1
            state.waiting[ticket] = Waiting(deadline: deadline, giveUp: giveUp)
            return (ticket, state.sweep == nil && !state.stopped)
        }
        if start { startSweeping() }
        return ticket
    }

    /// True when the lease `ticket` may start its work (it had not been given up on); from then on it no
    /// longer can be.
    private func claim(_ ticket: Int) -> Bool {
        state.withLock { $0.waiting.removeValue(forKey: ticket) != nil }
    }

    private func startSweeping() {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let sweep = loop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { [weak self] task in
            guard let self else { return task.cancel() }
            self.giveUpLateLeases()
        }
        let keep = state.withLock { state -> Bool in
            guard state.sweep == nil, !state.stopped else { return false }
            state.sweep = sweep
            return true
        }
        if !keep { sweep.cancel() }
    }

    /// Leases past their deadline are given up by a task, not here on the event loop: if the machine is so
    /// busy that tasks wait for a thread, that task waits too, and a lease granted meanwhile (whose own task
    /// has not run yet to start its work) is not given up for it.
    private func giveUpLateLeases() {
        let now = NIODeadline.now()
        let late = state.withLock { state -> [Int] in
            var late: [Int] = []
            for (ticket, waiting) in state.waiting where !waiting.late && waiting.deadline <= now {
                state.waiting[ticket]?.late = true
                late.append(ticket)
            }
            return late
        }
        guard !late.isEmpty else { return }
        Task {
            let giveUps = self.state.withLock { state in late.compactMap { state.waiting.removeValue(forKey: $0)?.giveUp } }
            for giveUp in giveUps { giveUp() }
        }
    }

    static let lost = StoreError(code: 0, message: "database unavailable: the connection closed and a statement's answer was lost",
                                 kind: .unavailable)

    /// Registers `abandon` to run `grace` after `connection` closes (at once if it already has); returns the
    /// key that `unwatch` takes.
    private func watch(_ connection: PostgresConnection, abandon: @escaping @Sendable () -> Void) -> Int {
        let id = connection.id
        let (key, first) = state.withLock { state -> (Int, Bool) in
            let key = state.nextKey
            state.nextKey &+= 1
            let first = state.running[id] == nil
            state.running[id, default: [:]][key] = abandon
            return (key, first)
        }
        if first {
            let grace = grace
            connection.closeFuture.whenComplete { [weak self] _ in
                let watch = self
                connection.eventLoop.scheduleTask(in: grace) { watch?.abandonAll(on: id) }
            }
        }
        return key
    }

    private func unwatch(_ id: PostgresConnection.ID, key: Int) {
        state.withLock { state in _ = state.running[id]?.removeValue(forKey: key) }
    }

    /// The connection closed `grace` ago: whatever still runs on it will never answer.
    private func abandonAll(on id: PostgresConnection.ID) {
        let abandoned = state.withLock { state in state.running.removeValue(forKey: id) ?? [:] }
        for abandon in abandoned.values { abandon() }
    }

    /// The one answer a caller gets: the work's, or the abandonment's, whichever comes first.
    private final class Outcome<T: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<T, any Error>?
            var task: Task<Void, Never>?
            var cancelled = false
            var finished = false
        }

        private let state = Mutex(State())

        func wait(_ continuation: CheckedContinuation<T, any Error>) {
            state.withLock { $0.continuation = continuation }
        }

        func started(_ task: Task<Void, Never>) {
            let cancel = state.withLock { state -> Bool in
                state.task = task
                return state.cancelled
            }
            if cancel { task.cancel() }
        }

        func cancel() {
            let task = state.withLock { state -> Task<Void, Never>? in
                state.cancelled = true
                return state.task
            }
            task?.cancel()
        }

        func finish(_ result: Result<T, any Error>) {
            let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
                guard !state.finished else { return nil }
                state.finished = true
                defer { state.continuation = nil; state.task = nil }
                return state.continuation
            }
            continuation?.resume(with: result)
        }
    }
}
