import Foundation
import Logging
import ParleyCore
import ParleyStore
import PostgresNIO
import Synchronization

/// The shared store: one PostgreSQL database that several Parley servers use at once. Every use case is
/// one transaction on a pooled connection (a conversation's row is locked while it is decided, so of two
/// writers one waits and decides on what the other stored). What a transaction publishes is numbered in its
/// last statement, which first locks the outbox position's row until COMMIT, so sequences become visible in
/// increasing order (the storage contract's outbox rule; decision 0009); the stage counters are updated in
/// the same statement, after that lock. After a COMMIT that published, a coalesced `NOTIFY` (never
/// inside the writing transaction, where it would serialise every commit) wakes the servers' followers.
public final class PostgresStore: ParleyStore {
    public let url: DatabaseURL
    let client: PostgresClient
    let logger: Logger
    private let runner: Mutex<Task<Void, Never>?>
    private let closed = Mutex(false)
    let hints: PublishHints
    /// Documents decoded lately, reused only while the database returns the very same JSON.
    let documents = DecodedDocuments()
    /// Set when no connection came in time (the database is down), cleared when one is leased again.
    let unreachable = Flag()
    /// Abandons work whose connection closed under it (a statement PostgresNIO lost).
    let watch = ConnectionWatch()
    /// The statements each connection has prepared (decision 0014).
    let prepared = PreparedStatements()

    /// Connections per server (`--database-connections`); one more, outside the pool, listens.
    public static let defaultConnections = 8
    static let migrationLock = 0x7061_726C_6579_02
    static let accessLock = 0x7061_726C_6579_03
    static let notifyChannel = "parley_outbox"

    /// Makes the store and starts its connection pool; connects nothing yet (see `waitUntilReachable`).
    public init(url: DatabaseURL, connections: Int = PostgresStore.defaultConnections, logger: Logger, listening: Bool = true) {
        self.url = url
        var configuration = url.clientConfiguration
        configuration.options.maximumConnections = max(1, connections)
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(3)
        // PostgresNIO's own warnings (a lease asked for before its pool's task ran, connections retried) say
        // less than the store's log lines; they show with --log-level debug.
        var clientLogger = logger
        if logger.logLevel > .debug { clientLogger.logLevel = max(logger.logLevel, .error) }
        let client = PostgresClient(configuration: configuration, backgroundLogger: clientLogger)
        self.client = client
        self.logger = logger
        self.hints = PublishHints()
        self.runner = Mutex(Task { await client.run() })
        hints.start(client: client, watch: watch, url: url, listening: listening, logger: logger)
    }

    /// Opens the database at `url`, waiting for it as `waitUntilReachable` says, and migrates it.
    public static func open(url: DatabaseURL, connections: Int = PostgresStore.defaultConnections, logger: Logger,
                            retrying: Bool = false) async throws -> PostgresStore {
        let store = PostgresStore(url: url, connections: connections, logger: logger)
        do {
            try await store.waitUntilReachable(retrying: retrying)
            try await store.migrate()
            return store
        } catch {
            try? await store.close()
            throw error
        }
    }

