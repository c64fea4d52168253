import Foundation
import ParleySQLite

/// The physical limit the store's durable writes are measured against: a bare loop of SQLite inserts with
/// the store's durability (WAL, `synchronous=FULL`), committed in batches, with none of the store's work
/// (no JSON, no events, no domain).
public enum BareSQLiteBenchmark {
    public struct Result: Sendable {
        public var batch: Int
        public var rows: Int
        public var seconds: Double
        public var rowsPerSecond: Double { Double(rows) / seconds }
        public var commitsPerSecond: Double { Double(rows) / Double(batch) / seconds }
    }

    /// Inserts `rows` rows of `bytes` bytes of text (one indexed column besides) into a fresh file at `path`,
    /// `batch` rows per transaction, and times it. The file is left for the caller to delete.
    public static func run(path: String, rows: Int, batch: Int, bytes: Int) throws -> Result {
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        try db.execute("CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, doc TEXT NOT NULL)")
        try db.execute("CREATE INDEX IF NOT EXISTS bench_by_grp ON bench (grp, id)")
        let document = String(repeating: "x", count: max(1, bytes))
        let clock = ContinuousClock()
        let started = clock.now
        var written = 0
        while written < rows {
            let count = min(batch, rows - written)
            try db.execute("BEGIN IMMEDIATE")
            for index in 0..<count {
                try db.run("INSERT INTO bench (grp, doc) VALUES (?, ?)", [.integer(Int64((written + index) % 97)), .text(document)])
            }
            try db.execute("COMMIT")
            written += count
        }
        let elapsed = started.duration(to: clock.now)
        return Result(batch: batch, rows: rows,
                      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

extension BareSQLiteBenchmark {
    public struct ReplayResult: Sendable {
        public var batch: Int
        public var useCases: Int
        public var seconds: Double
        public var useCasesPerSecond: Double { Double(useCases) / seconds }
    }

    /// Replays `writes` on the database at `path`, which must be as the recording's store was when the
    /// recording started (a store created afresh, then closed, for a recording started on a fresh store):
    /// the same statements with the same values on one connection with the store's durability (WAL,
    /// `synchronous=FULL`), `batch` use cases per transaction, with none of the store's work around them
    /// (no domain, no JSON, no savepoints, no threads). It is what the store's writes cost SQLite alone.
    public static func replay(_ writes: RecordedWrites, path: String, batch: Int) throws -> ReplayResult {
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        try db.execute(SQLiteStore.smallJobsTempStore)
        let clock = ContinuousClock()
        let started = clock.now
        var next = 0
        while next < writes.useCases.count {
            let end = min(next + max(batch, 1), writes.useCases.count)
            try db.run(BatchStatement.begin)
            for useCase in writes.useCases[next..<end] {
                for statement in useCase { try db.run(statement.sql, statement.values) }
            }
            try db.run(BatchStatement.commit)
            next = end
        }
        let elapsed = started.duration(to: clock.now)
        return ReplayResult(batch: batch, useCases: writes.useCases.count,
                            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
