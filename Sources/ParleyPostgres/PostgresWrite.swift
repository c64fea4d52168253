import Foundation
import Logging
import ParleyCore
import ParleyStore
import PostgresNIO
import Synchronization

/// A write transaction in progress: its statements, and what it leaves for its end (outbox messages, stage
/// counter changes), written in one statement just before COMMIT (see `finish`).
///
/// Writes whose answer the use case does not need (`later`) wait, and go in one statement with the next
/// statement that must see them: each becomes a data-modifying `WITH` query of that statement (decision
/// 0014). A statement sent here (`query`, `scalar`, `run`) first sends what waits, so every statement sees
/// every earlier write, as when each went on its own; only the round trips are fewer.
final class PostgresWrite {
    let session: PostgresSession
    private var messages: [(type: String, conversation: Int, at: Int, doc: String)] = []
    private var stageChanges: [String: Int] = [:]
    private var waiting: [Waiting] = []
    private var waitingKeys: Set<String> = []
    private var waitingValues = 0
    private var reserved: [ObjectKind: [Int]] = [:]

    /// A write not sent yet; `check` is given how many rows it changed.
    private struct Waiting {
        var sql: String
        var values: [PGValue]
        var check: ((Int) throws -> Void)?
    }

    /// Beyond these, what waits is sent before more is added (PostgreSQL takes at most 65,535 values a statement).
    static let waitingValuesLimit = 20_000
    static let waitingStatementsLimit = 200

    init(session: PostgresSession) {
        self.session = session
    }

    @discardableResult
    func query(_ sql: String, _ values: [PGValue] = []) async throws -> [[PGValue]] {
        try await sendWaiting()
        return try await session.query(sql, values)
    }

    func scalar(_ sql: String, _ values: [PGValue] = []) async throws -> PGValue {
        try await sendWaiting()
        return try await session.scalar(sql, values)
    }

    @discardableResult
    func run(_ sql: String, _ values: [PGValue] = []) async throws -> Int {
        try await sendWaiting()
        return try await session.run(sql, values)
    }

    /// A statement that reads nothing the transaction wrote (a sequence's next value): sent now, without
    /// what waits.
    func scalarAside(_ sql: String, _ values: [PGValue] = []) async throws -> PGValue {
        try await session.scalar(sql, values)
    }

    /// Writes `sql` (an INSERT, UPDATE or DELETE without its own `WITH` or `RETURNING`) with the next
    /// statement sent. Two writes with the same `key` (what they change: a table and a row) never go in one
    /// statement, where each would not see the other's change: the first is sent before the second waits.
    /// `check`, given the number of rows changed, throws when that number is wrong.
    func later(_ sql: String, _ values: [PGValue], key: String? = nil, check: ((Int) throws -> Void)? = nil) async throws {
        if let key, waitingKeys.contains(key) { try await sendWaiting() }
        if waiting.count >= Self.waitingStatementsLimit || waitingValues + values.count > Self.waitingValuesLimit {
            try await sendWaiting()
        }
        if let key { waitingKeys.insert(key) }
        waiting.append(Waiting(sql: sql, values: values, check: check))
        waitingValues += values.count
    }

    /// Sends what waits, in one statement.
    func sendWaiting() async throws {
        guard !waiting.isEmpty else { return }
        let batch = takeWaiting()
        if batch.count == 1, batch[0].check == nil {
            try await session.run(batch[0].sql, batch[0].values)
            return
        }
        let (queries, values) = Self.withQueries(batch)
        let row = try await session.query("WITH " + queries + " SELECT " + Self.counted(batch), values).first ?? []
        try Self.check(batch, row)
    }

    private func takeWaiting() -> [Waiting] {
        defer {
            waiting.removeAll()
            waitingKeys.removeAll()
            waitingValues = 0
        }
        return waiting
    }

    /// `w0 AS (… RETURNING 1), w1 AS (…)` and their values in order.
    private static func withQueries(_ batch: [Waiting]) -> (String, [PGValue]) {
        var values: [PGValue] = []
        var queries: [String] = []
        for (index, write) in batch.enumerated() {
            queries.append("w\(index) AS (\(write.sql) RETURNING 1)")
            values += write.values
        }
        return (queries.joined(separator: ", "), values)
    }

    /// How many rows each waiting write changed, as columns.
    private static func counted(_ batch: [Waiting]) -> String {
        batch.indices.map { "(SELECT count(*) FROM w\($0)) AS c\($0)" }.joined(separator: ", ")
    }

    private static func check(_ batch: [Waiting], _ row: [PGValue]) throws {
        for (index, write) in batch.enumerated() {
            guard let check = write.check else { continue }
            try check(index < row.count ? row[index].int ?? 0 : 0)
        }
    }

    /// Numbers taken from a sequence by a statement that read something else too, for `nextNumber`.
    func reserve(_ number: Int, of kind: ObjectKind) {
        reserved[kind, default: []].append(number)
    }

    func takeReserved(_ kind: ObjectKind) -> Int? {
        guard var numbers = reserved[kind], !numbers.isEmpty else { return nil }
        let number = numbers.removeFirst()
        reserved[kind] = numbers
        return number
    }

    func publish(_ kind: OutboxEvent.Kind, conversation: Int, at: Date, document: String) {
        messages.append((kind.rawValue, conversation, PGValue.ms(at).int ?? 0, document))
    }

    func countStage(_ stage: Stage, _ change: Int) {
        stageChanges[stage.rawValue, default: 0] += change
    }

