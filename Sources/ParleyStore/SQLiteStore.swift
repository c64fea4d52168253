import NIOPosix
import ParleyCore
import Synchronization

/// The embedded store: one SQLite file in WAL mode. One writer thread owns the write connection and commits
/// in groups: use cases queue up while it is busy, and it then runs everything waiting in one
/// `BEGIN IMMEDIATE … COMMIT` transaction with `synchronous=FULL`, each use case in its own savepoint (one
/// that throws rolls back alone and gets its error). Callers hear back only after the COMMIT returned, so an
/// acknowledged write is on disk, and a batch costs one fsync instead of one per request. Reads run on their
/// own threads and connections (WAL snapshots) and never wait for the writer.
public final class SQLiteStore: ParleyStore {
    public let path: String
    private let writer: Mutex<SQLiteConnection?>
    private let readers = Mutex<[SQLiteConnection]>([])
    private let closed = Mutex(false)
    private let writerThread = NIOThreadPool(numberOfThreads: 1)
    /// Use cases waiting for the writer, and whether a drain of them is scheduled on the writer thread.
    private let writeQueue = Mutex(WriteQueue())
    /// The most use cases one transaction takes, so that one batch cannot keep its callers waiting long.
    static let maximumBatch = 1_000
    /// Conversations as the writer last stored or read them, with their JSON, so that a use case on a
    /// conversation written moments ago neither reads nor decodes it again, and its outbox documents reuse
    /// the encoded text. Only the writer thread touches it; it is emptied whenever a savepoint or a
    /// transaction is rolled back, so it never holds what the database does not.
    private let writerConversations = Mutex<[Int: StoredConversation]>([:])
    /// How many conversations the writer keeps decoded (a few MB).
    static let writerConversationLimit = 2_048
    /// Documents readers and the writer decoded lately, with the JSON they came from: a document is decoded
    /// again only when its stored JSON differs (checked byte for byte on every use), so this never serves
    /// anything but what the reading transaction sees. Inbox pages keep meeting the same people and orgs.
    private let decodedDocuments = Mutex<[DocumentKey: DecodedDocument]>([:])
    /// How many decoded documents are kept (each a few KB).
    static let decodedDocumentLimit = 8_192
    /// What the transaction being written leaves for its end (see `Uncommitted`). Only the writer thread
    /// touches it.
    private let uncommitted = Mutex(Uncommitted())
    private let committedTransactions = Atomic<Int>(0)
    private let committedWrites = Atomic<Int>(0)
    /// Nanoseconds the writer spent running use cases (statements, savepoints, the domain's decisions, the
    /// search index) and in COMMIT (WAL frames, fsync, checkpoints): where its time goes, for `bench store`.
    private let executingNanoseconds = Atomic<Int>(0)
    private let committingNanoseconds = Atomic<Int>(0)
    private let readerThreads: NIOThreadPool
    private let encoder: JSONEncoder
    private let decoder: JSONDecoder
    /// When a conversation's next timer is due (the domain's rule, given by the server); stored with it.
    private let deadlineOf: @Sendable (Conversation) -> Date?
    /// Told of every deadline written, so a waiting timer can wake early.
    private let deadlineWritten: @Sendable (Date) -> Void

    /// Opens (creating if needed) and migrates the database at `path`; `:memory:` is not supported
    /// because readers need their own connections to the same file.
    public init(path: String, readerThreads: Int = 2, now: Date,
                deadlineOf: @escaping @Sendable (Conversation) -> Date? = { _ in nil },
                deadlineWritten: @escaping @Sendable (Date) -> Void = { _ in }) throws {
        self.path = path
        self.deadlineOf = deadlineOf
        self.deadlineWritten = deadlineWritten
        self.readerThreads = NIOThreadPool(numberOfThreads: readerThreads)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        self.encoder = encoder
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        self.decoder = decoder
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        try Self.migrate(connection)
        // After the migrations (an index build sorts in temporary storage): the statement journal of each use
        // case's savepoint stays in memory instead of spilling to a temporary file (pwrite calls on every
        // batch; 8% of the server's CPU per request), and it is never needed after a crash. Bulk jobs switch
        // back to a file for their transaction (see `bulk`).
        try connection.execute(Self.smallJobsTempStore)
        writer = Mutex(connection)
        try bootstrap(connection, now: now)
        writerThread.start()
        self.readerThreads.start()
    }

