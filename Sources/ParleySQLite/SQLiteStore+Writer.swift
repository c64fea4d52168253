import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

extension SQLiteStore {
    // MARK: Running work

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
    package static let smallJobsTempStore = "PRAGMA temp_store=MEMORY"
    static let bulkJobsTempStore = "PRAGMA temp_store=DEFAULT"

    /// Sets (or, with nil, removes) the log that every statement the writer runs is appended to, with its
    /// values. Only benchmarks use it (`RecordedWrites` in ParleyBenchmarks); the returned log is the one
    /// that was set before.
    @discardableResult
    package func logWriterStatements(to log: StatementLog?) -> StatementLog? {
        writer.withLock { connection in
            defer { connection?.statementLog = log }
            return connection?.statementLog
        }
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
    func enqueue(_ job: WriteJob) {
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
    func rejectQueuedWrites(_ error: any Error) {
        let jobs = writeQueue.withLock { queue in
            defer { queue.jobs.removeAll(); queue.draining = false }
            return queue.jobs
        }
        for job in jobs { job.reject(error) }
    }

    /// On the writer thread: commits batches of queued jobs until none is left.
    func drainWrites() {
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
    func commitBatch(_ jobs: [WriteJob], on db: SQLiteConnection) {
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
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
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
    func lookup<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        if closed.withLock({ $0 }) { throw StoreError(code: 0, message: "store is closed") }
        let connection = try readers.withLock { $0.popLast() } ?? SQLiteConnection(path: path, readOnly: true)
        defer { readers.withLock { $0.append(connection) } }
        try connection.run("BEGIN")
        defer { _ = try? connection.run("COMMIT") }
        return try body(connection)
    }

}