    /// Sends what waits, numbers the outbox messages and changes the stage counters, all in one statement.
    /// The writes that waited run first (the position's update reads their counts); then the statement locks
    /// the outbox position's row until COMMIT: publishers are serialised there, and only there (the lock is
    /// held for the rest of this statement and the COMMIT's round trip, not across the use case).
    /// True when messages were published.
    func finish() async throws -> Bool {
        let changes = stageChanges.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        guard !messages.isEmpty || !changes.isEmpty else {
            try await sendWaiting()
            return false
        }
        let batch = takeWaiting()
        var values: [PGValue] = []
        var sql = "WITH "
        if batch.isEmpty {
            sql += "written AS (SELECT 0 AS c0), "
        } else {
            let (queries, written) = Self.withQueries(batch)
            sql += queries + ", written AS (SELECT " + Self.counted(batch) + "), "
            values = written
        }
        sql += """
            position AS (UPDATE outbox_position SET latest = latest + ? FROM written RETURNING latest),
            published AS (
                INSERT INTO outbox (seq, type, conversation, at_ms, doc)
                SELECT position.latest - ? + m.ord, m.type, m.conversation, m.at_ms, m.doc
                FROM position, unnest(?::text[], ?::bigint[], ?::bigint[], ?::text[]) WITH ORDINALITY AS m(type, conversation, at_ms, doc, ord)),
            counted AS (
                INSERT INTO stage_counts (stage, count)
                SELECT c.stage, c.change FROM position, unnest(?::text[], ?::bigint[]) AS c(stage, change)
                ON CONFLICT (stage) DO UPDATE SET count = stage_counts.count + excluded.count)
            SELECT written.* FROM written, position
            """
        values += [.integer(messages.count), .integer(messages.count), .texts(messages.map(\.type)),
                   .integers(messages.map(\.conversation)), .integers(messages.map(\.at)), .texts(messages.map(\.doc)),
                   .texts(changes.map(\.key)), .integers(changes.map(\.value))]
        let row = try await session.query(sql, values).first ?? []
        try Self.check(batch, row)
        return !messages.isEmpty
    }
}

/// The hint that something was published: a `NOTIFY` sent after COMMIT, at most one per `interval` however
/// many commits published meanwhile, and a `LISTEN` on a connection of its own that tells this server's
/// followers to read the outbox now rather than at their next poll. A hint lost (a connection dropped) only
/// delays an event until that poll.
final class PublishHints: Sendable {
    private struct State {
        var pending = false
        var sending = false
        var listeners: [@Sendable () -> Void] = []
        var tasks: [Task<Void, Never>] = []
        var client: PostgresClient?
        var watch: ConnectionWatch?
        var logger: Logger?
    }

    private let state = Mutex(State())
    static let interval = Duration.milliseconds(10)

    /// Sends hints through `client`; with `listening`, also listens on a connection of its own to `url`
    /// (never one of the pool's, which requests need), opened again whenever it drops.
    func start(client: PostgresClient, watch: ConnectionWatch, url: DatabaseURL, listening: Bool, logger: Logger) {
        state.withLock { state in
            state.client = client
            state.watch = watch
            state.logger = logger
        }
        guard listening else { return }
        let listening = Task { [weak self] in
            var delay = 0.2
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 0,
                                                                          logger: logger)
                    // Closed whatever happens (PostgresNIO asserts that a connection is closed before it goes).
                    let listened: Result<Void, any Error>
                    do {
                        try await withTaskCancellationHandler {
                            try await connection.listen(on: PostgresStore.notifyChannel) { notifications in
                                delay = 0.2
                                // Listening again after a drop: what was published meanwhile is read now.
                                self?.heard()
                                for try await _ in notifications { self?.heard() }
                            }
                        } onCancel: {
                            Task { try? await connection.close() }
                        }
                        listened = .success(())
                    } catch {
                        listened = .failure(error)
                    }
                    try? await connection.close()
                    try listened.get()
                } catch {
                    if Task.isCancelled { return }
                    logger.debug("LISTEN \(PostgresStore.notifyChannel) ended: \(String(describing: error)); listening again")
                }
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 2)
            }
        }
        state.withLock { $0.tasks.append(listening) }
    }

    func stop() {
        let tasks = state.withLock { state in
            defer { state.tasks.removeAll() }
            return state.tasks
        }
        for task in tasks { task.cancel() }
    }

    /// Calls `listener` whenever any server hints that it published.
    func listen(_ listener: @escaping @Sendable () -> Void) {
        state.withLock { $0.listeners.append(listener) }
    }

    private func heard() {
        for listener in state.withLock({ $0.listeners }) { listener() }
    }

    /// A commit published: send a hint now, or once the one being sent is done.
    func published() {
        let sender = state.withLock { state -> (PostgresClient, ConnectionWatch, Logger)? in
            if state.sending {
                state.pending = true
                return nil
            }
            guard let client = state.client, let watch = state.watch, let logger = state.logger else { return nil }
            state.sending = true
            return (client, watch, logger)
        }
        guard let (client, watch, logger) = sender else { return }
        let task = Task { [weak self] in
            while true {
                _ = try? await watch.lease(from: client, within: nil) { connection in
                    try await connection.query("NOTIFY \(unescaped: PostgresStore.notifyChannel)", logger: logger)
                }
                try? await Task.sleep(for: Self.interval)
                let again = self?.state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.sending = false
                    return false
                } ?? false
                if !again { return }
            }
        }
        _ = task
    }
}