    /// Opens the database at `path` for `body` (a command's work) and closes it, whether `body` returns or throws.
    public static func using<Result>(path: String, now: Date, _ body: (SQLiteStore) async throws -> Result) async throws -> Result {
        let store = try SQLiteStore(path: path, now: now)
        do {
            let result = try await body(store)
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    }

    /// Stops the store's threads; the file stays consistent whether or not this runs.
    public func close() async throws {
        let first = closed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try await writerThread.shutdownGracefully()
        try await readerThreads.shutdownGracefully()
        writer.withLock { $0 = nil }
        readers.withLock { $0.removeAll() }
    }

    // MARK: Migrations

    /// The schema version this binary writes.
    public static var schemaVersion: Int { Schema.migrations.map(\.version).max() ?? 0 }

    /// Applies the migrations the file lacks, each in its own transaction; returns the versions applied.
    /// "Lacks" is by version, not "above the highest applied": branches land migrations out of order, and a
    /// file that got version 7 before version 6 existed still gets 6.
    @discardableResult
    static func migrate(_ db: SQLiteConnection) throws -> [Int] {
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)")
        let current = try db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").int ?? 0
        if current > schemaVersion {
            throw StoreError(code: 0, message: "database schema version \(current) is newer than this binary's (\(schemaVersion))")
        }
        let present = Set(try db.query("SELECT version FROM schema_migrations").compactMap { $0.first?.int })
        var applied: [Int] = []
        for migration in Schema.migrations where !present.contains(migration.version) {
            try db.execute("BEGIN IMMEDIATE")
            do {
                try db.execute(migration.sql)
                try db.run("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
                           [.integer(Int64(migration.version)), .text(migration.name),
                            .integer(Int64(Date().timeIntervalSince1970 * 1000))])
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
            applied.append(migration.version)
        }
        return applied
    }

    /// Opens the file, applies missing migrations and returns their versions (`parley migrate`).
    public static func migrate(path: String) throws -> [Int] {
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        return try migrate(connection)
    }

    /// Creates the system tags the first time.
    private func bootstrap(_ db: SQLiteConnection, now: Date) throws {
        try transaction(db) {
            for tag in SystemTag.allCases {
                let exists = try db.scalar("SELECT 1 FROM objects WHERE kind = ? AND number = ?",
                                           [.text(ObjectKind.tag.rawValue), .integer(Int64(tag.number))])
                if exists == .null { try insertObject(db, tag.makeTag(at: now), actor: .system, at: now) }
            }
            let floor = Int64(SystemTag.allCases.count + 1)
            try db.run("""
                INSERT INTO sequences (kind, next) VALUES (?, ?)
                ON CONFLICT(kind) DO UPDATE SET next = MAX(next, excluded.next)
                """, [.text(ObjectKind.tag.rawValue), .integer(floor)])
        }
    }

    // MARK: Running work

    private func transaction<T>(_ db: SQLiteConnection, _ body: () throws -> T) throws -> T {
        try db.execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try db.execute("COMMIT")
            return result
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    /// Write transactions committed and use cases they carried since the store opened (their ratio is the
    /// mean group-commit batch), and the seconds the writer spent running use cases and committing them.
    public var writeStatistics: WriteStatistics {
        WriteStatistics(transactions: committedTransactions.load(ordering: .relaxed), writes: committedWrites.load(ordering: .relaxed),
                        executingSeconds: Double(executingNanoseconds.load(ordering: .relaxed)) / 1e9,
                        committingSeconds: Double(committingNanoseconds.load(ordering: .relaxed)) / 1e9)
    }

    public struct WriteStatistics: Sendable {
        public var transactions: Int
        public var writes: Int
        public var executingSeconds: Double
        public var committingSeconds: Double
    }

    /// Where the writer keeps its savepoints' statement journal: in memory for use cases (a few pages each),
    /// in a file for bulk jobs. SQLite truncates an in-memory journal by walking it, once per statement, so
    /// a savepoint of thousands of statements and pages (an import) goes quadratic in memory: a 30,000
    /// conversation fill ran at 1,700/s in memory and 3,500/s with the file.
    static let smallJobsTempStore = "PRAGMA temp_store=MEMORY"
    static let bulkJobsTempStore = "PRAGMA temp_store=DEFAULT"

    /// Starts recording every statement the writer runs, with its values, until `stopRecordingWrites`
    /// (`parley bench store` replays them bare, as the yardstick for the store's overhead).
    public func startRecordingWrites() {
        writer.withLock { $0?.statementLog = StatementLog() }
    }

    /// Stops recording and returns the writes recorded since `startRecordingWrites`, by use case.
    public func stopRecordingWrites() -> RecordedWrites {
        let log = writer.withLock { connection -> StatementLog? in
            defer { connection?.statementLog = nil }
            return connection?.statementLog
        }
        return RecordedWrites(log?.statements ?? [])
    }

    /// Use cases queued for the writer and not yet taken into a transaction.
    var queuedWrites: Int { writeQueue.withLock { $0.jobs.count } }

    /// Runs `body` as one use case on the writer thread: atomically (in its own savepoint) and durably (it
    /// returns only once the transaction that carried it has committed).
    /// A `bulk` job (thousands of statements) runs in a transaction of its own, with its statement journal in
    /// a file.
    @discardableResult
    func write<T: Sendable>(bulk: Bool = false, _ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = WriteJob(
                run: { db in
                    do {
                        let value = try body(db)
                        return .succeeded { commitFailure in
                            if let commitFailure { continuation.resume(throwing: commitFailure) } else { continuation.resume(returning: value) }
                        }
                    } catch {
                        return .failed { continuation.resume(throwing: error) }
                    }
                },
                reject: { error in continuation.resume(throwing: error) },
                isBulk: bulk)
            enqueue(job)
        }
    }

    /// Queues `job` and, unless a drain is already scheduled, schedules one on the writer thread.
    private func enqueue(_ job: WriteJob) {
        let isClosed = closed.withLock { $0 }
        if isClosed {
            job.reject(StoreError(code: 0, message: "store is closed"))
            return
        }
        let startDrain = writeQueue.withLock { queue in
            queue.jobs.append(job)
            defer { queue.draining = true }
            return !queue.draining
        }
        guard startDrain else { return }
        writerThread.submit { [self] state in
            switch state {
            case .active: drainWrites()
            case .cancelled: rejectQueuedWrites(StoreError(code: 0, message: "store is closed"))
            }
        }
    }

    /// Fails every queued job (the writer thread has stopped).
    private func rejectQueuedWrites(_ error: any Error) {
        let jobs = writeQueue.withLock { queue in
            defer { queue.jobs.removeAll(); queue.draining = false }
            return queue.jobs
        }
        for job in jobs { job.reject(error) }
    }

    /// On the writer thread: commits batches of queued jobs until none is left.
    private func drainWrites() {
        while true {
            let jobs = writeQueue.withLock { queue -> [WriteJob] in
                if queue.jobs.isEmpty {
                    queue.draining = false
                    return []
                }
                // A bulk job goes alone; use cases queued before it go in a batch before it.
                var count = min(queue.jobs.count, Self.maximumBatch)
                if let bulk = queue.jobs.prefix(count).firstIndex(where: \.isBulk) { count = max(bulk, 1) }
                defer { queue.jobs.removeFirst(count) }
                return Array(queue.jobs.prefix(count))
            }
            guard !jobs.isEmpty else { return }
            writer.withLock { connection in
                guard let connection else {
                    for job in jobs { job.reject(StoreError(code: 0, message: "store is closed")) }
                    return
                }
                let bulk = jobs.first?.isBulk == true
                if bulk { try? connection.execute(Self.bulkJobsTempStore) }
                commitBatch(jobs, on: connection)
                if bulk { try? connection.execute(Self.smallJobsTempStore) }
            }
        }
    }

    /// Runs `jobs` in one transaction, each in a savepoint, commits once, then answers every caller.
    /// If SQLite abandons the transaction midway (I/O error, disk full), the jobs that had succeeded in it
    /// get that error and the rest start over in a new transaction.
    private func commitBatch(_ jobs: [WriteJob], on db: SQLiteConnection) {
        var answers: [@Sendable () -> Void] = []
        var next = jobs.startIndex
        while next < jobs.endIndex {
            let started = ContinuousClock.now
            do {
                try db.run(BatchStatement.begin)
            } catch {
                for job in jobs[next...] { answers.append { job.reject(error) } }
                break
            }
            var succeeded: [@Sendable ((any Error)?) -> Void] = []
            var abandoned: (any Error)?
            while next < jobs.endIndex, abandoned == nil {
                let job = jobs[next]
                next += 1
                do {
                    try db.run(BatchStatement.beginUseCase)
                } catch {
                    abandoned = error
                    answers.append { job.reject(error) }
                    break
                }
                let mark = uncommitted.withLock { $0.mark }
                switch job.run(db) {
                case .succeeded(let answer):
                    do {
                        try db.run(BatchStatement.endUseCase)
                        succeeded.append(answer)
                    } catch {
                        abandoned = error
                        answers.append { answer(error) }
                    }
                case .failed(let answer):
                    answers.append(answer)
                    forgetWrittenConversations()
                    uncommitted.withLock { $0.rollBack(to: mark) }
                    do {
                        try db.run(BatchStatement.undoUseCase)
                        try db.run(BatchStatement.endUseCase)
                    } catch {
                        abandoned = error
                    }
                }
                if abandoned == nil, !db.isInTransaction {
                    abandoned = StoreError(code: 0, message: "SQLite rolled the transaction back")
                }
            }
            if let abandoned {
                discardUncommitted()
                if db.isInTransaction { try? db.execute("ROLLBACK") }
                for answer in succeeded { answers.append { answer(abandoned) } }
                continue
            }
            do {
                try applyTextChanges(db)
                let committing = ContinuousClock.now
                executingNanoseconds.add(Self.nanoseconds(started.duration(to: committing)), ordering: .relaxed)
                try db.run(BatchStatement.commit)
                committingNanoseconds.add(Self.nanoseconds(committing.duration(to: .now)), ordering: .relaxed)
                publishCommittedDocuments()
                committedTransactions.add(1, ordering: .relaxed)
                committedWrites.add(succeeded.count, ordering: .relaxed)
                for answer in succeeded { answers.append { answer(nil) } }
            } catch {
                discardUncommitted()
                if db.isInTransaction { try? db.execute("ROLLBACK") }
                for answer in succeeded { answers.append { answer(error) } }
            }
        }
        for answer in answers { answer() }
    }

    /// Runs `body` on a read connection (one snapshot per call).
    private func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await readerThreads.runIfActive { [self] in
            let connection = try readers.withLock { $0.popLast() } ?? SQLiteConnection(path: path, readOnly: true)
            defer { readers.withLock { $0.append(connection) } }
            // Prepared once per connection (sqlite3_exec would compile them on every read).
            try connection.run("BEGIN")
            defer { _ = try? connection.run("COMMIT") }
            return try body(connection)
        }
    }