    /// Answers once the database answers. With `retrying`, a database that is down (or still starting) is
    /// tried again with backoff, up to 5 s apart, with one log line per attempt naming where and why.
    public func waitUntilReachable(retrying: Bool) async throws {
        var delay = 0.5
        var attempt = 1
        while true {
            do {
                // A connection of its own, so that the reason it fails (refused, authentication, no such
                // database) is the one logged, not the pool's "no connection in time".
                try await Self.probe(url, logger: logger)
                if attempt > 1 { logger.info("database \(url) reachable after \(attempt) attempts") }
                return
            } catch {
                guard retrying else {
                    throw StoreError(code: 0, message: "cannot reach the database at \(url): \(Self.reason(error))", kind: .unavailable)
                }
                logger.warning("database \(url) not reachable (attempt \(attempt)): \(Self.reason(error)); trying again in \(delay) s")
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 5)
                attempt += 1
            }
        }
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? StoreError { return error.message }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return String(describing: underlying) }
            return "\(error.code)"
        }
        return String(describing: error)
    }

    public func close() async throws {
        let first = closed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        hints.stop()
        watch.stop()
        // The pool's task ends before the store goes: a PostgresClient released while its run() is still
        // winding down corrupted memory in release builds (a probe store opened and closed at once crashed
        // about one start in two).
        let task = runner.withLock { task in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
    }

    /// Whether the database at `url` answers now, on a connection of its own (no pool): the reason it does
    /// not is thrown.
    public static func probe(_ url: DatabaseURL, logger: Logger) async throws {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .error)
        let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 0, logger: quiet)
        let answered: Result<Void, any Error>
        do {
            try await connection.query("SELECT 1", logger: quiet)
            answered = .success(())
        } catch {
            answered = .failure(error)
        }
        try? await connection.close()
        try answered.get()
    }

    // MARK: Migrations

    /// Applies the migrations this database lacks, one server at a time; refuses a database whose schema is
    /// newer than this binary knows.
    public func migrate() async throws {
        try await transaction { session in
            try await session.run("SELECT pg_advisory_xact_lock(?)", [.integer(Self.migrationLock)])
            try await session.run("""
                CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """)
            let current = try await session.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").int ?? 0
            guard current <= PostgresSchema.latestVersion else {
                throw StoreError(code: 0, message: "the database's schema is version \(current), newer than this parley knows "
                                 + "(up to \(PostgresSchema.latestVersion)): run a newer parley")
            }
            for migration in PostgresSchema.migrations where migration.version > current {
                for statement in PostgresSchema.statements(migration.sql) { try await session.run(statement) }
                try await session.run("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                                      [.integer(migration.version), .text(migration.name)])
            }
        }
    }

    /// The schema version of the database (0 when empty) and the newest this binary knows.
    public func schemaVersion() async throws -> (database: Int, binary: Int) {
        let database = try await read { session in
            // An empty database has no schema_migrations yet: version 0 (parley migrate asks before migrating).
            guard try await session.scalar("SELECT to_regclass('schema_migrations') IS NOT NULL") == .bool(true) else { return 0 }
            return try await session.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").int ?? 0
        }
        return (database, PostgresSchema.latestVersion)
    }

    // MARK: Transactions

    /// Runs `body` on a pooled connection outside any transaction (each statement sees what was committed
    /// when it started).
    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws -> T {
        do {
            return try await withConnection { connection in
                try await body(PostgresSession(connection: connection, logger: self.logger, prepared: self.prepared))
            }
        } catch {
            throw noted(Self.translate(error))
        }
    }

    /// An error that says the database is unreachable makes the next requests wait less for a connection.
    func noted(_ error: any Error) -> any Error {
        if let error = error as? StoreError, error.kind == .unavailable { unreachable.value.store(true, ordering: .relaxed) }
        return error
    }

    /// Runs `body` in a transaction. A deadlock or serialization failure is retried (the plan's closures run
    /// once per attempt, as the contract allows); any other error rolls everything back.
    @discardableResult
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await withConnection { connection in
                    let session = PostgresSession(connection: connection, logger: self.logger, prepared: self.prepared)
                    try await session.run("BEGIN")
                    do {
                        let result = try await body(session)
                        try await session.run("COMMIT")
                        return result
                    } catch {
                        _ = try? await session.run("ROLLBACK")
                        throw error
                    }
                }
            } catch {
                if attempt < 4, let error = error as? PSQLError, ["40P01", "40001"].contains(error.serverInfo?[.sqlState] ?? "") {
                    continue
                }
                throw noted(Self.translate(error))
            }
        }
    }

    /// How long a request waits for a connection before it is answered 503: while the database is down the
    /// pool has none to give, and a request must not hang until it is back. Once the database was found
    /// unreachable, requests wait only `unreachableWait` until a connection is leased again.
    static let connectionWait = TimeAmount.seconds(3)
    static let unreachableWait = TimeAmount.milliseconds(500)

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// Runs `body` on a pooled connection, or throws `unavailable` when none comes within `connectionWait`
    /// (the lease is given up); once `body` has its connection it is cut short only if the connection closes
    /// and `body` is still waiting a moment later (`ConnectionWatch`).
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let wait = unreachable.value.load(ordering: .relaxed) ? Self.unreachableWait : Self.connectionWait
        let unreachable = unreachable
        let prepared = prepared, logger = logger
        do {
            return try await watch.lease(from: client, within: wait) { connection in
                unreachable.value.store(false, ordering: .relaxed)
                try await prepared.setUp(connection, logger: logger)
                return try await body(connection)
            }
        } catch let error as ConnectionWatch.NoConnectionInTime {
            unreachable.value.store(true, ordering: .relaxed)
            throw error
        }
    }

    /// A write: a transaction whose outbox messages and stage counter changes are written at its end, under
    /// the outbox position's row lock; after its COMMIT the servers' followers are woken.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (PostgresWrite) async throws -> T) async throws -> T {
        let (result, published) = try await transaction { session in
            let write = PostgresWrite(session: session)
            let result = try await body(write)
            let published = try await write.finish()
            return (result, published)
        }
        if published { hints.published() }
        return result
    }
}

extension PostgresStore {
    /// Creates an empty database on the server `url` names (tests, `parley copy` into a new database).
    package static func createDatabase(named name: String, at url: DatabaseURL, logger: Logger) async throws {
        try await administer(url, logger: logger, "CREATE DATABASE \(try quoted(name))")
    }

    /// `WITH (FORCE)` ends the database's sessions, but not an autovacuum worker's (the superuser's): that
    /// refusal (42501) is tried again a few times, the worker being gone a moment later.
    package static func dropDatabase(named name: String, at url: DatabaseURL, logger: Logger) async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await administer(url, logger: logger, "DROP DATABASE IF EXISTS \(try quoted(name)) WITH (FORCE)")
                return
            } catch let error as StoreError where attempt < 10 && error.message.contains("42501") {
                try await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    private static func administer(_ url: DatabaseURL, logger: Logger, _ statement: String) async throws {
        let store = PostgresStore(url: url, connections: 1, logger: logger, listening: false)
        defer { Task { try? await store.close() } }
        _ = try await store.read { session in try await session.run(statement) }
        try await store.close()
    }

    private static func quoted(_ name: String) throws -> String {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw StoreError(code: 0, message: "not a database name: \(name)")
        }
        return "\"\(name)\""
    }
}