    /// Runs a point read (rows found by key through an index: a token, an object, a conversation) on a
    /// read connection, on the calling thread. Such a read takes microseconds, less than handing it to a
    /// reader thread and back (two thread wake-ups, which dominated the CPU profile of a request making ten
    /// of them); scans, lists and searches still run on the reader threads through `read`.
    private func lookup<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        if closed.withLock({ $0 }) { throw StoreError(code: 0, message: "store is closed") }
        let connection = try readers.withLock { $0.popLast() } ?? SQLiteConnection(path: path, readOnly: true)
        defer { readers.withLock { $0.append(connection) } }
        try connection.run("BEGIN")
        defer { _ = try? connection.run("COMMIT") }
        return try body(connection)
    }

    // MARK: Encoding

    private func json<T: Encodable>(_ value: T) throws -> SQLValue {
        .text(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    private func decode<T: Decodable>(_ type: T.Type, _ value: SQLValue) throws -> T {
        guard case .text(let text) = value else { throw StoreError(code: 0, message: "missing document") }
        return try decoder.decode(type, from: Data(text.utf8))
    }

    /// Decodes the document of (`kind`, `number`), or returns the copy decoded from the very same JSON before.
    private func decodeDocument<T: Decodable & Sendable>(_ type: T.Type, kind: String, number: Int, _ value: SQLValue) throws -> T {
        guard case .text(let text) = value else { throw StoreError(code: 0, message: "missing document") }
        let key = DocumentKey(kind: kind, number: number)
        if let known = decodedDocuments.withLock({ $0[key] }), let object = known.value as? T,
           Self.sameBytes(known.json, text) {
            return object
        }
        let object = try decoder.decode(type, from: Data(text.utf8))
        decodedDocuments.withLock { known in
            if known.count >= Self.decodedDocumentLimit, known[key] == nil { known.removeAll(keepingCapacity: true) }
            known[key] = DecodedDocument(json: text, value: object)
        }
        return object
    }

    /// Whether two texts are the same bytes (not merely canonically equivalent, as `==` would say).
    private static func sameBytes(_ first: String, _ second: String) -> Bool {
        var first = first
        var second = second
        return first.withUTF8 { a in
            second.withUTF8 { b in
                guard a.count == b.count else { return false }
                guard let x = a.baseAddress, let y = b.baseAddress else { return true }
                return memcmp(x, y, a.count) == 0
            }
        }
    }

    /// On the writer, inside a use case: `value` is being stored as `json` under (`kind`, `number`).
    private func wrote(_ value: some Sendable, json: String, kind: String, number: Int) {
        uncommitted.withLock { $0.documents.append((DocumentKey(kind: kind, number: number), DecodedDocument(json: json, value: value))) }
    }

    /// Before a COMMIT, outside every savepoint: the full-text index changes of the whole transaction.
    private func applyTextChanges(_ db: SQLiteConnection) throws {
        let changes = uncommitted.withLock { pending in
            defer { pending.textChanges.removeAll(keepingCapacity: true) }
            return pending.textChanges
        }
        for change in changes {
            switch change {
            case .title(let conversation, let title, let isNew):
                if !isNew { try db.run("DELETE FROM conversation_text WHERE rowid = ?", [.integer(Int64(-conversation))]) }
                try db.run("INSERT INTO conversation_text (rowid, text, conversation, is_note) VALUES (?, ?, ?, 0)",
                           [.integer(Int64(-conversation)), .text(title), .integer(Int64(conversation))])
            case .comment(let entry, let isNew):
                if !isNew { try db.run("DELETE FROM conversation_text WHERE rowid = ?", [.integer(Int64(entry.number))]) }
                guard !entry.isDeleted else { continue }
                try db.run("INSERT INTO conversation_text (rowid, text, conversation, is_note) VALUES (?, ?, ?, ?)",
                           [.integer(Int64(entry.number)), .text(entry.body), .integer(Int64(entry.conversation)),
                            .integer(entry.visibility.isNote ? 1 : 0)])
            case .removed(let conversation, let comments):
                for rowid in [-conversation] + comments {
                    try db.run("DELETE FROM conversation_text WHERE rowid = ?", [.integer(Int64(rowid))])
                }
            }
        }
    }

    /// After a COMMIT: what the transaction stored becomes what readers find decoded.
    private func publishCommittedDocuments() {
        let written = uncommitted.withLock { pending in
            defer { pending.documents.removeAll(keepingCapacity: true) }
            return pending.documents
        }
        guard !written.isEmpty else { return }
        // A bulk import writes tens of thousands: the newest are kept, within the cache's bound.
        let kept = written.suffix(Self.decodedDocumentLimit)
        decodedDocuments.withLock { known in
            if known.count + kept.count > Self.decodedDocumentLimit { known.removeAll(keepingCapacity: true) }
            for (key, document) in kept { known[key] = document }
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds) * 1_000_000_000 + Int(duration.components.attoseconds / 1_000_000_000)
    }

    fileprivate static func ms(_ date: Date) -> SQLValue { .integer(Int64((date.timeIntervalSince1970 * 1000).rounded())) }

    private func nextNumber(_ db: SQLiteConnection, _ kind: ObjectKind) throws -> Int {
        let value = try db.scalar("""
            INSERT INTO sequences (kind, next) VALUES (?, 2)
            ON CONFLICT(kind) DO UPDATE SET next = next + 1 RETURNING next - 1
            """, [.text(kind.rawValue)])
        guard let number = value.int else { throw StoreError(code: 0, message: "sequence for \(kind.rawValue) failed") }
        return number
    }

    private func record(_ db: SQLiteConnection, _ events: [ChangeEvent]) throws {
        for event in events {
            try db.run("INSERT INTO events (object, at_ms, doc) VALUES (?, ?, ?)",
                       [.text(event.object.don), Self.ms(event.at), .text(StoredDocument.json(event))])
        }
    }

    // MARK: Directory objects

    private func checkUnique<Object: DirectoryObject>(_ db: SQLiteConnection, _ object: Object) throws {
        for key in object.indexKeys where key.unique {
            let other = try db.scalar("""
                SELECT number FROM object_keys WHERE kind = ? AND name = ? AND value = ? AND number != ? LIMIT 1
                """, [.text(Object.kind.rawValue), .text(key.name), .text(key.value), .integer(Int64(object.number))])
            if let number = other.int {
                throw DomainError.conflict(
                    "\(ObjectID(Object.kind, number).displayID) already has \(key.name) '\(key.value)'")
            }
        }
    }

    private func writeKeys<Object: DirectoryObject>(_ db: SQLiteConnection, _ object: Object) throws {
        try db.run("DELETE FROM object_keys WHERE kind = ? AND number = ?",
                   [.text(Object.kind.rawValue), .integer(Int64(object.number))])
        for key in Set(object.indexKeys) {
            try db.run("INSERT OR IGNORE INTO object_keys (kind, name, value, number, is_unique) VALUES (?, ?, ?, ?, ?)",
                       [.text(Object.kind.rawValue), .text(key.name), .text(key.value),
                        .integer(Int64(object.number)), .integer(key.unique ? 1 : 0)])
        }
    }

    private func insertObject<Object: DirectoryObject>(_ db: SQLiteConnection, _ object: Object, actor: Actor, at: Date) throws {
        try checkUnique(db, object)
        try db.run("INSERT INTO objects (kind, number, doc, created_ms, modified_ms) VALUES (?, ?, ?, ?, ?)",
                   [.text(Object.kind.rawValue), .integer(Int64(object.number)), try json(object),
                    Self.ms(object.createdDate), Self.ms(object.modifiedDate)])
        try writeKeys(db, object)
        try record(db, [ChangeEvent(object: object.id, actor: actor, at: at, kind: .created)])
    }

    private func loadObject<Object: DirectoryObject>(_ db: SQLiteConnection, _ type: Object.Type, _ number: Int) throws -> Object? {
        let value = try db.scalar("SELECT doc FROM objects WHERE kind = ? AND number = ? AND deleted = 0",
                                  [.text(Object.kind.rawValue), .integer(Int64(number))])
        if value == .null { return nil }
        return try decodeDocument(type, kind: Object.kind.rawValue, number: number, value)
    }

    public func insert<Object: DirectoryObject>(_ type: Object.Type, actor: Actor, at: Date,
                                                make: @escaping @Sendable (Int) throws -> Object) async throws -> Object {
        return try await write { [self] db in
            let object = try make(try nextNumber(db, Object.kind))
            try insertObject(db, object, actor: actor, at: at)
            return object
        }
    }

    public func insertPair<First: DirectoryObject, Second: DirectoryObject>(
        _ first: First.Type, _ second: Second.Type, actor: Actor, at: Date,
        make: @escaping @Sendable (Int, Int) throws -> (First, Second)) async throws -> (First, Second) {
        try await write { [self] db in
            let (a, b) = try make(try nextNumber(db, First.kind), try nextNumber(db, Second.kind))
            try insertObject(db, a, actor: actor, at: at)
            try insertObject(db, b, actor: actor, at: at)
            return (a, b)
        }
    }

    public func object<Object: DirectoryObject>(_ type: Object.Type, number: Int) async throws -> Object? {
        try lookup { [self] db in try loadObject(db, type, number) }
    }

    public func objects<Object: DirectoryObject>(_ type: Object.Type, numbers: Set<Int>) async throws -> [Int: Object] {
        guard !numbers.isEmpty else { return [:] }
        return try lookup { [self] db in
            let marks = SQLiteConnection.placeholders(numbers.count)
            var result: [Int: Object] = [:]
            for row in try db.query("SELECT doc, number FROM objects WHERE kind = ? AND number IN (\(marks))",
                                    [.text(Object.kind.rawValue)] + numbers.map { .integer(Int64($0)) }) {
                let object = try decodeDocument(type, kind: Object.kind.rawValue, number: row[1].int ?? 0, row[0])
                result[object.number] = object
            }
            return result
        }
    }

    public func update<Object: DirectoryObject>(_ type: Object.Type, number: Int, actor: Actor, at: Date,
                                                change: @escaping @Sendable (Object) throws -> Object) async throws -> Object {
        return try await write { [self] db in
            guard let current = try loadObject(db, type, number) else {
                throw DomainError.notFound(ObjectID(Object.kind, number).displayID)
            }
            var next = try change(current)
            if next == current { return current }
            next.modifiedBy = actor
            next.modifiedDate = at
            try checkUnique(db, next)
            try db.run("UPDATE objects SET doc = ?, modified_ms = ? WHERE kind = ? AND number = ?",
                       [try json(next), Self.ms(at), .text(Object.kind.rawValue), .integer(Int64(number))])
            try writeKeys(db, next)
            guard Object.recordsUpdates else { return next }
            try record(db, [ChangeEvent(object: next.id, actor: actor, at: at, kind: .fieldChanged,
                                        before: .text(String(decoding: try encoder.encode(current), as: UTF8.self)),
                                        after: .text(String(decoding: try encoder.encode(next), as: UTF8.self)))])
            return next
        }
    }

    public func delete<Object: DirectoryObject>(_ type: Object.Type, number: Int, actor: Actor, at: Date) async throws {
        try await write { [self] db in
            guard try loadObject(db, type, number) != nil else {
                throw DomainError.notFound(ObjectID(Object.kind, number).displayID)
            }
            try db.run("UPDATE objects SET deleted = 1, modified_ms = ? WHERE kind = ? AND number = ?",
                       [Self.ms(at), .text(Object.kind.rawValue), .integer(Int64(number))])
            try db.run("DELETE FROM object_keys WHERE kind = ? AND number = ?",
                       [.text(Object.kind.rawValue), .integer(Int64(number))])
            try record(db, [ChangeEvent(object: ObjectID(Object.kind, number), actor: actor, at: at, kind: .deleted)])
        }
    }

    public func list<Object: DirectoryObject>(_ type: Object.Type, query: DirectoryQuery) async throws -> Page<Object> {
        try await read { [self] db in
            var conditions = ["o.kind = ?", "o.deleted = 0"]
            var binds: [SQLValue] = [.text(Object.kind.rawValue)]
            func keyFilter(_ name: String, _ values: [String]) -> String {
                binds.append(.text(name))
                binds += values.map { .text($0) }
                let marks = SQLiteConnection.placeholders(values.count)
                return "EXISTS (SELECT 1 FROM object_keys k WHERE k.kind = o.kind AND k.number = o.number AND k.name = ? AND k.value IN (\(marks)))"
            }
            for (name, values) in query.keys.sorted(by: { $0.key < $1.key }) where !values.isEmpty {
                conditions.append(keyFilter(name, values))
            }
            let alternatives = query.anyKeys.sorted(by: { $0.key < $1.key }).filter { !$0.value.isEmpty }
                .map { keyFilter($0.key, $0.value) }
            if !alternatives.isEmpty { conditions.append("(" + alternatives.joined(separator: " OR ") + ")") }
            appendRange(query.created, column: "o.created_ms", to: &conditions, &binds)
            appendRange(query.modified, column: "o.modified_ms", to: &conditions, &binds)
            let sortColumn = query.sortByModified ? "o.modified_ms" : "o.created_ms"
            let keyset = Keyset(columns: [.init(expression: sortColumn, descending: query.descending),
                                          .init(expression: "o.number", descending: query.descending)])
            return try db.page(select: "SELECT o.doc, \(sortColumn), o.number FROM objects o", conditions: conditions,
                               binds: binds, keyset: keyset, page: query.page) { row in
                try decode(type, row[0])
            }
        }
    }

    public func find<Object: DirectoryObject>(_ type: Object.Type, key: String, value: String) async throws -> [Object] {
        try lookup { [self] db in
            try db.query("""
                SELECT o.doc, o.number FROM object_keys k JOIN objects o ON o.kind = k.kind AND o.number = k.number
                WHERE k.kind = ? AND k.name = ? AND k.value = ? AND o.deleted = 0 ORDER BY o.number
                """, [.text(Object.kind.rawValue), .text(key), .text(value)]).map { row in
                try decodeDocument(type, kind: Object.kind.rawValue, number: row[1].int ?? 0, row[0])
            }
        }
    }

    private func appendRange(_ range: DateRange, column: String, to conditions: inout [String], _ binds: inout [SQLValue]) {
        if let after = range.after {
            conditions.append("\(column) >= ?")
            binds.append(Self.ms(after))
        }
        if let before = range.before {
            conditions.append("\(column) <= ?")
            binds.append(Self.ms(before))
        }
    }

    // MARK: Conversations

    private func loadConversation(_ db: SQLiteConnection, _ number: Int) throws -> Conversation? {
        let value = try db.scalar("SELECT doc FROM conversations WHERE number = ? AND deleted = 0", [.integer(Int64(number))])
        if value == .null { return nil }
        return try decodeDocument(Conversation.self, kind: ObjectKind.conversation.rawValue, number: number, value)
    }

    /// On the writer: the conversation as stored, from the writer's own recent ones when it has it.
    private func loadForWriting(_ db: SQLiteConnection, _ number: Int) throws -> StoredConversation? {
        if let known = writerConversations.withLock({ $0[number] }) { return known }
        guard case .text(let json) = try db.scalar("SELECT doc FROM conversations WHERE number = ? AND deleted = 0",
                                                   [.integer(Int64(number))]) else { return nil }
        let stored = StoredConversation(conversation: try decoder.decode(Conversation.self, from: Data(json.utf8)), json: json)
        remember(stored)
        return stored
    }

    private func remember(_ stored: StoredConversation) {
        writerConversations.withLock { known in
            if known.count >= Self.writerConversationLimit, known[stored.conversation.number] == nil { known.removeAll(keepingCapacity: true) }
            known[stored.conversation.number] = stored
        }
    }

    private func forgetWrittenConversations() {
        writerConversations.withLock { $0.removeAll(keepingCapacity: true) }
    }

    /// The transaction is rolled back: nothing it wrote may be remembered, published or indexed.
    private func discardUncommitted() {
        forgetWrittenConversations()
        uncommitted.withLock { $0 = Uncommitted() }
    }

    @discardableResult
    private func saveConversation(_ db: SQLiteConnection, _ conversation: Conversation, previous: Conversation?,
                                  remembered: Bool = true) throws -> StoredConversation {
        let number = SQLValue.integer(Int64(conversation.number))
        let written = try StoredDocument.document(conversation)
        // What the caches keep is what a read of this row decodes (see `StoredDocument.Written`).
        let stored = StoredConversation(conversation: written.readsBackExactly ? conversation : try decoder.decode(Conversation.self, from: Data(written.json.utf8)),
                                        json: written.json)
        if let previous {
            try updateConversationRow(db, conversation, json: stored.json, previous: previous)
        } else {
            // A plain INSERT: numbers are never reused, and OR REPLACE would silently delete another
            // conversation holding the same external ref (through its unique index) behind the counters' back.
            try db.run("""
            INSERT INTO conversations
            (number, doc, stage, priority, grp, rev_org, source_channel, is_spam, created_ms, modified_ms, waiting_ms, deleted, external_ref,
             unassigned)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
            """, [number, .text(stored.json), .text(conversation.stage.rawValue),
                  .integer(Int64(conversation.priority.rank)),
                  conversation.group.map { .integer(Int64($0)) } ?? .null,
                  conversation.revOrg.map { .integer(Int64($0)) } ?? .null,
                  .text(conversation.sourceChannel), .integer(conversation.isSpam ? 1 : 0),
                  Self.ms(conversation.createdDate), Self.ms(conversation.modifiedDate),
                  conversation.waitingSince.map(Self.ms) ?? .null, conversation.externalRef.map { .text($0) } ?? .null,
                  .integer(conversation.ownedBy.isEmpty ? 1 : 0)])
        }
        if let due = deadlineOf(conversation) {
            try db.run("INSERT OR REPLACE INTO deadlines (conversation, due_ms) VALUES (?, ?)", [number, Self.ms(due)])
            deadlineWritten(due)
        } else if previous != nil {
            try db.run("DELETE FROM deadlines WHERE conversation = ?", [number])
        }
        // Owners, members and tags change row by row: rows that stay are left alone, so a reply that adds the
        // agent as a member writes the agent's row and not the customer's again (each row touched is a page
        // in the commit).
        if previous?.ownedBy != conversation.ownedBy {
            let before = Set(previous?.ownedBy ?? []), after = Set(conversation.ownedBy)
            for owner in before.subtracting(after) {
                try db.run("DELETE FROM conversation_owners WHERE owner = ? AND conversation = ?", [.integer(Int64(owner)), number])
            }
            for owner in after.subtracting(before) {
                try db.run("INSERT OR IGNORE INTO conversation_owners (owner, conversation) VALUES (?, ?)", [.integer(Int64(owner)), number])
            }
        }
        if previous?.members != conversation.members {
            let before = Set((previous?.members ?? []).map(\.description)), after = Set(conversation.members.map(\.description))
            for member in before.subtracting(after) {
                try db.run("DELETE FROM conversation_members WHERE member = ? AND conversation = ?", [.text(member), number])
            }
            for member in after.subtracting(before) {
                try db.run("INSERT OR IGNORE INTO conversation_members (member, conversation) VALUES (?, ?)", [.text(member), number])
            }
        }
        if previous?.tags != conversation.tags {
            // A tag listed twice keeps its last value, as the rows always did.
            let before = Dictionary((previous?.tags ?? []).map { ($0.tag, $0.value) }, uniquingKeysWith: { $1 })
            let after = Dictionary(conversation.tags.map { ($0.tag, $0.value) }, uniquingKeysWith: { $1 })
            for tag in before.keys where after[tag] == nil {
                try db.run("DELETE FROM conversation_tags WHERE tag = ? AND conversation = ?", [.integer(Int64(tag)), number])
            }
            for (tag, value) in after where before[tag] != .some(value) {
                try db.run("INSERT OR REPLACE INTO conversation_tags (tag, conversation, value) VALUES (?, ?, ?)",
                           [.integer(Int64(tag)), number, value.map { .text($0) } ?? .null])
            }
        }
        if previous?.title != conversation.title {
            let change = TextIndexChange.title(conversation: conversation.number, title: conversation.title, isNew: previous == nil)
            uncommitted.withLock { $0.textChanges.append(change) }
        }
        if remembered {
            remember(stored)
            wrote(stored.conversation, json: stored.json, kind: ObjectKind.conversation.rawValue, number: conversation.number)
        }
        return stored
    }

    /// Updates the row of a stored conversation: its document, and of the columns lists filter and sort on only
    /// those whose value changes, so that SQLite rewrites only the indexes on them (a reply changes the stage,
    /// the waiting time and the modification time; never the creation time, the org or the external ref).
    /// The stage counters follow the stage through a trigger (schema 9).
    private func updateConversationRow(_ db: SQLiteConnection, _ conversation: Conversation, json: String, previous: Conversation) throws {
        var assignments = ["doc = ?"]
        var values: [SQLValue] = [.text(json)]
        func set(_ column: String, _ value: @autoclosure () -> SQLValue, when changed: Bool) {
            guard changed else { return }
            assignments.append("\(column) = ?")
            values.append(value())
        }
        set("stage", .text(conversation.stage.rawValue), when: previous.stage != conversation.stage)
        set("priority", .integer(Int64(conversation.priority.rank)), when: previous.priority != conversation.priority)
        set("grp", conversation.group.map { .integer(Int64($0)) } ?? .null, when: previous.group != conversation.group)
        set("rev_org", conversation.revOrg.map { .integer(Int64($0)) } ?? .null, when: previous.revOrg != conversation.revOrg)
        set("source_channel", .text(conversation.sourceChannel), when: previous.sourceChannel != conversation.sourceChannel)
        set("is_spam", .integer(conversation.isSpam ? 1 : 0), when: previous.isSpam != conversation.isSpam)
        set("created_ms", Self.ms(conversation.createdDate), when: Self.ms(previous.createdDate) != Self.ms(conversation.createdDate))
        set("modified_ms", Self.ms(conversation.modifiedDate), when: Self.ms(previous.modifiedDate) != Self.ms(conversation.modifiedDate))
        set("waiting_ms", conversation.waitingSince.map(Self.ms) ?? .null,
            when: previous.waitingSince.map(Self.ms) != conversation.waitingSince.map(Self.ms))
        set("external_ref", conversation.externalRef.map { .text($0) } ?? .null, when: previous.externalRef != conversation.externalRef)
        set("unassigned", .integer(conversation.ownedBy.isEmpty ? 1 : 0), when: previous.ownedBy.isEmpty != conversation.ownedBy.isEmpty)
        values.append(.integer(Int64(conversation.number)))
        let changed = try db.run("UPDATE conversations SET \(assignments.joined(separator: ", ")) WHERE number = ? AND deleted = 0", values)
        guard changed == 1 else { throw DomainError.notFound(conversation.id.displayID) }
    }

    private struct OutboxDocument: Codable {
        var conversation: Conversation
        var oldConversation: Conversation?
        var entry: TimelineEntry?
    }

    /// Stores an outbox document: the `OutboxDocument` JSON (keys sorted, absent ones left out, as the
    /// encoder writes it), assembled from the conversations' stored JSON rather than encoding them again.
    private func publish(_ db: SQLiteConnection, _ kind: OutboxEvent.Kind, _ conversation: StoredConversation,
                         old: StoredConversation? = nil, entryJSON: String? = nil, at: Date) throws {
        var document = "{\"conversation\":" + conversation.json
        if let entryJSON { document += ",\"entry\":" + entryJSON }
        if let old { document += ",\"oldConversation\":" + old.json }
        document += "}"
        try db.run("INSERT INTO outbox (type, conversation, at_ms, doc) VALUES (?, ?, ?, ?)",
                   [.text(kind.rawValue), .integer(Int64(conversation.conversation.number)), Self.ms(at), .text(document)])
    }

    public func outbox(after sequence: Int, limit: Int) async throws -> [OutboxEvent] {
        try await read { [self] db in
            try db.query("SELECT seq, type, at_ms, doc FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                         [.integer(Int64(sequence)), .integer(Int64(limit))]).compactMap { row in
                guard let kind = row[1].string.flatMap(OutboxEvent.Kind.init) else { return nil }
                let document = try decode(OutboxDocument.self, row[3])
                return OutboxEvent(sequence: row[0].int ?? 0, kind: kind, at: Date(timeIntervalSince1970: Double(row[2].int ?? 0) / 1000),
                                   conversation: document.conversation, oldConversation: document.oldConversation, entry: document.entry)
            }
        }
    }

    public func latestOutboxSequence() async throws -> Int {
        try lookup { db in try db.scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox").int ?? 0 }
    }

    /// Stores a new comment; returns its JSON (the outbox document of its creation carries it).
    @discardableResult
    private func insertComment(_ db: SQLiteConnection, _ entry: TimelineEntry) throws -> String {
        let written = StoredDocument.document(entry)
        let document = written.json
        wrote(written.readsBackExactly ? entry : try decoder.decode(TimelineEntry.self, from: Data(document.utf8)),
              json: document, kind: ObjectKind.comment.rawValue, number: entry.number)
        uncommitted.withLock { $0.textChanges.append(.comment(entry, isNew: true)) }
        try db.run("""
            INSERT INTO timeline_entries (number, conversation, doc, visibility, author, created_ms, external_ref)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.integer(Int64(entry.number)), .integer(Int64(entry.conversation)), .text(document),
                  .text(entry.visibility.rawValue), .text(entry.author.description), Self.ms(entry.createdDate),
                  entry.externalRef.map { .text($0) } ?? .null])
        return document
    }

    public func createConversation(actor: Actor, at: Date,
                                   make: @escaping @Sendable (Int) throws -> ConversationCreation) async throws -> Conversation {
        return try await write { [self] db in
            let creation = try make(try nextNumber(db, .conversation))
            let conversation = creation.decision.conversation
            if let reference = conversation.externalRef,
               let existing = try db.scalar("SELECT number FROM conversations WHERE external_ref = ?", [.text(reference)]).int {
                throw DomainError.conflict("conversation \(ObjectID(.conversation, existing).displayID) already has external_ref '\(reference)'")
            }
            let stored = try saveConversation(db, conversation, previous: nil)
            try record(db, creation.decision.events)
            try publish(db, .conversationCreated, stored, at: at)
            for comment in creation.comments {
                let entry = comment.entry(number: try nextNumber(db, .comment), conversation: conversation.number)
                let entryJSON = try insertComment(db, entry)
                try publish(db, .timelineEntryCreated, stored, entryJSON: entryJSON, at: at)
            }
            return conversation
        }
    }

    /// Bulk loading (benchmark fills, imports): stores `count` conversations made by `make`, each with its
    /// events and comments, in one transaction. Unlike `createConversation` it publishes nothing to the
    /// outbox (no webhook hears of them) and checks no external refs. Returns the numbers given out.
    public func importConversations(count: Int, make: @escaping @Sendable (Int) throws -> ConversationCreation) async throws -> [Int] {
        try await write(bulk: true) { [self] db in
            var numbers: [Int] = []
            numbers.reserveCapacity(count)
            for _ in 0..<count {
                let creation = try make(try nextNumber(db, .conversation))
                let conversation = creation.decision.conversation
                try saveConversation(db, conversation, previous: nil, remembered: false)
                try record(db, creation.decision.events)
                for comment in creation.comments {
                    try insertComment(db, comment.entry(number: try nextNumber(db, .comment), conversation: conversation.number))
                }
                numbers.append(conversation.number)
            }
            return numbers
        }
    }

    public func conversation(number: Int) async throws -> Conversation? {
        try lookup { [self] db in try loadConversation(db, number) }
    }

    public func updateConversation(number: Int,
                                   decide: @escaping @Sendable (Conversation) throws -> ConversationDecision) async throws -> Conversation {
        return try await write { [self] db in
            guard let current = try loadForWriting(db, number) else {
                throw DomainError.notFound(ObjectID(.conversation, number).displayID)
            }
            let decision = try decide(current.conversation)
            guard decision.conversation != current.conversation else { return current.conversation }
            let stored = try saveConversation(db, decision.conversation, previous: current.conversation)
            try record(db, decision.events)
            try publish(db, .conversationUpdated, stored, old: current,
                        at: decision.events.last?.at ?? decision.conversation.modifiedDate)
            return decision.conversation
        }
    }

    public func deleteConversation(number: Int, actor: Actor, at: Date,
                                   check: @escaping @Sendable (Conversation) throws -> Void) async throws {
        try await write { [self] db in
            guard let current = try loadForWriting(db, number) else {
                throw DomainError.notFound(ObjectID(.conversation, number).displayID)
            }
            try check(current.conversation)
            try db.run("UPDATE conversations SET deleted = 1, modified_ms = ? WHERE number = ?",
                       [Self.ms(at), .integer(Int64(number))])
            writerConversations.withLock { _ = $0.removeValue(forKey: number) }
            let comments = try db.query("SELECT number FROM timeline_entries WHERE conversation = ?", [.integer(Int64(number))]).compactMap { $0.first?.int }
            uncommitted.withLock { $0.textChanges.append(.removed(conversation: number, comments: comments)) }
            try record(db, [ChangeEvent(object: current.conversation.id, actor: actor, at: at, kind: .deleted)])
            try publish(db, .conversationDeleted, current, at: at)
        }
    }

    public func listConversations(_ query: ConversationQuery) async throws -> Page<Conversation> {
        try await read { [self] db in
            var conditions = ["c.deleted = 0"]
            var binds: [SQLValue] = []
            func anyOf(_ column: String, _ values: [SQLValue]) {
                guard !values.isEmpty else { return }
                conditions.append("\(column) IN (\(SQLiteConnection.placeholders(values.count)))")
                binds += values
            }
            func exists(_ table: String, _ column: String, _ values: [SQLValue]) {
                guard !values.isEmpty else { return }
                let marks = SQLiteConnection.placeholders(values.count)
                conditions.append("EXISTS (SELECT 1 FROM \(table) x WHERE x.conversation = c.number AND x.\(column) IN (\(marks)))")
                binds += values
            }
            anyOf("c.stage", query.stages.map { .text($0.rawValue) })
            if query.stages.isEmpty, !query.excludedStages.isEmpty {
                conditions.append("c.stage NOT IN (\(SQLiteConnection.placeholders(query.excludedStages.count)))")
                binds += query.excludedStages.map { .text($0.rawValue) }
            }
            anyOf("c.rev_org", query.revOrgs.map { .integer(Int64($0)) })
            anyOf("c.grp", query.groups.map { .integer(Int64($0)) })
            let plan = try listPlan(for: query, db)
            if let held = plan.driver?.indexCondition { conditions.append("c.\(held)") }
            anyOf("c.source_channel", query.sourceChannels.map { .text($0) })
            anyOf("c.priority", query.priorities.map { .integer(Int64($0.rank)) })
            if query.unassigned {
                conditions.append("c.unassigned = 1")
            }
            // A side-table filter the plan drives from: its few conversations are found through the table's
            // key, then sorted; the others are checked conversation by conversation.
            for filter in ListPlan.Driver.sideTables {
                let values = filter.values(of: query)
                guard !values.isEmpty else { continue }
                if plan.driver == filter {
                    conditions.append("c.number IN (SELECT conversation FROM \(filter.table) WHERE \(filter.column) IN (\(SQLiteConnection.placeholders(values.count))))")
                    binds += values
                } else {
                    exists(filter.table, filter.column, values)
                }
            }
            if let isSpam = query.isSpam {
                // A literal: the partial index of spam (schema 14) is usable only for `is_spam = 1` itself.
                conditions.append(isSpam ? "c.is_spam = 1" : "c.is_spam = 0")
            }
            if let text = query.text, !text.isEmpty {
                // No word to search for matches nothing rather than everything.
                let notes = query.searchesNotes ? "" : " AND is_note = 0"
                // Bounded: the newest matching comments and titles (rowids grow with time; titles are -number),
                // so a common word costs what a rare one does instead of collecting every match.
                conditions.append("""
                    c.number IN (SELECT conversation FROM (SELECT conversation FROM conversation_text
                                     WHERE conversation_text MATCH ? AND rowid > 0\(notes) ORDER BY rowid DESC LIMIT \(FullTextQuery.commentLimit))
                                 UNION ALL
                                 SELECT conversation FROM (SELECT conversation FROM conversation_text
                                     WHERE conversation_text MATCH ? AND rowid < 0 ORDER BY rowid LIMIT \(FullTextQuery.titleLimit)))
                    """)
                let expression = FullTextQuery.expression(text) ?? "\"\""
                binds += [.text(expression), .text(expression)]
            }
            appendRange(query.created, column: "c.created_ms", to: &conditions, &binds)
            appendRange(query.modified, column: "c.modified_ms", to: &conditions, &binds)
            let columns: [Keyset.Column]
            switch query.sort {
            case .createdDate(let descending):
                columns = [.init(expression: "c.created_ms", descending: descending), .init(expression: "c.number", descending: descending)]
            case .modifiedDate(let descending):
                columns = [.init(expression: "c.modified_ms", descending: descending), .init(expression: "c.number", descending: descending)]
            case .priority(let descending):
                columns = [.init(expression: "c.priority", descending: descending),
                           .init(expression: "COALESCE(c.waiting_ms, 9007199254740991)", descending: descending),
                           .init(expression: "c.number", descending: descending)]
            }
            let keyset = Keyset(columns: columns)
            let select = "SELECT c.doc, " + columns.map(\.expression).joined(separator: ", ") + " FROM conversations c" + plan.indexClause
            // The keyset's last column is the conversation's number.
            return try db.page(select: select, conditions: conditions, binds: binds, keyset: keyset, page: query.page) { row in
                try decodeDocument(Conversation.self, kind: ObjectKind.conversation.rawValue, number: row.last?.int ?? 0, row[0])
            }
        }
    }

    /// How a list finds its page, where SQLite would pick a worse plan by itself (it has no statistics, and the
    /// best plan depends on how common the stages and owners asked for are, which the store knows).
    private struct ListPlan {
        /// The filter whose conversations are found first (through its table, or its index) and then sorted,
        /// rather than reading the sort order and checking each conversation against it.
        var driver: Driver?
        /// `INDEXED BY …` (read this index in its order), `NOT INDEXED` (rowid lookups only) or nothing.
        var indexClause = ""

        enum Driver: CaseIterable {
            case owners, tags, members, groups, channels, spam, created, modified

            /// The filters kept in side tables keyed (value, conversation).
            static let sideTables: [Driver] = [.owners, .tags, .members]

            var table: String {
                switch self {
                case .owners: "conversation_owners"
                case .tags: "conversation_tags"
                case .members: "conversation_members"
                case .groups, .channels, .spam, .created, .modified: "conversations"
                }
            }

            var column: String {
                switch self {
                case .owners: "owner"
                case .tags: "tag"
                case .members: "member"
                case .groups: "grp"
                case .channels: "source_channel"
                case .spam: "is_spam"
                case .created: "created_ms"
                case .modified: "modified_ms"
                }
            }

            /// The index of the conversations table that finds this filter's conversations (the side tables
            /// are found through their own keys).
            var index: String? {
                switch self {
                case .owners, .tags, .members: nil
                case .groups: "conversations_by_group"
                case .channels: "conversations_by_channel"
                case .spam: "conversations_spam"
                case .created: "conversations_by_created"
                case .modified: "conversations_by_modified"
                }
            }

            /// The values asked for, in the order the conditions below bind them; empty when the query does
            /// not filter on this (or asks for what is not worth finding first: not spam).
            func values(of query: ConversationQuery) -> [SQLValue] {
                switch self {
                case .owners: query.ownedBy.map { .integer(Int64($0)) }
                case .tags: query.tags.map { .integer(Int64($0)) }
                case .members: query.members.map { .text($0.description) }
                case .groups: query.groups.map { .integer(Int64($0)) }
                case .channels: query.sourceChannels.map { .text($0) }
                case .spam: query.isSpam == true ? [.integer(1)] : []
                case .created: Self.bounds(query.created)
                case .modified: Self.bounds(query.modified)
                }
            }

            private static func bounds(_ range: DateRange) -> [SQLValue] {
                guard range != DateRange() else { return [] }
                return [range.after.map(SQLiteStore.ms) ?? .integer(Int64.min), range.before.map(SQLiteStore.ms) ?? .integer(Int64.max)]
            }

            /// What the driver's partial index holds besides `deleted = 0`, which a query read through it must
            /// say literally (SQLite does not infer it from `grp IN (?)`, nor from a bound `is_spam = ?`).
            var indexCondition: String? {
                switch self {
                case .groups: "grp IS NOT NULL"
                case .spam: "is_spam = 1"
                case .owners, .tags, .members, .channels, .created, .modified: nil
                }
            }

            /// Counts the conversations this filter matches, up to `bound` (a count at the bound means "many").
            func count(of values: [SQLValue], upTo bound: Int, _ db: SQLiteConnection) throws -> Int {
                let marks = SQLiteConnection.placeholders(values.count)
                var source: String
                var binds = values
                switch self {
                case .owners, .tags, .members:
                    source = "\(table) WHERE \(column) IN (\(marks))"
                case .created, .modified:
                    source = "conversations INDEXED BY \(index ?? "") WHERE \(column) BETWEEN ? AND ?"
                case .groups, .channels, .spam:
                    source = "conversations INDEXED BY \(index ?? "") WHERE deleted = 0"
                    if let held = indexCondition { source += " AND \(held)" }
                    if self == .spam { binds = [] } else { source += " AND \(column) IN (\(marks))" }
                }
                return try db.scalar("SELECT count(*) FROM (SELECT 1 FROM \(source) LIMIT \(bound))", binds).int ?? 0
            }
        }
    }

    /// Given a stage filter, SQLite reads the stage's entries and sorts them all: right for a rare stage, but
    /// for a common one (resolved is half of everything) that is hundreds of thousands of rows for a page of
    /// 50 at 1M conversations. When the stages asked for hold at least `orderScanShare` of the conversations
    /// (the stage counters say exactly), reading the sort order's index and skipping other stages finds a
    /// page within about limit / share rows. An owner filter is checked row by row along that order, which
    /// reads far for an agent who owns few conversations (4,000 of 1M: 1.2 s), and so do a rare tag, a
    /// customer's own conversations (every list a customer makes, and the widget's) and a group: when a
    /// filter's conversations are fewer than the rows the order would read, they are found through the
    /// filter's table or index and sorted instead. Reading along the order finds a page after about
    /// (limit + 1) · total / (matches · stage share) rows, so finding them first wins while matches² <
    /// (limit + 1) · total / stage share: a filter is counted only up to that bound (about 7,000 at 1M).
    /// Unassigned conversations have an index of their own (schema 11). Not for searches (a bounded set of
    /// matches, best sorted) nor filters with an index of their own (org, date ranges).
    private func listPlan(for query: ConversationQuery, _ db: SQLiteConnection) throws -> ListPlan {
        guard query.text == nil, query.revOrgs.isEmpty else { return ListPlan() }
        // A date range on the sort's own column: that index gives both.
        switch query.sort {
        case .createdDate where query.created != DateRange(), .modifiedDate where query.modified != DateRange(): return ListPlan()
        default: break
        }
        if query.unassigned {
            // Their own index, in priority order. Other orders sort them when they are few (counted up to a
            // bound), and read the order's index when they are many.
            if case .priority = query.sort { return ListPlan(indexClause: " INDEXED BY conversations_unassigned") }
            let unassigned = try db.scalar("""
                SELECT count(*) FROM (SELECT 1 FROM conversations INDEXED BY conversations_unassigned
                                      WHERE deleted = 0 AND unassigned = 1 LIMIT \(Self.lookupLimit))
                """).int ?? 0
            return unassigned < Self.lookupLimit ? ListPlan(indexClause: " INDEXED BY conversations_unassigned") : ListPlan()
        }
        // The index that gives the list's order where the stage filter's own does not.
        let orderIndex: String?
        switch query.sort {
        case .priority:
            // One stage: its own index is already in this order.
            orderIndex = query.stages.count == 1 ? nil : "conversations_by_priority_waiting"
        case .createdDate:
            orderIndex = query.stages.isEmpty && query.excludedStages.isEmpty ? nil : "conversations_by_created"
        case .modifiedDate:
            orderIndex = query.stages.isEmpty && query.excludedStages.isEmpty ? nil : "conversations_by_modified"
        }
        let filters = ListPlan.Driver.allCases.compactMap { filter -> (ListPlan.Driver, [SQLValue])? in
            let values = filter.values(of: query)
            return values.isEmpty ? nil : (filter, values)
        }
        // Nothing to choose (the inbox's first page): no reads.
        guard orderIndex != nil || !filters.isEmpty else { return ListPlan() }
        let counts = try Self.stageCounts(db)
        let total = counts.values.reduce(0, +)
        guard total > 0 else { return ListPlan() }
        let asked: Int
        if !query.stages.isEmpty {
            asked = Set(query.stages).reduce(0) { $0 + (counts[$1] ?? 0) }
        } else {
            asked = total - Set(query.excludedStages).reduce(0) { $0 + (counts[$1] ?? 0) }
        }
        if !filters.isEmpty {
            // Past this many matches, finding them first costs more than the rows along the order it saves.
            let stageShare = max(Double(asked) / Double(total), 1e-9)
            let worthIt = (Double(query.page.limit + 1) * Double(total) / stageShare).squareRoot()
            let bound = Int(min(Double(Self.lookupLimit), Double(asked), worthIt.rounded(.up)))
            var best: (filter: ListPlan.Driver, matches: Int)?
            for (filter, values) in filters {
                let matches = try filter.count(of: values, upTo: bound, db)
                if matches < bound, matches < best?.matches ?? bound { best = (filter, matches) }
            }
            if let best {
                return ListPlan(driver: best.filter, indexClause: best.filter.index.map { " INDEXED BY \($0)" } ?? " NOT INDEXED")
            }
        }
        guard let orderIndex, Double(asked) >= Self.orderScanShare * Double(total) else { return ListPlan() }
        return ListPlan(indexClause: " INDEXED BY \(orderIndex)")
    }

    /// See `listPlan`: at 2%, a page of 50 is found within about 2,500 rows read in order.
    static let orderScanShare = 0.02
    /// See `listPlan`: filters matching more conversations than this, or more unassigned ones, are checked
    /// along the order.
    static let lookupLimit = 20_000

    // MARK: Timeline

    public func addComment(to conversation: Int, draft: CommentDraft, externalRef: String?,
                           plan: @escaping @Sendable (Conversation) throws -> CommentPlan) async throws -> (TimelineEntry, Conversation) {
        return try await write { [self] db in
            guard let currentStored = try loadForWriting(db, conversation) else {
                throw DomainError.notFound(ObjectID(.conversation, conversation).displayID)
            }
            let current = currentStored.conversation
            if let externalRef {
                let existing = try db.scalar("SELECT number FROM timeline_entries WHERE conversation = ? AND external_ref = ?",
                                             [.integer(Int64(conversation)), .text(externalRef)])
                if let number = existing.int {
                    throw DomainError.conflict(
                        "timeline entry \(ObjectID(.comment, number, parent: conversation).don) already has external_ref '\(externalRef)'")
                }
            }
            let target: Conversation
            let stored: StoredConversation
            switch try plan(current) {
            case .append(let decision):
                target = decision.conversation
                stored = try saveConversation(db, target, previous: current)
                try record(db, decision.events)
            case .followUp(let makeFollowUp):
                let followUp = makeFollowUp(try nextNumber(db, .conversation))
                target = followUp.conversation
                stored = try saveConversation(db, target, previous: nil)
                try record(db, followUp.events + [current.recordingFollowUp(target.number, by: draft.author, at: draft.at)])
                let link = Link(number: try nextNumber(db, .link), linkType: .isFollowUpOf, source: target.id,
                                target: current.id, createdBy: draft.author, at: draft.at)
                try insertObject(db, link, actor: draft.author, at: draft.at)
            }
            var entry = draft.entry(number: try nextNumber(db, .comment), conversation: target.number)
            entry.externalRef = externalRef
            let entryJSON = try insertComment(db, entry)
            if target.number != current.number {
                try publish(db, .conversationCreated, stored, at: draft.at)
            } else if target != current {
                try publish(db, .conversationUpdated, stored, old: currentStored, at: draft.at)
            }
            try publish(db, .timelineEntryCreated, stored, entryJSON: entryJSON, at: draft.at)
            return (entry, target)
        }
    }

    private func loadComment(_ db: SQLiteConnection, _ number: Int) throws -> TimelineEntry? {
        let value = try db.scalar("SELECT doc FROM timeline_entries WHERE number = ?", [.integer(Int64(number))])
        if value == .null { return nil }
        return try decode(TimelineEntry.self, value)
    }

    public func timelineEntry(number: Int) async throws -> TimelineEntry? {
        try lookup { [self] db in try loadComment(db, number) }
    }

    public func updateTimelineEntry(number: Int,
                                    change: @escaping @Sendable (TimelineEntry, Conversation) throws -> (TimelineEntry, ChangeEvent)) async throws -> TimelineEntry {
        return try await write { [self] db in
            guard let current = try loadComment(db, number),
                  let conversation = try loadForWriting(db, current.conversation)?.conversation else {
                throw DomainError.notFound(ObjectID(.comment, number).don)
            }
            let (next, event) = try change(current, conversation)
            try db.run("UPDATE timeline_entries SET doc = ? WHERE number = ?", [.text(StoredDocument.json(next)), .integer(Int64(number))])
            uncommitted.withLock { $0.textChanges.append(.comment(next, isNew: false)) }
            try record(db, [event])
            return next
        }
    }

    public func listTimeline(_ query: TimelineQuery) async throws -> Page<TimelineItem> {
        try await read { [self] db in
            var parts: [String] = []
            var binds: [SQLValue] = []
            if query.includeComments {
                var visibilities = query.visibilities.isEmpty ? Visibility.allCases : query.visibilities
                if query.viewer.isCustomer { visibilities.removeAll { $0.isNote } }
                let marks = SQLiteConnection.placeholders(visibilities.count)
                parts.append("""
                    SELECT 1 AS src, number AS n, created_ms AS t, doc FROM timeline_entries
                    WHERE conversation = ? AND visibility IN (\(marks)) AND (visibility != 'private' OR author = ?)
                    """)
                binds.append(.integer(Int64(query.conversation)))
                binds += visibilities.map { .text($0.rawValue) }
                binds.append(.text(query.viewer.description))
            }
            if query.includeEvents, !query.viewer.isCustomer {
                parts.append("SELECT 0 AS src, seq AS n, at_ms AS t, doc FROM events WHERE object = ?")
                binds.append(.text(ObjectID(.conversation, query.conversation).don))
            }
            guard !parts.isEmpty else { return Page(items: [], nextCursor: nil, prevCursor: nil) }
            var conditions: [String] = []
            appendRange(query.created, column: "t", to: &conditions, &binds)
            let keyset = Keyset(columns: [.init(expression: "t", descending: false), .init(expression: "src", descending: false),
                                          .init(expression: "n", descending: false)])
            let select = "SELECT src, doc, n AS seq, t, src, n FROM (" + parts.joined(separator: " UNION ALL ") + ")"
            return try db.page(select: select, conditions: conditions, binds: binds, keyset: keyset, page: query.page) { row in
                if row[0].int == 1 {
                    return .comment(try decodeDocument(TimelineEntry.self, kind: ObjectKind.comment.rawValue, number: row[2].int ?? 0, row[1]))
                }
                return .event(sequence: row[2].int ?? 0, try decodeDocument(ChangeEvent.self, kind: "event", number: row[2].int ?? 0, row[1]))
            }
        }
    }

    public func events(of object: ObjectID) async throws -> [ChangeEvent] {
        try await read { [self] db in
            try db.query("SELECT doc FROM events WHERE object = ? ORDER BY seq", [.text(object.don)]).map {
                try decode(ChangeEvent.self, $0[0])
            }
        }
    }

    // MARK: Deadlines

    public func nextDeadline() async throws -> Date? {
        try await read { db in
            try db.scalar("SELECT MIN(due_ms) FROM deadlines").int.map { Date(timeIntervalSince1970: Double($0) / 1000) }
        }
    }

    public func conversationsDue(by date: Date, limit: Int) async throws -> [(conversation: Int, due: Date)] {
        try await read { db in
            try db.query("SELECT conversation, due_ms FROM deadlines WHERE due_ms <= ? ORDER BY due_ms, conversation LIMIT ?",
                         [Self.ms(date), .integer(Int64(limit))]).map {
                (conversation: $0[0].int ?? 0, due: Date(timeIntervalSince1970: Double($0[1].int ?? 0) / 1000))
            }
        }
    }

    public func setDeadline(conversation: Int, due: Date?) async throws {
        try await write { db in
            if let due {
                try db.run("INSERT OR REPLACE INTO deadlines (conversation, due_ms) VALUES (?, ?)",
                           [.integer(Int64(conversation)), Self.ms(due)])
            } else {
                try db.run("DELETE FROM deadlines WHERE conversation = ?", [.integer(Int64(conversation))])
            }
        }
    }

    // MARK: Tokens and settings

    public func saveToken(hash: String, token: StoredToken) async throws {
        try await write { [self] db in
            try db.run("INSERT INTO tokens (hash, subject, doc) VALUES (?, ?, ?)",
                       [.text(hash), .text(token.subject.description), try json(token)])
            try record(db, [ChangeEvent(object: token.subject.objectID, actor: .system, at: token.createdDate,
                                        kind: .tokenIssued, field: token.kind.rawValue, after: .text(token.subject.description))])
        }
    }

    public func token(hash: String) async throws -> StoredToken? {
        try lookup { [self] db in
            let value = try db.scalar("SELECT doc FROM tokens WHERE hash = ?", [.text(hash)])
            // Every request reads its token: decode it again only when its stored JSON changed (revoked).
            return value == .null ? nil : try decodeDocument(StoredToken.self, kind: "token \(hash)", number: 0, value)
        }
    }

    public func revokeTokens(of subject: Actor) async throws {
        try await write { [self] db in
            for row in try db.query("SELECT hash, doc FROM tokens WHERE subject = ?", [.text(subject.description)]) {
                var token = try decode(StoredToken.self, row[1])
                token.revoked = true
                try db.run("UPDATE tokens SET doc = ? WHERE hash = ?", [try json(token), row[0]])
            }
        }
    }

    private func configuration(_ row: [SQLValue], kind: String) throws -> StoredConfiguration {
        guard let actorText = row[2].string, let id = ObjectID.parse(actorText), let actor = Actor(id) else {
            throw StoreError(code: 0, message: "bad configuration actor")
        }
        return StoredConfiguration(kind: kind, version: row[0].int ?? 0, document: row[1].string ?? "", actor: actor,
                                   createdDate: Date(timeIntervalSince1970: Double(row[3].int ?? 0) / 1000))
    }

    public func saveConfiguration(kind: String, document: String, actor: Actor, at: Date) async throws -> StoredConfiguration {
        try await write { [self] db in
            let version = (try db.scalar("SELECT COALESCE(MAX(version), 0) FROM configurations WHERE kind = ?", [.text(kind)]).int ?? 0) + 1
            try db.run("INSERT INTO configurations (kind, version, doc, actor, created_ms) VALUES (?, ?, ?, ?, ?)",
                       [.text(kind), .integer(Int64(version)), .text(document), .text(actor.description), Self.ms(at)])
            try record(db, [ChangeEvent(object: ObjectID(.sysUser, 1), actor: actor, at: at, kind: .configurationChanged,
                                        field: kind, after: .number(version))])
            return StoredConfiguration(kind: kind, version: version, document: document, actor: actor, createdDate: at)
        }
    }

    public func latestConfiguration(kind: String) async throws -> StoredConfiguration? {
        try lookup { [self] db in
            try db.query("SELECT version, doc, actor, created_ms FROM configurations WHERE kind = ? ORDER BY version DESC LIMIT 1",
                         [.text(kind)]).first.map { try configuration($0, kind: kind) }
        }
    }

    public func latestConfigurationVersion(kind: String) async throws -> Int {
        try lookup { db in
            try db.scalar("SELECT COALESCE(MAX(version), 0) FROM configurations WHERE kind = ?", [.text(kind)]).int ?? 0
        }
    }

    public func configurationHistory(kind: String) async throws -> [StoredConfiguration] {
        try await read { [self] db in
            try db.query("SELECT version, doc, actor, created_ms FROM configurations WHERE kind = ? ORDER BY version DESC",
                         [.text(kind)]).map { try configuration($0, kind: kind) }
        }
    }

    public func revokeToken(hash: String) async throws {
        try await write { [self] db in
            let value = try db.scalar("SELECT doc FROM tokens WHERE hash = ?", [.text(hash)])
            guard value != .null else { return }
            var token = try decode(StoredToken.self, value)
            token.revoked = true
            try db.run("UPDATE tokens SET doc = ? WHERE hash = ?", [try json(token), .text(hash)])
        }
    }

    public func setting(_ name: String) async throws -> String? {
        try lookup { db in try db.scalar("SELECT value FROM settings WHERE name = ?", [.text(name)]).string }
    }

    public func setSetting(_ name: String, value: String) async throws {
        try await write { db in
            try db.run("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", [.text(name), .text(value)])
        }
    }

    // MARK: Inbox and credentials

    public func stageCounts() async throws -> [Stage: Int] {
        try lookup { db in try Self.stageCounts(db) }
    }

    private static func stageCounts(_ db: SQLiteConnection) throws -> [Stage: Int] {
        var counts: [Stage: Int] = [:]
        for row in try db.query("SELECT stage, count FROM stage_counts") {
            if let stage = row[0].string.flatMap(Stage.init(rawValue:)) { counts[stage] = row[1].int ?? 0 }
        }
        return counts
    }

    public func passwordHash(of user: Int) async throws -> String? {
        try lookup { db in
            try db.scalar("SELECT doc FROM credentials WHERE subject = ?", [.text(Actor.devUser(user).description)]).string
        }
    }

    public func setPasswordHash(_ hash: String, of user: Int, at: Date) async throws {
        try await write { [self] db in
            let subject = Actor.devUser(user)
            try db.run("INSERT OR REPLACE INTO credentials (subject, doc, modified_ms) VALUES (?, ?, ?)",
                       [.text(subject.description), .text(hash), Self.ms(at)])
            try record(db, [ChangeEvent(object: subject.objectID, actor: .system, at: at, kind: .passwordSet, field: "password")])
        }
    }
}

/// A use case waiting for the writer.
private struct WriteJob: Sendable {
    /// What running a job left to do once its transaction's fate is known.
    enum Outcome {
        /// It ran: answer with its result if the transaction commits (nil), else with the commit's error.
        case succeeded(@Sendable ((any Error)?) -> Void)
        /// It threw (its savepoint is rolled back): answer with its error.
        case failed(@Sendable () -> Void)
    }

    /// Runs the use case on the writer's connection, inside its savepoint.
    let run: @Sendable (SQLiteConnection) -> Outcome
    /// Answers the caller with `error` without running the use case.
    let reject: @Sendable (any Error) -> Void
    /// Thousands of statements (an import): runs in a transaction of its own.
    var isBulk = false
}

/// The writer's queue: jobs in arrival order, and whether a drain is scheduled or running.
private struct WriteQueue {
    var jobs: [WriteJob] = []
    var draining = false
}

/// What the transaction being written leaves for its end; rolled back with a use case's savepoint, dropped
/// with a transaction that rolls back.
private struct Uncommitted {
    /// Documents stored (conversations and comments, with their JSON): after COMMIT they go into the readers'
    /// `decodedDocuments`, so the next read of a conversation just written finds it decoded (a reply reads
    /// its conversation first).
    var documents: [(DocumentKey, DecodedDocument)] = []
    /// Full-text index changes, applied after the last savepoint and before COMMIT (schema 8): FTS5 flushes
    /// what it holds at every savepoint, so indexing inside each use case's savepoint wrote one index segment
    /// per use case and merged them on later writes.
    var textChanges: [TextIndexChange] = []

    struct Mark {
        var documents: Int
        var textChanges: Int
    }

    /// Where a use case starts.
    var mark: Mark { Mark(documents: documents.count, textChanges: textChanges.count) }

    /// A use case failed: what it added goes.
    mutating func rollBack(to mark: Mark) {
        documents.removeSubrange(mark.documents...)
        textChanges.removeSubrange(mark.textChanges...)
    }
}

/// A change to the full-text index (`conversation_text`: titles at rowid -number, comments at their number).
private enum TextIndexChange: Sendable {
    case title(conversation: Int, title: String, isNew: Bool)
    case comment(TimelineEntry, isNew: Bool)
    /// A deleted conversation leaves the index with its comments: searches read a bounded number of matches,
    /// which rows nobody can see any more would crowd out.
    case removed(conversation: Int, comments: [Int])
}

/// The statements the writer runs around a batch and around each use case in it (`RecordedWrites` splits a
/// recording of the writer at them).
enum BatchStatement {
    static let begin = "BEGIN IMMEDIATE"
    static let commit = "COMMIT"
    static let beginUseCase = "SAVEPOINT write_job"
    static let endUseCase = "RELEASE write_job"
    static let undoUseCase = "ROLLBACK TO write_job"
}

/// A conversation with the JSON it is stored as.
private struct StoredConversation: Sendable {
    var conversation: Conversation
    var json: String
}

private struct DocumentKey: Hashable {
    var kind: String
    var number: Int
}

/// A decoded document and the JSON it was decoded from.
private struct DecodedDocument: Sendable {
    var json: String
    var value: any Sendable
}
